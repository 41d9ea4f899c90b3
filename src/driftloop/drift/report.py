"""The drift report: per-column results, dataset verdict, JSON (drift.json) and MLflow metrics."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from driftloop.drift._codec import jfloat
from driftloop.drift.results import StatResult

_METRIC_BAD = re.compile(r"[^0-9A-Za-z_\-./ ]")


def metric_key(*parts: str) -> str:
    """An MLflow-safe metric key: characters outside ``[0-9A-Za-z_-./ ]`` become ``_``."""
    return ".".join(_METRIC_BAD.sub("_", p) for p in parts)


_PLAIN = frozenset({str, int, bool, type(None)})


def _json_safe(x: Any) -> Any:
    """Recursively replace NaN/inf by None and numpy scalars by Python ones."""
    # exact-type fast paths first: a report has ~20,000 leaves, and isinstance against the
    # typing.Mapping ABC for each of them cost ~25 ms of the drift stage's ~150 ms at 100k rows
    t = type(x)
    if t is float:
        return x if math.isfinite(x) else None
    if t in _PLAIN:
        return x
    if t is dict:
        return {str(k): _json_safe(v) for k, v in x.items()}
    if t is list or t is tuple:
        return [_json_safe(v) for v in x]
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return x
    if hasattr(x, "item") and not isinstance(x, (list, dict)):
        try:
            x = x.item()
        except (ValueError, AttributeError):
            return str(x)
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    return x


@dataclass(frozen=True)
class ColumnResult:
    """Every test on one column and the column's verdict."""

    name: str
    kind: str
    drifted: bool
    missing_rate: tuple[float | None, float | None]
    tests: Mapping[str, StatResult]
    decide_on: tuple[str, ...] = ()
    histogram: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe({
            "kind": self.kind, "drifted": self.drifted,
            "missing_rate": {"reference": self.missing_rate[0], "current": self.missing_rate[1]},
            "decide_on": list(self.decide_on),
            "tests": {n: {"statistic": jfloat(t.statistic), "p_value": jfloat(t.p_value),
                          "p_adjusted": jfloat(t.p_adjusted), "p_source": t.p_source,
                          "threshold": t.threshold, "drifted": t.drifted, "details": dict(t.details)}
                      for n, t in self.tests.items()},
            "notes": list(self.notes), "histogram": dict(self.histogram), **dict(self.extra)})


@dataclass(frozen=True)
class DriftReport:
    """Result of :func:`driftloop.drift.evaluate_drift`.

    Attributes
    ----------
    drifted : bool
        The dataset verdict.
    share_drifted : float
    n_reference, n_current : int
    columns : mapping of column -> ColumnResult
    multivariate, output, concept, performance_estimate : mapping or None
        Optional sections (domain classifier, output drift, concept drift, CBPE).
    settings : mapping
        The decision settings used (alpha, correction, share threshold).
    notes : tuple of str
        Dataset-level notes (e.g. an empty current window).
    """

    drifted: bool
    share_drifted: float
    n_reference: int
    n_current: int
    columns: Mapping[str, ColumnResult]
    multivariate: Mapping[str, Any] | None = None
    output: Mapping[str, Any] | None = None
    concept: Mapping[str, Any] | None = None
    performance_estimate: Mapping[str, Any] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns, in evaluation order."""
        return [c for c, r in self.columns.items() if r.drifted]

    def to_dict(self) -> dict[str, Any]:
        """The drift.json content (JSON-safe: NaN/inf are ``null``)."""
        out: dict[str, Any] = {
            "dataset": {"drifted": self.drifted, "share_drifted": self.share_drifted,
                        "n_drifted": len(self.drifted_columns), "n_columns": len(self.columns),
                        "drifted_columns": self.drifted_columns,
                        "n_reference": self.n_reference, "n_current": self.n_current,
                        "notes": list(self.notes), "settings": dict(self.settings)},
            "columns": {c: r.to_dict() for c, r in self.columns.items()},
        }
        for name in ("multivariate", "output", "concept", "performance_estimate"):
            sec = getattr(self, name)
            if sec is not None:
                out[name] = sec
        return _json_safe(out)

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics with stable keys.

        Keys: ``drift.drifted``, ``drift.share_drifted``, ``drift.n_drifted``, ``drift.n_columns``,
        ``drift.<col>.drifted``, ``drift.<col>.missing_rate``, ``drift.<col>.<test>`` (statistic),
        ``drift.<col>.<test>.p_adjusted``, ``drift.multivariate.auc``, ``drift.output.<test>``,
        ``drift.concept.delta``, ``drift.cbpe.<metric>``. A value that cannot be computed (e.g. a
        statistic of an empty column) is omitted rather than logged as NaN, so the dict is JSON-safe.
        """
        m: dict[str, float] = {
            "drift.drifted": float(self.drifted), "drift.share_drifted": float(self.share_drifted),
            "drift.n_drifted": float(len(self.drifted_columns)), "drift.n_columns": float(len(self.columns)),
        }

        def put(key: str, v: Any) -> None:
            v = jfloat(v) if v is not None and not isinstance(v, bool) else (float(v) if isinstance(v, bool) else None)
            if v is not None:
                m[key] = v

        for c, r in self.columns.items():
            put(metric_key("drift", c, "drifted"), r.drifted)
            put(metric_key("drift", c, "missing_rate"), r.missing_rate[1])
            for n, t in r.tests.items():
                put(metric_key("drift", c, n), t.statistic)
                if t.p_adjusted is not None and t.p_source == n:
                    put(metric_key("drift", c, n, "p_adjusted"), t.p_adjusted)
        if self.multivariate and "auc" in self.multivariate:
            put("drift.multivariate.auc", self.multivariate.get("auc"))
            put("drift.multivariate.drifted", bool(self.multivariate.get("drifted")))
        if self.output:
            for n, t in (self.output.get("tests") or {}).items():
                put(metric_key("drift", "output", n), t.get("statistic"))
        if self.concept and "delta" in self.concept:
            put("drift.concept.delta", self.concept["delta"])
            put("drift.concept.drifted", bool(self.concept.get("drifted")))
        if self.performance_estimate:
            for k, v in (self.performance_estimate.get("current") or {}).items():
                put(metric_key("drift", "cbpe", k), v)
        return m
