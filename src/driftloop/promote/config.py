"""The ``promote`` config group as frozen dataclasses.

Every gate threshold lives here, named, so that no number in the gate logic is
magic. :meth:`PromoteConfig.from_dict` validates the mapping composed from
``conf/promote/<option>.yaml`` and raises :class:`~driftloop.errors.ConfigError`
naming the offending key, the expectation and the value given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from driftloop.errors import ConfigError
from driftloop.registry_config import RENAMED as REGISTRY_RENAMED
from driftloop.validation import Key, check, check_keys, check_value, mapping_of, refuse_renamed

OnReject = Literal["skip", "register_without_alias"]
ON_REJECT: tuple[str, ...] = ("skip", "register_without_alias")


# -- the one kind of rule -------------------------------------------------------------------------

RULE_KINDS: tuple[str, ...] = ("threshold", "min_gain", "max_regression")
CheckMode = Literal["enforce", "advisory", "off"]
CHECK_MODES: tuple[str, ...] = ("enforce", "advisory", "off")

#: Keys of earlier versions, each with the key that replaced it (an old params.yaml is named, not ignored).
RENAMED: dict[str, str] = {
    "promote.primary": "promote.rules: [{metric: <name>, min_gain: <margin>, significant: true}]",
    "promote.support": "promote.rules[].significant (the paired interval at compare.confidence)",
    "promote.guards": "promote.rules: [{metric: 'recall_*', max_regression: <tolerance>}]",
    "promote.floors": "promote.rules: [{metric: <name>, threshold: <value>}]",
    "promote.resolution.label_max_tvd": "promote.resolution.output_labels.max_tvd",
    "promote.resolution.label_alpha": "promote.resolution.output_labels.alpha",
    "promote.resolution.validation_tolerance": "promote.resolution.validation_gap.max_relative_drop "
    "(the gap is now judged against its standard error)",
    "promote.resolution.validation_mode": "promote.resolution.validation_gap (only a fall counts)",
    **REGISTRY_RENAMED,  # promote.model_name / alias / previous_alias: the registry group's now
}


# -- the tables: kind, range, default and meaning of every key ----------------------------------

_MODE = Key("choice", "enforce", choices=CHECK_MODES, doc="enforce | advisory (recorded, never blocks) | off")
_REASON = Key("str", None, nullable=True, doc="why the mode is not enforce (recorded)")

RULE: dict[str, Key] = {
    "metric": Key("str", doc="a compare.json metric key or a glob (recall_*)"),
    "threshold": Key("number", None, nullable=True, doc="the challenger's value is at least this"),
    "min_gain": Key("number", None, low=0.0, nullable=True, doc="the gain over the champion is at least this"),
    "max_regression": Key("number", None, low=0.0, nullable=True, doc="the loss against the champion is at most this"),
    "relative": Key("bool", False, doc="min_gain / max_regression as a fraction of the champion's value"),
    "greater_is_better": Key("bool", None, nullable=True, doc="null: the direction compare.json records"),
    "significant": Key(
        "bool", None, nullable=True, doc="min_gain: the paired interval must clear it too (null: true for min_gain)"
    ),
    "mode": _MODE,
    "reason": _REASON,
}


def _check_table(**keys: Key) -> dict[str, Key]:
    """A drift-resolution check's table: its mode and reason, then its own keys."""
    return {"mode": _MODE, "reason": _REASON, **keys}


def _share(default: float, doc: str, *, low_open: bool = False) -> Key:
    """A fraction in [0, 1) (``low_open``: in (0, 1)): a level or a relative improvement."""
    return Key("number", default, low=0.0, high=1.0, low_open=low_open, high_open=True, doc=doc)


TRAINING_DATA: dict[str, Key] = _check_table(
    min_relative_improvement=_share(0.10, "closer: an effect size at least this fraction below the champion's"),
)

OUTPUT_LABELS: dict[str, Key] = _check_table(
    max_tvd=Key("number", 0.10, low=0.0, high=1.0, doc="classification: total variation distance allowed"),
    alpha=_share(0.01, "classification: chi-squared level", low_open=True),
    max_bias=Key("number", 0.25, low=0.0, doc="regression: |mean residual| / sd(label)"),
    max_distance=Key("number", 0.35, low=0.0, doc="regression: W1(predictions, labels) / sd(label)"),
)

