"""Drift configuration: one frozen dataclass per config group, built by ``from_dict``.

The mapping is the ``drift`` group of the composed Hydra config (``conf/drift/default.yaml``).
Every key is optional; an unknown or ill-typed key raises :class:`driftloop.errors.ConfigError`
naming the dotted key, what was expected and what was given. Test names are checked against the
registry at construction so that a typo fails before any data is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

import numpy as np

from driftloop.errors import ConfigError

KINDS = ("numeric", "categorical", "text")
CORRECTIONS = ("bh", "bonferroni", "none")


def _num(value: Any, key: str, lo: float | None = None, hi: float | None = None,
         integer: bool = False, lo_open: bool = False) -> Any:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if integer:
        ok = ok and float(value).is_integer()
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        kind = "an integer" if integer else "a number"
        lo_s = "" if lo is None else (f" > {lo}" if lo_open else f" >= {lo}")
        hi_s = "" if hi is None else f" <= {hi}"
        raise ConfigError(f"drift.{key} must be {kind}{lo_s}{hi_s}. Got {value!r} instead.")
    return int(value) if integer else float(value)


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"drift.{key} must be true or false. Got {value!r} instead.")
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"drift.{key} must be a list of test names. Got {value!r} instead.")
    return tuple(str(v) for v in value)


def _check_keys(mapping: Any, known: set[str], prefix: str) -> Mapping[str, Any]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"drift.{prefix} must be a mapping. Got {mapping!r} instead.")
    unknown = sorted(set(mapping) - known)
    if unknown:
        name = ", ".join(f"drift.{prefix}{'.' if prefix else ''}{k}" for k in unknown)
        raise ConfigError(f"Unknown key(s) {name}; expected some of {sorted(known)}.")
    return mapping


def _thresholds(value: Any, key: str, kind: str) -> dict[str, float]:
    from driftloop.drift.registry import get_test  # late: registry imports the test modules

    value = _check_keys(value, set(value or {}), key)
    out = {}
    for name, thr in value.items():
        get_test(kind, str(name))
        out[str(name)] = _num(thr, f"{key}.{name}", lo=0.0)
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


_KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "numeric": dict(
        tests=("ks", "wasserstein", "psi", "js"), decide_on=("wasserstein", "psi"),
        thresholds={"ks": 0.1, "wasserstein": 0.05, "psi": 0.1, "js": 0.1},
        options=dict(n_bins=10, exact_max_values=20_000, sketch_size=4096)),
    "categorical": dict(
        tests=("chi2", "psi", "js"), decide_on=("js", "psi"),
        thresholds={"chi2": 0.1, "psi": 0.1, "js": 0.1},
        options=dict(max_categories=50, track_max=20_000, list_max=20)),
    "text": dict(
        tests=("token_js", "oov_rate", "length_ks"), decide_on=("token_js", "oov_rate", "length_ks"),
        thresholds={"token_js": 0.1, "oov_rate": 0.02, "length_ks": 0.1},
        options=dict(lowercase=True, ngram_range=(1, 1), token_pattern=r"(?u)\b\w\w+\b",
                     max_vocab=50_000, js_vocab_size=500, top_terms=15)),
}


def _option(kind: str, name: str, value: Any) -> Any:
    key = f"{kind}.{name}"
    if name in ("n_bins", "sketch_size", "max_categories", "js_vocab_size"):
        return _num(value, key, lo=2, integer=True)
    if name in ("exact_max_values", "track_max", "list_max", "max_vocab", "top_terms"):
        return _num(value, key, lo=1, integer=True)
    if name == "lowercase":
        return _bool(value, key)
    if name == "token_pattern":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"drift.{key} must be a non-empty regular expression. Got {value!r} instead.")
        return value
    if name == "ngram_range":
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, int) and v >= 1 for v in value) or value[0] > value[1]):
            raise ConfigError(f"drift.{key} must be [min_n, max_n] with 1 <= min_n <= max_n. Got {value!r} instead.")
        return (int(value[0]), int(value[1]))
    raise ConfigError(f"Unknown key drift.{key}.")  # pragma: no cover - guarded by _check_keys


def _kind_config(kind: str, mapping: Any) -> KindConfig:
    from driftloop.drift.registry import get_test

    d = _KIND_DEFAULTS[kind]
    known = {"tests", "decide_on", "thresholds", *d["options"]}
    m = _check_keys(mapping, known, kind)
    tests = _names(m["tests"], f"{kind}.tests") if "tests" in m else d["tests"]
    decide = _names(m["decide_on"], f"{kind}.decide_on") if "decide_on" in m else d["decide_on"]
    for t in (*tests, *decide):
        get_test(kind, t)
    missing = [t for t in decide if t not in tests]
    if missing:
        raise ConfigError(f"drift.{kind}.decide_on lists {missing} which are not in drift.{kind}.tests {list(tests)}.")
    thr = dict(d["thresholds"])
    thr.update(_thresholds(m.get("thresholds"), f"{kind}.thresholds", kind))
    opts = dict(d["options"])
    for name in d["options"]:
        if name in m:
            opts[name] = _option(kind, name, m[name])
    return KindConfig(kind, tests, decide, thr, opts)


@dataclass(frozen=True)
class ColumnOverride:
    """Per-column settings: forced kind, skip flag, threshold overrides."""

    kind: str | None = None
    skip: bool = False
    thresholds: Mapping[str, float] = field(default_factory=dict)


def _column_override(name: str, value: Any) -> ColumnOverride:
    key = f"columns.{name}"
    if isinstance(value, str):
        value = {"kind": value}
    m = _check_keys(value, {"kind", "skip", "thresholds"}, key)
    kind = m.get("kind")
    skip = _bool(m.get("skip", False), f"{key}.skip")
    if kind == "skip":
        kind, skip = None, True
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"drift.{key}.kind must be one of {list(KINDS) + ['skip']}. Got {kind!r} instead.")
    thr_map = _check_keys(m.get("thresholds"), set(m.get("thresholds") or {}), f"{key}.thresholds")
    thr = {}
    for t, v in thr_map.items():
        if kind is not None:
            from driftloop.drift.registry import get_test

            get_test(kind, str(t))
        thr[str(t)] = _num(v, f"{key}.thresholds.{t}", lo=0.0)
    return ColumnOverride(kind=kind, skip=skip, thresholds=thr)


@dataclass(frozen=True)
class MissingConfig:
    enabled: bool = True
    threshold: float = 0.02


@dataclass(frozen=True)
class MultivariateConfig:
    enabled: bool = True
    max_rows: int = 2000
    test_share: float = 0.5
    ridge: float = 0.1
    max_interactions: int = 20
    n_permutations: int = 1000
    min_auc: float = 0.55
    top_features: int = 10


@dataclass(frozen=True)
class OutputConfig:
    thresholds: Mapping[str, float] = field(
        default_factory=lambda: {"prediction_chi2": 0.1, "confidence_ks": 0.1})


@dataclass(frozen=True)
class ConceptConfig:
    metric: str = "accuracy"
    n_bootstrap: int = 1000
    tolerance: float = 0.02


@dataclass(frozen=True)
class DriftConfig:
    """The whole ``drift`` config group.

    Parameters
    ----------
    alpha : float
        Level of the corrected p-values, in (0, 1).
    correction : {"bh", "bonferroni", "none"}
        Multiple-testing correction across every p-value of one evaluation.
    share_threshold : float
        The dataset drifts when the share of drifted columns is at least this.
    multivariate_decides : bool
        Also call the dataset drifted when the domain classifier flags it.
    chunk_size : int
        Rows per chunk when reading current data from files.
    seed : int
        Seed of every random draw (sampling, permutations, bootstrap).
    numeric, categorical, text : KindConfig
    missing, multivariate, output, concept : sub-configs
    columns : mapping of column name -> ColumnOverride

    Examples
    --------
    >>> cfg = DriftConfig.from_dict({"alpha": 0.01, "numeric": {"thresholds": {"psi": 0.2}}})
    >>> cfg.kind("numeric").threshold("psi")
    0.2
    """

    alpha: float = 0.05
    correction: str = "bh"
    share_threshold: float = 0.3
    multivariate_decides: bool = False
    chunk_size: int = 200_000
    seed: int = 0
    numeric: KindConfig = field(default_factory=lambda: _kind_config("numeric", {}))
    categorical: KindConfig = field(default_factory=lambda: _kind_config("categorical", {}))
    text: KindConfig = field(default_factory=lambda: _kind_config("text", {}))
    missing: MissingConfig = field(default_factory=MissingConfig)
    multivariate: MultivariateConfig = field(default_factory=MultivariateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    concept: ConceptConfig = field(default_factory=ConceptConfig)
    columns: Mapping[str, ColumnOverride] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> "DriftConfig":
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
        if mapping is not None and not isinstance(mapping, Mapping):
            try:  # OmegaConf DictConfig -> plain containers
                from omegaconf import OmegaConf

                mapping = OmegaConf.to_container(mapping, resolve=True)
            except Exception as exc:  # noqa: BLE001 - re-raised as a typed error
                raise ConfigError(f"drift config must be a mapping. Got {type(mapping).__name__}.") from exc
        known = {f.name for f in fields(cls)}
        m = _check_keys(mapping, known, "")
        kw: dict[str, Any] = {}
        if "alpha" in m:
            kw["alpha"] = _num(m["alpha"], "alpha", lo=0.0, hi=1.0, lo_open=True)
            if kw["alpha"] >= 1.0:
                raise ConfigError(f"drift.alpha must be in (0, 1). Got {m['alpha']!r} instead.")
        if "correction" in m:
            if m["correction"] not in CORRECTIONS:
                raise ConfigError(f"drift.correction must be one of {list(CORRECTIONS)}. Got {m['correction']!r} instead.")
            kw["correction"] = m["correction"]
        if "share_threshold" in m:
            kw["share_threshold"] = _num(m["share_threshold"], "share_threshold", lo=0.0, hi=1.0)
        if "multivariate_decides" in m:
            kw["multivariate_decides"] = _bool(m["multivariate_decides"], "multivariate_decides")
        if "chunk_size" in m:
            kw["chunk_size"] = _num(m["chunk_size"], "chunk_size", lo=1, integer=True)
        if "seed" in m:
            kw["seed"] = _num(m["seed"], "seed", lo=0, integer=True)
        for kind in KINDS:
            if kind in m:
                kw[kind] = _kind_config(kind, m[kind])
        if "missing" in m:
            mm = _check_keys(m["missing"], {"enabled", "threshold"}, "missing")
            kw["missing"] = MissingConfig(
                enabled=_bool(mm.get("enabled", True), "missing.enabled"),
                threshold=_num(mm.get("threshold", 0.02), "missing.threshold", lo=0.0, hi=1.0))
        if "multivariate" in m:
            mv = _check_keys(m["multivariate"], {f.name for f in fields(MultivariateConfig)}, "multivariate")
            d = MultivariateConfig()
            kw["multivariate"] = MultivariateConfig(
                enabled=_bool(mv.get("enabled", d.enabled), "multivariate.enabled"),
                max_rows=_num(mv.get("max_rows", d.max_rows), "multivariate.max_rows", lo=20, integer=True),
                test_share=_num(mv.get("test_share", d.test_share), "multivariate.test_share", lo=0.0, hi=0.9,
                                lo_open=True),
                ridge=_num(mv.get("ridge", d.ridge), "multivariate.ridge", lo=0.0, lo_open=True),
                max_interactions=_num(mv.get("max_interactions", d.max_interactions), "multivariate.max_interactions",
                                      lo=0, integer=True),
                n_permutations=_num(mv.get("n_permutations", d.n_permutations), "multivariate.n_permutations", lo=1, integer=True),
                min_auc=_num(mv.get("min_auc", d.min_auc), "multivariate.min_auc", lo=0.5, hi=1.0),
                top_features=_num(mv.get("top_features", d.top_features), "multivariate.top_features", lo=1, integer=True))
        if "output" in m:
            mo = _check_keys(m["output"], {"thresholds"}, "output")
            thr = dict(OutputConfig().thresholds)
            t = _check_keys(mo.get("thresholds"), set(thr), "output.thresholds")
            thr.update({k: _num(v, f"output.thresholds.{k}", lo=0.0) for k, v in t.items()})
            kw["output"] = OutputConfig(thresholds=thr)
        if "concept" in m:
            mc = _check_keys(m["concept"], {"metric", "n_bootstrap", "tolerance"}, "concept")
            metric = mc.get("metric", "accuracy")
            if metric not in ("accuracy", "f1_macro"):
                raise ConfigError(f"drift.concept.metric must be 'accuracy' or 'f1_macro'. Got {metric!r} instead.")
            kw["concept"] = ConceptConfig(
                metric=metric,
                n_bootstrap=_num(mc.get("n_bootstrap", 1000), "concept.n_bootstrap", lo=10, integer=True),
                tolerance=_num(mc.get("tolerance", 0.02), "concept.tolerance", lo=0.0, hi=1.0))
        if "columns" in m:
            cols = _check_keys(m["columns"], set(m["columns"] or {}), "columns")
            kw["columns"] = {str(k): _column_override(str(k), v) for k, v in cols.items()}
        cfg = cls(**kw)
        mv = cfg.multivariate
        if mv.enabled and 1.0 / (mv.n_permutations + 1) >= cfg.alpha:
            # p = (k + 1) / (n + 1) >= 1 / (n + 1): with fewer permutations the classifier could never flag
            need = int(np.floor(1.0 / cfg.alpha))
            raise ConfigError(f"drift.multivariate.n_permutations must be >= {need} for drift.alpha = {cfg.alpha} "
                              f"(the smallest permutation p-value is 1 / (n + 1)). Got {mv.n_permutations} instead.")
        return cfg

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

    def with_overrides(self, **changes: Any) -> "DriftConfig":
        """A copy with top-level fields replaced (validated types are the caller's job)."""
        return replace(self, **changes)
