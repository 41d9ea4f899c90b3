"""The ``promote`` config group as frozen dataclasses.

Every gate threshold lives here, named, so that no number in the gate logic is
magic. :meth:`PromoteConfig.from_dict` validates the mapping composed from
``conf/promote/<option>.yaml`` and raises :class:`~driftloop.errors.ConfigError`
naming the offending key, the expectation and the value given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from driftloop.errors import ConfigError

SupportMethod = Literal["ci", "p_value", "ci_or_p_value", "ci_and_p_value", "none"]
SUPPORT_METHODS: tuple[str, ...] = ("ci", "p_value", "ci_or_p_value", "ci_and_p_value", "none")
ValidationGapMode = Literal["abs", "drop"]
VALIDATION_GAP_MODES: tuple[str, ...] = ("abs", "drop")
OnReject = Literal["skip", "register_without_alias"]
ON_REJECT: tuple[str, ...] = ("skip", "register_without_alias")


# -- small validators: each names the full key path so a typo is found at once ------------------


def _check_keys(mapping: Any, known: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where} must be a mapping. Got {type(mapping).__name__} {mapping!r} instead.")
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {[f'{where}.{k}' for k in unknown]}; "
            f"expected some of {sorted(known)}."
        )
    return mapping


def _float(value: Any, key: str, *, low: float | None = None, high: float | None = None,
           low_inclusive: bool = True, high_inclusive: bool = True) -> float:
    # bool is an int subclass; `true` for a threshold is a typo, not 1.0.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise ConfigError(f"{key} must be a number. Got {value!r} instead.")
    v = float(value)
    lo_ok = low is None or (v >= low if low_inclusive else v > low)
    hi_ok = high is None or (v <= high if high_inclusive else v < high)
    if not (lo_ok and hi_ok):
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        bracket = ("[" if low_inclusive else "(") + f"{lo}, {hi}" + ("]" if high_inclusive else ")")
        raise ConfigError(f"{key} must be in {bracket}. Got {value!r} instead.")
    return v


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false. Got {value!r} instead.")
    return value


def _str(value: Any, key: str, *, choices: tuple[str, ...] | None = None, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key} must be a non-empty string. Got {value!r} instead.")
    if choices is not None and value not in choices:
        raise ConfigError(f"{key} must be one of {list(choices)}. Got {value!r} instead.")
    return value


# -- sections -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrimaryConfig:
    """The primary-metric gate.

    Parameters
    ----------
    metric : str or None
        Metric key in ``compare.json``; ``None`` uses the comparison's ``primary_metric``.
    greater_is_better : bool or None
        ``None`` (default) takes the direction compare.json records for the metric
        (so a loss such as rmse or log_loss is lower-is-better), else True.
    min_delta : float
        Margin (>= 0) the challenger must beat the champion by, inclusive, as
        MLflow's ``min_absolute_change`` (which, unlike here, refuses 0).
    """

    metric: str | None = None
    greater_is_better: bool | None = None
    min_delta: float = 0.01

    @classmethod
    def from_dict(cls, m: Any, where: str = "promote.primary") -> "PrimaryConfig":
        m = _check_keys(m, {"metric", "greater_is_better", "min_delta"}, where)
        d = cls()
        return cls(
            metric=_str(m.get("metric", d.metric), f"{where}.metric", allow_none=True),
            greater_is_better=None if m.get("greater_is_better") is None
            else _bool(m["greater_is_better"], f"{where}.greater_is_better"),
            min_delta=_float(m.get("min_delta", d.min_delta), f"{where}.min_delta", low=0.0),
        )


@dataclass(frozen=True)
class SupportConfig:
    """How the primary metric's improvement must be statistically supported.

    Parameters
    ----------
    method : {"ci", "p_value", "ci_or_p_value", "ci_and_p_value", "none"}
        ``ci``: the comparison's interval on ``delta = challenger - champion`` must
        exclude zero on the improving side (``ci_low > 0``; ``ci_high < 0`` when
        lower is better). ``p_value``: ``p_value < alpha``. ``none`` records the gate
        as skipped.
    alpha : float
        Significance level in (0, 1).
    """

    method: SupportMethod = "ci_or_p_value"
    alpha: float = 0.05

    @classmethod
    def from_dict(cls, m: Any, where: str = "promote.support") -> "SupportConfig":
        m = _check_keys(m, {"method", "alpha"}, where)
        d = cls()
        return cls(
            method=_str(m.get("method", d.method), f"{where}.method", choices=SUPPORT_METHODS),
            alpha=_float(m.get("alpha", d.alpha), f"{where}.alpha", low=0.0, high=1.0,
                         low_inclusive=False, high_inclusive=False),
        )


@dataclass(frozen=True)
class GuardRule:
    """A metric (or glob of metrics) that may not regress beyond a tolerance.

    Parameters
    ----------
    pattern : str
        A metric key or an :func:`fnmatch` glob, e.g. ``"recall_*"`` (every class; compare.json keys are ``recall_<class>``).
        A pattern matching no metric of the comparison fails, like a missing metric.
    max_drop : float
        Largest allowed regression (>= 0), inclusive: ``challenger >= champion - max_drop``
        (``challenger <= champion + max_drop`` when lower is better).
    greater_is_better : bool
    """

    pattern: str
    max_drop: float
    greater_is_better: bool = True

    @classmethod
    def from_dict(cls, m: Any, where: str) -> "GuardRule":
        m = _check_keys(m, {"pattern", "max_drop", "greater_is_better"}, where)
        if "pattern" not in m or "max_drop" not in m:
            raise ConfigError(f"{where} needs the keys 'pattern' and 'max_drop'. Got {dict(m)!r}.")
        return cls(
            pattern=_str(m["pattern"], f"{where}.pattern"),
            max_drop=_float(m["max_drop"], f"{where}.max_drop", low=0.0),
            greater_is_better=_bool(m.get("greater_is_better", True), f"{where}.greater_is_better"),
        )


@dataclass(frozen=True)
class FloorRule:
    """An absolute threshold on the challenger's metric (or every metric matching a glob).

    Inclusive as MLflow's ``threshold``: ``value >= threshold`` (``<=`` when lower is better).
    """

    pattern: str
    threshold: float
    greater_is_better: bool = True

    @classmethod
    def from_dict(cls, m: Any, where: str) -> "FloorRule":
        m = _check_keys(m, {"pattern", "threshold", "greater_is_better"}, where)
        if "pattern" not in m or "threshold" not in m:
            raise ConfigError(f"{where} needs the keys 'pattern' and 'threshold'. Got {dict(m)!r}.")
        return cls(
            pattern=_str(m["pattern"], f"{where}.pattern"),
            threshold=_float(m["threshold"], f"{where}.threshold"),
            greater_is_better=_bool(m.get("greater_is_better", True), f"{where}.greater_is_better"),
        )


@dataclass(frozen=True)
class ResolutionConfig:
    """Thresholds of the three drift-resolution checks.

    Parameters
    ----------
    label_max_tvd : float
        Check 2 fails only when the total variation distance between the challenger's
        predicted-class distribution and the observed label distribution on the
        holdout exceeds this (effect size) ...
    label_alpha : float
        ... and the chi-squared contingency test rejects at this level (p < alpha).
    validation_tolerance : float
        Check 3 tolerance between validation and holdout metric, inclusive.
    validation_mode : {"abs", "drop"}
        ``abs``: ``|validation - holdout| <= tol`` (a large gap either way means the
        validation split does not represent the current data). ``drop``: only a fall
        counts (``holdout >= validation - tol`` when greater is better).
    """

    label_max_tvd: float = 0.10
    label_alpha: float = 0.01
    validation_tolerance: float = 0.05
    validation_mode: ValidationGapMode = "drop"

    @classmethod
    def from_dict(cls, m: Any, where: str = "promote.resolution") -> "ResolutionConfig":
        m = _check_keys(m, {"label_max_tvd", "label_alpha", "validation_tolerance", "validation_mode"}, where)
        d = cls()
        return cls(
            label_max_tvd=_float(m.get("label_max_tvd", d.label_max_tvd), f"{where}.label_max_tvd", low=0.0, high=1.0),
            label_alpha=_float(m.get("label_alpha", d.label_alpha), f"{where}.label_alpha", low=0.0, high=1.0,
                               low_inclusive=False, high_inclusive=False),
            validation_tolerance=_float(m.get("validation_tolerance", d.validation_tolerance),
                                        f"{where}.validation_tolerance", low=0.0),
            validation_mode=_str(m.get("validation_mode", d.validation_mode), f"{where}.validation_mode",
                                 choices=VALIDATION_GAP_MODES),
        )


_TOP_KEYS = {
    "model_name", "alias", "previous_alias", "primary", "support", "guards", "floors",
    "resolution", "on_reject", "lock_path", "lock_timeout_s", "in_experiments",
}


@dataclass(frozen=True)
class PromoteConfig:
    """The whole ``promote`` group.

    Parameters
    ----------
    model_name : str
        Registered model name.
    alias, previous_alias : str
        The serving alias and the alias kept on the champion it replaced.
    primary, support, resolution : section configs
    guards, floors : tuple of rules
    in_experiments : {"skip", "register_without_alias", "promote"}
        Under ``dvc exp run`` (trying a model or a setting), the gates are evaluated and
        recorded but by default the registry is not touched (``skip``): an experiment must
        not change what serves unless asked to.
    on_reject : {"skip", "register_without_alias"}
        What happens to a rejected challenger.
    lock_path : str
        File lock serialising promotions and rollbacks (on one host).
    lock_timeout_s : float
        How long to wait for the lock before :class:`~driftloop.errors.LockError`.

    Examples
    --------
    >>> cfg = PromoteConfig.from_dict({"model_name": "m", "floors": [{"pattern": "f1_macro", "threshold": 0.6}]})
    >>> cfg.floors[0].threshold
    0.6
    """

    model_name: str = "driftloop-model"
    alias: str = "champion"
    previous_alias: str = "previous"
    primary: PrimaryConfig = field(default_factory=PrimaryConfig)
    support: SupportConfig = field(default_factory=SupportConfig)
    guards: tuple[GuardRule, ...] = (GuardRule("recall_*", 0.05),)
    floors: tuple[FloorRule, ...] = (FloorRule("f1_macro", 0.6),)
    resolution: ResolutionConfig = field(default_factory=ResolutionConfig)
    on_reject: OnReject = "skip"
    in_experiments: str = "skip"
    lock_path: str = ".driftloop/promote.lock"
    lock_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.alias == self.previous_alias:
            raise ConfigError(
                f"promote.alias and promote.previous_alias must differ. Got {self.alias!r} for both."
            )

    @classmethod
    def from_dict(cls, mapping: Any) -> "PromoteConfig":
        """Build from the composed ``promote`` mapping (a dict or an OmegaConf ``DictConfig``).

        Raises
        ------
        ConfigError
            Naming any unknown key (``promote.<key>``) or ill-typed value.
        """
        if hasattr(mapping, "_metadata") and hasattr(mapping, "keys"):
            # An OmegaConf DictConfig: resolve interpolations into plain containers.
            from omegaconf import OmegaConf

            mapping = OmegaConf.to_container(mapping, resolve=True)
        m = _check_keys(mapping, _TOP_KEYS, "promote")
        d = cls()
        guards = m.get("guards", None)
        floors = m.get("floors", None)
        for key, value in (("guards", guards), ("floors", floors)):
            if value is not None and (isinstance(value, (str, Mapping)) or not hasattr(value, "__iter__")):
                raise ConfigError(f"promote.{key} must be a list of mappings. Got {value!r} instead.")
        return cls(
            model_name=_str(m.get("model_name", d.model_name), "promote.model_name"),
            alias=_str(m.get("alias", d.alias), "promote.alias"),
            previous_alias=_str(m.get("previous_alias", d.previous_alias), "promote.previous_alias"),
            primary=PrimaryConfig.from_dict(m.get("primary") or {}),
            support=SupportConfig.from_dict(m.get("support") or {}),
            guards=d.guards if guards is None else tuple(
                GuardRule.from_dict(g, f"promote.guards[{i}]") for i, g in enumerate(guards)
            ),
            floors=d.floors if floors is None else tuple(
                FloorRule.from_dict(f, f"promote.floors[{i}]") for i, f in enumerate(floors)
            ),
            resolution=ResolutionConfig.from_dict(m.get("resolution") or {}),
            on_reject=_str(m.get("on_reject", d.on_reject), "promote.on_reject", choices=ON_REJECT),
            lock_path=_str(m.get("lock_path", d.lock_path), "promote.lock_path"),
            lock_timeout_s=_float(m.get("lock_timeout_s", d.lock_timeout_s), "promote.lock_timeout_s", low=0.0),
            in_experiments=_str(m.get("in_experiments", d.in_experiments), "promote.in_experiments",
                                choices=("skip", "register_without_alias", "promote")),
        )