VALIDATION_GAP: dict[str, Key] = _check_table(
    alpha=_share(0.05, "one-sided level of the drop against its standard error", low_open=True),
    max_relative_drop=Key("number", 0.10, low=0.0, doc="drop allowed, as a share of the validation value"),
    min_relative_improvement=_share(0.10, "passes when its drop is this much smaller than the champion's"),
)

RESOLUTION: dict[str, Key] = {
    name: Key("mapping", None, nullable=True) for name in ("training_data", "output_labels", "validation_gap")
}

IN_EXPERIMENTS: tuple[str, ...] = ("skip", "register_without_alias", "promote")

TOP: dict[str, Key] = {
    "rules": Key("any", None, doc="the metric rules (at least one enforced min_gain): checked by MetricRule"),
    "resolution": Key("mapping", None, nullable=True, doc="the drift-resolution checks"),
    "on_reject": Key("choice", "skip", choices=ON_REJECT, doc="what happens to a rejected challenger"),
    "in_experiments": Key("choice", "skip", choices=IN_EXPERIMENTS, doc="what dvc exp run may do to the registry"),
    "lock_path": Key("path", ".driftloop/promote.lock", doc="file lock serialising promotions (inside the project)"),
    "lock_timeout_s": Key("number", 60.0, low=0.0, doc="seconds to wait for the lock"),
}

#: Every table of the group, by dotted section: what the tests and docs read.
TABLES: dict[str, dict[str, Key]] = {
    "": TOP,
    "rules[]": RULE,
    "resolution": RESOLUTION,
    "resolution.training_data": TRAINING_DATA,
    "resolution.output_labels": OUTPUT_LABELS,
    "resolution.validation_gap": VALIDATION_GAP,
}


@dataclass(frozen=True)
class MetricRule:
    """One promotion rule on one metric (or every metric matching a glob).

    Exactly one ``kind``, in MLflow's ``MetricThreshold`` terms (inclusive comparisons):

    * ``threshold``: the challenger's value is at least ``value`` (at most, when lower is
      better). Absolute only; the one kind that also applies on the first cycle.
    * ``min_gain``: the gain over the champion (``challenger - champion`` in the better
      direction) is at least ``value``; with ``relative`` the gain is divided by
      ``|champion|`` first (so ``0.05`` means 5 %, for MAE in any unit).
    * ``max_regression``: the loss against the champion is at most ``value`` (same forms).

    Parameters
    ----------
    metric : str
        A compare.json metric key or an :func:`fnmatch` glob (``recall_*``).
    kind : {"threshold", "min_gain", "max_regression"}
    value : float
    relative : bool
    greater_is_better : bool or None
        None: the direction compare.json records for the metric (losses are lower-is-better).
    significant : bool
        ``min_gain`` only: the paired-bootstrap interval of the delta (at ``compare.confidence``)
        must also lie strictly beyond the minimum gain on the improving side (beyond 0 when the
        gain is 0): the gain is at least ``value`` *with confidence*, not only as a point estimate.
    mode : {"enforce", "advisory", "off"}
        ``advisory`` records the rule without letting it block; ``off`` records that it was skipped.
    reason : str or None
        Why the mode is not ``enforce``; recorded in the decision and the MLflow run.
    """

    metric: str
    kind: str
    value: float
    relative: bool = False
    greater_is_better: bool | None = None
    significant: bool = False
    mode: str = _MODE.default
    reason: str | None = _REASON.default

    @property
    def label(self) -> str:
        """The gate name, e.g. ``min_gain.f1_macro``."""
        return f"{self.kind}.{self.metric}"

    @classmethod
    def from_dict(cls, m: Any, where: str) -> MetricRule:
        m = check_keys(m, RULE, where)
        kinds = [k for k in RULE_KINDS if m.get(k) is not None]
        if "metric" not in m or len(kinds) != 1:
            raise ConfigError(f"{where} needs 'metric' and exactly one of {list(RULE_KINDS)}. Got {dict(m)!r}.")
        kind = kinds[0]
        # the chosen kind's value is required (null there means "not this kind")
        value = check_value(m[kind], replace(RULE[kind], nullable=False), f"{where}.{kind}")
        v = check({k: x for k, x in m.items() if k != kind}, RULE, where)
        significant = v["significant"] if v["significant"] is not None else kind == "min_gain"
        if v["relative"] and kind == "threshold":
            raise ConfigError(f"{where}.relative applies to min_gain and max_regression, not to a threshold.")
        if significant and kind != "min_gain":
            raise ConfigError(f"{where}.significant applies to min_gain only. Got it on a {kind} rule.")
        return cls(
            metric=v["metric"],
            kind=kind,
            value=value,
            relative=v["relative"],
            greater_is_better=v["greater_is_better"],
            significant=significant,
            mode=v["mode"],
            reason=v["reason"],
        )


