"""Drift configuration: one frozen dataclass per config group, built by ``from_dict``.

The mapping is the ``drift`` group of the composed Hydra config (``conf/drift/default.yaml``).
Every key is optional. Its kind, range and default are written once, in the tables below
(:class:`driftloop.validation.Key`); an unknown or ill-typed key raises
:class:`driftloop.errors.ConfigError` naming the dotted key, what was expected and what was
given. Test names are checked against the registry at construction so that a typo fails before
any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from driftloop.errors import ConfigError
from driftloop.validation import Key, check, check_value, defaults, join, mapping_of

KINDS = ("numeric", "categorical", "text", "id_like")  # id_like: near-unique categorical (see drift.categorical)
CORRECTIONS = ("bh", "bonferroni", "none")

# Keys of an earlier driftloop, refused saying what replaced them (as promote.config.RENAMED does).
RENAMED: dict[str, str] = {
    "drift.share_threshold": "is gone: the dataset drifts when any column drifts (corrected p below its level and "
    "effect past its threshold) or the domain classifier rejects; the share of drifted "
    "columns is reported (dataset.share_drifted), not decided on. To alarm less, raise "
    "drift.<kind>.thresholds or lower drift.alpha; to leave a column out, "
    "drift.columns.<name>: skip",
    "drift.multivariate_decides": "is now drift.multivariate.alpha_share (the share of drift.alpha spent on the domain "
    "classifier, default 0.5; 0 keeps it advisory, as multivariate_decides: false did)",
}

# -- the tables: kind, range, default and meaning of every key ----------------------------------

_SECTION = Key("mapping", None, nullable=True)
_THRESHOLD = Key("number", low=0.0)

TOP: dict[str, Key] = {
    "alpha": Key(
        "number", 0.05, low=0.0, high=1.0, low_open=True, high_open=True, doc="false-alarm rate of the dataset verdict"
    ),
    "correction": Key("choice", "bh", choices=CORRECTIONS, doc="p-value correction across columns"),
    "min_rows": Key("integer", 30, low=1, doc="fewer values on a side: 'too few rows' instead of a verdict"),
    "chunk_size": Key("integer", 200_000, low=1, doc="rows per chunk when reading current data"),
    "seed": Key("integer", 0, low=0, doc="seed of every random draw"),
    **dict.fromkeys((*KINDS, "missing", "multivariate", "output", "concept", "review", "columns"), _SECTION),
}


def _kind_table(
    tests: tuple[str, ...], decide_on: tuple[str, ...], thresholds: dict[str, float], **options: Key
) -> dict[str, Key]:
    return {
        "tests": Key("names", tests, doc="tests run on every column of this kind"),
        "decide_on": Key("names", decide_on, doc="tests whose verdict makes the column drift"),
        "thresholds": Key("mapping", thresholds, nullable=True, doc="effect threshold per test"),
        **options,
    }


KIND_TABLES: dict[str, dict[str, Key]] = {
    "numeric": _kind_table(
        ("ks", "wasserstein", "psi", "js"),
        ("wasserstein", "psi"),
        {"ks": 0.1, "wasserstein": 0.05, "psi": 0.1, "js": 0.1},
        n_bins=Key("integer", 10, low=2, doc="reference-quantile bins (+ 2 overflow bins)"),
        exact_max_values=Key("integer", 20_000, low=1, doc="reference ECDF kept exactly up to this many values"),
        sketch_size=Key("integer", 4096, low=2, doc="quantile-sketch points beyond that"),
    ),
    "categorical": _kind_table(
        ("chi2", "psi", "js", "unseen"),
        ("js", "psi", "unseen"),
        {"chi2": 0.1, "psi": 0.1, "js": 0.1, "unseen": 0.02},
        max_categories=Key("integer", 50, low=2, doc="at most this many own cells"),
        track_max=Key("integer", 20_000, low=1, doc="reference levels kept by name"),
        list_max=Key("integer", 20, low=1, doc="unseen / vanished names listed in the report"),
        min_expected=Key("number", 5.0, low=0.0, low_open=True, doc="expected count of a level's own cell"),
        id_like_unseen=Key(
            "number",
            0.5,
            low=0.0,
            high=1.0,
            low_open=True,
            nullable=True,
            doc="Good-Turing unseen share from which a column is id_like (null: never)",
        ),
    ),
    "id_like": _kind_table(("unseen",), ("unseen",), {"unseen": 0.05}),
    "text": _kind_table(
        ("token_js", "oov_rate", "length_ks"),
        ("token_js", "oov_rate", "length_ks"),
        {"token_js": 0.1, "oov_rate": 0.02, "length_ks": 0.1},
        lowercase=Key("bool", True, doc="lowercase the text before tokenising"),
        ngram_range=Key("int_pair", (1, 1), low=1, doc="[min, max] word n-gram lengths counted as terms"),
        token_pattern=Key("regex", r"(?u)\b\w\w+\b", doc="what a token is (CountVectorizer's token_pattern)"),
        max_vocab=Key("integer", 50_000, low=1, doc="reference vocabulary kept (most frequent terms)"),
        js_vocab_size=Key("integer", 500, low=2, doc="terms compared by token_js"),
        top_terms=Key("integer", 15, low=1, doc="new, rising and falling terms listed per column in the report"),
        doc_sample=Key("integer", 2000, low=2, doc="documents per side for token_js's permutation p-value"),
        # at least 99 so that token_js's exact p-values reach 0.01
        n_permutations=Key("integer", 1000, low=99, doc="token_js: random reassignments of documents"),
    ),
}

MISSING: dict[str, Key] = {
    "enabled": Key("bool", True, doc="run the missing-rate test on every column"),
    "threshold": Key("number", 0.02, low=0.0, high=1.0, doc="absolute change in the missing-value rate"),
}

MULTIVARIATE: dict[str, Key] = {
    "enabled": Key("bool", True, doc="run the domain classifier (reference rows against current rows)"),
    "max_rows": Key("integer", 2000, low=20, doc="rows sampled per side for the domain classifier"),
    "test_share": Key("number", 0.5, low=0.0, high=0.9, low_open=True, doc="held out per side for the AUC"),
    "ridge": Key("number", 0.1, low=0.0, low_open=True, doc="shrinkage of the discriminant"),
    "max_interactions": Key("integer", 20, low=0, doc="features whose pairs get their own weight"),
    "n_permutations": Key("integer", 1000, low=1, doc="permutations of the side labels for the AUC's p-value"),
    "min_auc": Key("number", 0.55, low=0.5, high=1.0, doc="effect threshold on ROC AUC"),
    "top_features": Key("integer", 10, low=1, doc="columns reported by their share of the classifier's score gap"),
    "alpha_share": Key(
        "number",
        0.5,
        low=0,
        high=1,
        high_open=True,
        why="the columns need some of drift.alpha",
        doc="share of alpha for the classifier's permutation p (0: advisory)",
    ),
}

OUTPUT_THRESHOLDS: dict[str, Key] = {
    "prediction_chi2": Key("number", 0.1, low=0.0, doc="Cramer's V of the champion's predicted-class shares"),
    "confidence_ks": Key("number", 0.1, low=0.0, doc="KS D of the champion's top-class probability"),
}
OUTPUT: dict[str, Key] = {"thresholds": Key("mapping", None, nullable=True)}

CONCEPT: dict[str, Key] = {
    "metric": Key("choice", "accuracy", choices=("accuracy", "f1_macro"), doc="metric of the concept-drift check"),
    "n_bootstrap": Key("integer", 1000, low=10, doc="bootstrap resamples of the metric change's 95 % interval"),
    "tolerance": Key("number", 0.02, low=0.0, high=1.0, doc="drop in performance that counts as concept drift"),
}

# The review queue the drift stage writes from the champion's outputs on the current window
# (driftloop.review.review_queue; its control draw uses drift.seed).
REVIEW: dict[str, Key] = {
    "size": Key("integer", 50, low=0, doc="least confident rows queued for review, shared equally by predicted class"),
    "control": Key("integer", 10, low=0, doc="random rows queued beside them, as a control"),
}

COLUMN: dict[str, Key] = {
    "kind": Key("choice", None, choices=(*KINDS, "skip"), nullable=True, doc="force its kind; skip leaves it out"),
    "skip": Key("bool", False, doc="leave the column out of every drift test and the domain classifier"),
    "thresholds": Key("mapping", None, nullable=True, doc="effect thresholds per test, for this column only"),
}

#: Every table of the group, by dotted section (``""`` is the top level): what the tests and docs read.
TABLES: dict[str, dict[str, Key]] = {
    "": TOP,
    **KIND_TABLES,
    "missing": MISSING,
    "multivariate": MULTIVARIATE,
    "output.thresholds": OUTPUT_THRESHOLDS,
    "concept": CONCEPT,
    "review": REVIEW,
}


def _thresholds(value: Any, where: str, kind: str | None) -> dict[str, float]:
    """Per-test effect thresholds: each a number >= 0, each test known to the registry for ``kind``."""
    from driftloop.drift.registry import get_test  # late: registry imports the test modules

    out = {}
    for name, thr in mapping_of(value, where).items():
        if kind is not None:
            get_test(kind, str(name))
        out[str(name)] = check_value(thr, _THRESHOLD, join(where, name))
    return out


@dataclass(frozen=True)
class KindConfig:
    """Tests, decision tests and thresholds for one column kind."""

    kind: str
    tests: tuple[str, ...]
    decide_on: tuple[str, ...]
    thresholds: Mapping[str, float]
    options: Mapping[str, Any] = field(default_factory=dict)

    def threshold(self, test: str) -> float:
        """The effect threshold of ``test`` (0 when none is configured)."""
        return float(self.thresholds.get(test, 0.0))


def _refuse_renamed(mapping: Any) -> None:
    """ConfigError naming the replacement of every key of an earlier driftloop in ``mapping``."""
    old = [f"drift.{k}" for k in (mapping or {}) if f"drift.{k}" in RENAMED]
    if old:
        lines = "; ".join(f"{k} {RENAMED[k]}" for k in old)
        raise ConfigError(
            f"drift has key(s) {old} from an earlier driftloop: {lines}. "
            "Edit conf/ accordingly, then run `driftloop params`."
        )


def _kind_config(kind: str, mapping: Any) -> KindConfig:
    from driftloop.drift.registry import get_test

    where = f"drift.{kind}"
    table = KIND_TABLES[kind]
    m = check(mapping, table, where)
    for t in (*m["tests"], *m["decide_on"]):
        get_test(kind, t)
    missing = [t for t in m["decide_on"] if t not in m["tests"]]
    if missing:
        raise ConfigError(f"{where}.decide_on lists {missing} which are not in {where}.tests {list(m['tests'])}.")
    thr = dict(table["thresholds"].default)
    thr.update(_thresholds(m["thresholds"], f"{where}.thresholds", kind))
    options = {k: m[k] for k in table if k not in ("tests", "decide_on", "thresholds")}
    return KindConfig(kind, m["tests"], m["decide_on"], thr, options)


@dataclass(frozen=True)
class ColumnOverride:
    """Per-column settings: forced kind, skip flag, threshold overrides."""

    kind: str | None = None
    skip: bool = False
    thresholds: Mapping[str, float] = field(default_factory=dict)


def _column_override(name: str, value: Any) -> ColumnOverride:
    where = f"drift.columns.{name}"
    m = check({"kind": value} if isinstance(value, str) else value, COLUMN, where)
    kind, skip = m["kind"], m["skip"]
    if kind == "skip":
        kind, skip = None, True
    return ColumnOverride(kind=kind, skip=skip, thresholds=_thresholds(m["thresholds"], f"{where}.thresholds", kind))


_MV = defaults(MULTIVARIATE)


@dataclass(frozen=True)
class MissingConfig:
    enabled: bool = MISSING["enabled"].default
    threshold: float = MISSING["threshold"].default


@dataclass(frozen=True)
class MultivariateConfig:
    enabled: bool = _MV["enabled"]
    max_rows: int = _MV["max_rows"]
    test_share: float = _MV["test_share"]
    ridge: float = _MV["ridge"]
    max_interactions: int = _MV["max_interactions"]
    n_permutations: int = _MV["n_permutations"]
    min_auc: float = _MV["min_auc"]
    top_features: int = _MV["top_features"]
    alpha_share: float = _MV["alpha_share"]


@dataclass(frozen=True)
class OutputConfig:
    thresholds: Mapping[str, float] = field(default_factory=lambda: defaults(OUTPUT_THRESHOLDS))


@dataclass(frozen=True)
class ConceptConfig:
    metric: str = CONCEPT["metric"].default
    n_bootstrap: int = CONCEPT["n_bootstrap"].default
    tolerance: float = CONCEPT["tolerance"].default


@dataclass(frozen=True)
class ReviewConfig:
    size: int = REVIEW["size"].default
    control: int = REVIEW["control"].default


@dataclass(frozen=True)
class DriftConfig:
    """The whole ``drift`` config group.

    Parameters
    ----------
    alpha : float
        False-alarm rate of the dataset verdict, in (0, 1): the column family is tested at
        ``alpha * (1 - multivariate.alpha_share)`` and the domain classifier at the rest (see
        :func:`driftloop.drift.corrections.split_alpha`).
    correction : {"bh", "bonferroni", "none"}
        Multiple-testing correction across every column p-value of one evaluation.
    min_rows : int
        Fewest values per side a test needs; below it the test reports "too few rows" instead of
        a verdict (the missing-rate test counts rows, the others non-missing values).
    chunk_size : int
        Rows per chunk when reading current data from files.
    seed : int
        Seed of every random draw (sampling, permutations, bootstrap).
    numeric, categorical, text, id_like : KindConfig
    missing, multivariate, output, concept, review : sub-configs
    columns : mapping of column name -> ColumnOverride

    The defaults are those of the tables :data:`TOP`, :data:`KIND_TABLES`, :data:`MISSING`,
    :data:`MULTIVARIATE`, :data:`OUTPUT_THRESHOLDS`, :data:`CONCEPT` and :data:`REVIEW`.

    Examples
    --------
    >>> cfg = DriftConfig.from_dict({"alpha": 0.01, "numeric": {"thresholds": {"psi": 0.2}}})
    >>> cfg.kind("numeric").threshold("psi")
    0.2
    """

    alpha: float = TOP["alpha"].default
    correction: str = TOP["correction"].default
    min_rows: int = TOP["min_rows"].default
    chunk_size: int = TOP["chunk_size"].default
    seed: int = TOP["seed"].default
    numeric: KindConfig = field(default_factory=lambda: _kind_config("numeric", {}))
    categorical: KindConfig = field(default_factory=lambda: _kind_config("categorical", {}))
    id_like: KindConfig = field(default_factory=lambda: _kind_config("id_like", {}))
    text: KindConfig = field(default_factory=lambda: _kind_config("text", {}))
    missing: MissingConfig = field(default_factory=MissingConfig)
    multivariate: MultivariateConfig = field(default_factory=MultivariateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    concept: ConceptConfig = field(default_factory=ConceptConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    columns: Mapping[str, ColumnOverride] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> DriftConfig:
        """Build and validate from the ``drift`` config mapping.

        Parameters
        ----------
        mapping : mapping or None
            Content of ``conf/drift/default.yaml`` (possibly an OmegaConf DictConfig).

        Returns
        -------
        DriftConfig

        Raises
        ------
        ConfigError
            On any unknown key (named with its dotted path) or ill-typed value.
        """
        mapping = mapping_of(mapping, "drift")
        _refuse_renamed(mapping)
        m = check(mapping, TOP, "drift")
        output = check(m["output"], OUTPUT, "drift.output")
        cfg = cls(
            alpha=m["alpha"],
            correction=m["correction"],
            min_rows=m["min_rows"],
            chunk_size=m["chunk_size"],
            seed=m["seed"],
            **{kind: _kind_config(kind, m[kind]) for kind in KINDS},
            missing=MissingConfig(**check(m["missing"], MISSING, "drift.missing")),
            multivariate=MultivariateConfig(**check(m["multivariate"], MULTIVARIATE, "drift.multivariate")),
            output=OutputConfig(thresholds=check(output["thresholds"], OUTPUT_THRESHOLDS, "drift.output.thresholds")),
            concept=ConceptConfig(**check(m["concept"], CONCEPT, "drift.concept")),
            review=ReviewConfig(**check(m["review"], REVIEW, "drift.review")),
            columns={str(k): _column_override(str(k), v) for k, v in mapping_of(m["columns"], "drift.columns").items()},
        )
        mv = cfg.multivariate
        level = cfg.multivariate_level()
        if mv.enabled and 1.0 / (mv.n_permutations + 1) >= level:
            # p = (k + 1) / (n + 1) >= 1 / (n + 1): with fewer permutations the classifier could never flag
            need = int(np.floor(1.0 / level))
            at = (
                f"drift.alpha = {cfg.alpha}"
                if mv.alpha_share == 0
                else f"the classifier's level drift.alpha x drift.multivariate.alpha_share = {level:g}"
            )
            raise ConfigError(
                f"drift.multivariate.n_permutations must be >= {need} for {at} "
                f"(the smallest permutation p-value is 1 / (n + 1)). Got {mv.n_permutations} instead."
            )
        return cfg

    def levels(self, classifier_tests: bool = True) -> Any:
        """The :class:`~driftloop.drift.corrections.Levels` of the column family and the classifier.

        ``classifier_tests`` False (classifier off, or too few rows for it) gives the columns all of alpha.
        """
        from driftloop.drift.corrections import split_alpha

        mv = self.multivariate
        return split_alpha(self.alpha, mv.alpha_share, classifier_tests and mv.enabled and mv.alpha_share > 0)

    def multivariate_level(self) -> float:
        """The level the domain classifier is tested at: its share of alpha, or all of alpha when
        advisory (``alpha_share: 0``: reported at alpha, deciding nothing)."""
        share = self.multivariate.alpha_share
        return self.alpha * share if share > 0 else self.alpha

    def kind(self, kind: str) -> KindConfig:
        """The :class:`KindConfig` of ``kind``."""
        if kind not in KINDS:
            raise ConfigError(f"Column kind must be one of {list(KINDS)}. Got {kind!r} instead.")
        return getattr(self, kind)

    def threshold(self, column: str, kind: str, test: str) -> float:
        """Effect threshold of ``test`` on ``column``: per-column override, else per kind."""
        ov = self.columns.get(column)
        if ov is not None and test in ov.thresholds:
            return float(ov.thresholds[test])
        if test == "missing":
            return self.missing.threshold
        return self.kind(kind).threshold(test)

    def with_overrides(self, **changes: Any) -> DriftConfig:
        """A copy with top-level fields replaced (validated types are the caller's job)."""
        return replace(self, **changes)
