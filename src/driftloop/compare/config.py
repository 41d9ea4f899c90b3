"""The ``compare`` config group: which metric decides, by how much, and how sure we must be."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from driftloop.compare.bootstrap import SCHEMES
from driftloop.errors import ConfigError

__all__ = ["CompareConfig"]


def _num(m: Mapping[str, Any], key: str, default: Any, kind: type, low: float, high: float | None = None,
         low_inclusive: bool = True) -> Any:
    value = m.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not float(value).is_integer()):
        raise ConfigError(f"compare.{key} must be {'an integer' if kind is int else 'a number'}. "
                          f"Got {value!r} instead.")
    value = kind(value)
    if (value < low if low_inclusive else value <= low) or (high is not None and value >= high):
        raise ConfigError(f"compare.{key} must be {'>=' if low_inclusive else '>'} {low}"
                          + (f" and < {high}" if high is not None else "") + f". Got {value!r} instead.")
    return value


def _bool(m: Mapping[str, Any], key: str, default: bool | None) -> bool | None:
    value = m.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"compare.{key} must be true or false. Got {value!r} instead.")
    return value


@dataclass(frozen=True)
class CompareConfig:
    """The ``compare`` config group.

    Parameters
    ----------
    primary_metric : str or None
        The metric that decides (``f1_macro``, ``accuracy``, ``roc_auc``, ``log_loss``, ...,
        ``rmse``/``mae``/``r2``); ``None`` means ``f1_macro`` for classification and
        ``rmse`` for regression.
    greater_is_better : bool or None
        ``None`` derives the direction from the metric (losses and errors: lower is better).
    margin : float
        Minimum improvement of the primary metric, in its own units, in the better
        direction (inclusive, as MLflow's ``min_absolute_change``).
    n_bootstrap, confidence, seed : int, float, int
        Paired bootstrap resamples, two-sided interval level, seed of its Generator.
    bootstrap : {"poisson", "multinomial"}
        Resample count scheme (see :mod:`driftloop.compare.bootstrap`).
    require_mcnemar : bool
        Also require the exact McNemar test on accuracy to reject at ``alpha`` (and the
        challenger to be the more accurate).
    alpha : float
        Level of the McNemar requirement.
    guards : dict of str to float
        Metric -> largest tolerated regression (in its better direction, point estimate),
        e.g. ``{recall_negative: 0.02}``.
    slices : list of str
        Categorical columns whose levels get per-slice metrics.
    min_slice_rows, max_slice_levels : int
        Levels with fewer rows are skipped; at most this many most frequent levels per column.
    ece_bins : int
        Equal-width confidence bins of the expected calibration error.
    """

    primary_metric: str | None = None
    greater_is_better: bool | None = None
    margin: float = 0.01
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0
    bootstrap: str = "poisson"
    require_mcnemar: bool = False
    alpha: float = 0.05
    guards: dict = field(default_factory=dict)
    slices: tuple = ()
    min_slice_rows: int = 30
    max_slice_levels: int = 20
    ece_bins: int = 10

    KEYS = ("primary_metric", "greater_is_better", "margin", "n_bootstrap", "confidence", "seed", "bootstrap",
            "require_mcnemar", "alpha", "guards", "slices", "min_slice_rows", "max_slice_levels", "ece_bins")

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> "CompareConfig":
        """Build and validate from the ``compare`` config mapping.

        Raises
        ------
        ConfigError
            Naming any unknown or ill-typed key.

        Examples
        --------
        >>> CompareConfig.from_dict({"margin": 0.02}).margin
        0.02
        """
        m = dict(mapping or {})
        unknown = sorted(set(m) - set(cls.KEYS))
        if unknown:
            raise ConfigError(f"compare has unknown key(s) {unknown}; expected some of {list(cls.KEYS)}.")
        d = cls()
        primary = m.get("primary_metric")
        if primary is not None and (not isinstance(primary, str) or not primary):
            raise ConfigError(f"compare.primary_metric must be a metric name. Got {primary!r} instead.")
        scheme = m.get("bootstrap", d.bootstrap)
        if scheme not in SCHEMES:
            raise ConfigError(f"compare.bootstrap must be one of {list(SCHEMES)}. Got {scheme!r} instead.")
        guards = m.get("guards") or {}
        if not isinstance(guards, Mapping):
            raise ConfigError(f"compare.guards must map metric names to tolerances. Got {guards!r} instead.")
        for name, tol in guards.items():
            if isinstance(tol, bool) or not isinstance(tol, (int, float)) or tol < 0:
                raise ConfigError(f"compare.guards.{name} must be a number >= 0. Got {tol!r} instead.")
        slices = m.get("slices") or ()
        if isinstance(slices, str) or not all(isinstance(s, str) for s in slices):
            raise ConfigError(f"compare.slices must be a list of column names. Got {slices!r} instead.")
        return cls(
            primary_metric=primary,
            greater_is_better=_bool(m, "greater_is_better", None),
            margin=_num(m, "margin", d.margin, float, 0.0),
            n_bootstrap=_num(m, "n_bootstrap", d.n_bootstrap, int, 100),
            confidence=_num(m, "confidence", d.confidence, float, 0.5, 1.0, low_inclusive=False),
            seed=_num(m, "seed", d.seed, int, 0),
            bootstrap=scheme,
            require_mcnemar=bool(_bool(m, "require_mcnemar", d.require_mcnemar)),
            alpha=_num(m, "alpha", d.alpha, float, 0.0, 1.0, low_inclusive=False),
            guards={str(k): float(v) for k, v in guards.items()},
            slices=tuple(slices),
            min_slice_rows=_num(m, "min_slice_rows", d.min_slice_rows, int, 1),
            max_slice_levels=_num(m, "max_slice_levels", d.max_slice_levels, int, 1),
            ece_bins=_num(m, "ece_bins", d.ece_bins, int, 2),
        )

    def primary_for(self, task: str) -> str:
        """The primary metric for ``task`` (resolving ``None``)."""
        if self.primary_metric:
            return self.primary_metric
        return "rmse" if task == "regression" else "f1_macro"