# -- drift resolution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingDataCheck:
    """``drift_resolved.training_data``: on each drifted column, the challenger's training data is
    closer to the holdout than the champion's training data was (or does not drift from it at all).

    Parameters
    ----------
    min_relative_improvement : float
        "Closer" means an effect size at least this fraction smaller than the champion's: a
        stale challenger, trained on the champion's kind of data, is as far from the holdout as the
        champion up to sampling noise, and noise alone must not make it "closer" half the time.
    """

    mode: str = _MODE.default
    reason: str | None = _REASON.default
    min_relative_improvement: float = TRAINING_DATA["min_relative_improvement"].default

    @classmethod
    def from_dict(cls, m: Any, where: str) -> TrainingDataCheck:
        return cls(**check(m, TRAINING_DATA, where))


@dataclass(frozen=True)
class OutputLabelsCheck:
    """``drift_resolved.output_labels``: the challenger's outputs agree with the observed labels,
    or agree better than the champion's.

    Parameters
    ----------
    max_tvd, alpha : float
        Classification: the predicted class shares differ from the observed ones only when the
        total variation distance exceeds ``max_tvd`` and the chi-squared test has p < ``alpha``.
    max_bias : float
        Regression: ``|mean(label - prediction)| / sd(label)`` at most this.
    max_distance : float
        Regression: the 1-Wasserstein distance between the predictions' and the labels'
        distributions, over ``sd(label)``, at most this.
    """

    mode: str = _MODE.default
    reason: str | None = _REASON.default
    max_tvd: float = OUTPUT_LABELS["max_tvd"].default
    alpha: float = OUTPUT_LABELS["alpha"].default
    max_bias: float = OUTPUT_LABELS["max_bias"].default
    max_distance: float = OUTPUT_LABELS["max_distance"].default

    @classmethod
    def from_dict(cls, m: Any, where: str) -> OutputLabelsCheck:
        return cls(**check(m, OUTPUT_LABELS, where))


@dataclass(frozen=True)
class ValidationGapCheck:
    """``drift_resolved.validation_gap``: the challenger's holdout metric is not significantly
    below its own validation metric.

    It fails when the drop (validation minus holdout, in the better direction) is significant
    at ``alpha`` (one-sided, against the drop's bootstrap standard error) *and* larger than
    ``max_relative_drop`` of the validation value: significance alone would fail any model at a
    large holdout, the relative size alone any model at a small one. Judged against the champion,
    it passes anyway when the challenger's relative drop is at least ``min_relative_improvement``
    smaller than the champion's own drop from its validation value to this holdout: on a stream
    that keeps trending, every model does worse on newer rows, and the question is which one
    keeps up. A stale challenger drops as much as the champion and still fails.
    """

    mode: str = _MODE.default
    reason: str | None = _REASON.default
    alpha: float = VALIDATION_GAP["alpha"].default
    max_relative_drop: float = VALIDATION_GAP["max_relative_drop"].default
    min_relative_improvement: float = VALIDATION_GAP["min_relative_improvement"].default

    @classmethod
    def from_dict(cls, m: Any, where: str) -> ValidationGapCheck:
        return cls(**check(m, VALIDATION_GAP, where))


@dataclass(frozen=True)
class ResolutionConfig:
    """The three drift-resolution checks (see :mod:`driftloop.promote.resolution`)."""

    training_data: TrainingDataCheck = field(default_factory=TrainingDataCheck)
    output_labels: OutputLabelsCheck = field(default_factory=OutputLabelsCheck)
    validation_gap: ValidationGapCheck = field(default_factory=ValidationGapCheck)

    @classmethod
    def from_dict(cls, m: Any, where: str = "promote.resolution") -> ResolutionConfig:
        m = mapping_of(m, where)
        refuse_renamed(m, where, RENAMED)
        m = check(m, RESOLUTION, where)
        return cls(
            training_data=TrainingDataCheck.from_dict(m["training_data"], f"{where}.training_data"),
            output_labels=OutputLabelsCheck.from_dict(m["output_labels"], f"{where}.output_labels"),
            validation_gap=ValidationGapCheck.from_dict(m["validation_gap"], f"{where}.validation_gap"),
        )


@dataclass(frozen=True)
class PromoteConfig:
    """The whole ``promote`` group: the only place where "promote or not" is configured.

    Which model and aliases it moves is the ``registry`` group's
    (:class:`driftloop.registry_config.RegistryConfig`).

    Parameters
    ----------
    rules : tuple of MetricRule
        Every metric rule (thresholds, minimum gains, maximum regressions). The metric of the
        first ``min_gain`` rule is the *primary* metric (the one the validation-gap check reads).
    resolution : ResolutionConfig
        The drift-resolution checks.
    in_experiments : {"skip", "register_without_alias", "promote"}
        Under ``dvc exp run`` (trying a model or a setting), the gates are evaluated and
        recorded but by default the registry is not touched (``skip``): an experiment must
        not change what serves unless asked to.
    on_reject : {"skip", "register_without_alias"}
        What happens to a rejected challenger.
    lock_path : str
        File lock serialising promotions and rollbacks (on one host; hosts sharing a registry are
        serialised by the registry-wide lease, :mod:`driftloop.promote.lease`).
    lock_timeout_s : float
        How long to wait for the lock, and then for the lease, before
        :class:`~driftloop.errors.LockError`; also how long a lease lives (at least 30 s).

    Examples
    --------
    >>> cfg = PromoteConfig.from_dict({"rules": [{"metric": "mae", "min_gain": 0.02, "relative": True}]})
    >>> cfg.primary_metric, cfg.rules[0].significant
    ('mae', True)
    """

    rules: tuple[MetricRule, ...] = ()
    resolution: ResolutionConfig = field(default_factory=ResolutionConfig)
    on_reject: OnReject = TOP["on_reject"].default
    in_experiments: str = TOP["in_experiments"].default
    lock_path: str = TOP["lock_path"].default
    lock_timeout_s: float = TOP["lock_timeout_s"].default

    @property
    def primary_metric(self) -> str | None:
        """The metric of the first enforced or advisory ``min_gain`` rule naming one metric (no glob)."""
        return next(
            (
                r.metric
                for r in self.rules
                if r.kind == "min_gain" and r.mode != "off" and not any(ch in r.metric for ch in "*?[")
            ),
            None,
        )

    @classmethod
    def from_dict(cls, mapping: Any) -> PromoteConfig:
        """Build from the composed ``promote`` mapping (a dict or an OmegaConf ``DictConfig``).

        Raises
        ------
        ConfigError
            Naming any unknown key (``promote.<key>``), a key of an earlier version (with the
            key that replaced it) or an ill-typed value.
        """
        mapping = mapping_of(mapping, "promote")
        refuse_renamed(mapping, "promote", RENAMED)
        m = check(mapping, TOP, "promote")
        rules = m["rules"]
        if rules is None or isinstance(rules, (str, Mapping)) or not hasattr(rules, "__iter__"):
            raise ConfigError(
                f"promote.rules must be a list of rules such as "
                f"[{{metric: f1_macro, min_gain: 0.0}}]. Got {rules!r} instead."
            )
        parsed = tuple(MetricRule.from_dict(r, f"promote.rules[{i}]") for i, r in enumerate(rules))
        if not any(r.kind == "min_gain" and r.mode == "enforce" for r in parsed):
            raise ConfigError(
                "promote.rules needs at least one enforced min_gain rule (the evidence that the "
                "challenger beats the champion), e.g. {metric: f1_macro, min_gain: 0.0}. "
                f"Got {[r.label for r in parsed]}."
            )
        return cls(**{**m, "rules": parsed, "resolution": ResolutionConfig.from_dict(m["resolution"])})
