"""The drift report: per-column results, dataset verdict, JSON (drift.json) and MLflow metrics."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


UNTESTED = ("too few rows", "no values")  # column statuses whose value tests did not run


@dataclass(frozen=True)
class ColumnResult:
    """Every test on one column and the column's verdict.

    ``status`` says what the verdict rests on: "drift", "no drift", "too few rows" (a side had fewer
    than ``drift.min_rows`` values, so the value tests did not run) or "no values" (a side had none:
    an all-missing column). Only "drift" counts as drifted; the last two are listed apart by the
    report so that an untested column never reads as "no drift". Defaults from ``drifted``.
    """

    name: str
    kind: str
    drifted: bool
    missing_rate: tuple[float | None, float | None]
    tests: Mapping[str, StatResult]
    decide_on: tuple[str, ...] = ()
    histogram: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    status: str = ""

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "drift" if self.drifted else "no drift")

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "kind": self.kind,
                "drifted": self.drifted,
                "status": self.status,
                "missing_rate": {"reference": self.missing_rate[0], "current": self.missing_rate[1]},
                "decide_on": list(self.decide_on),
                "tests": {
                    n: {
                        "statistic": jfloat(t.statistic),
                        "p_value": jfloat(t.p_value),
                        "p_adjusted": jfloat(t.p_adjusted),
                        "p_source": t.p_source,
                        "threshold": t.threshold,
                        "drifted": t.drifted,
                        "details": dict(t.details),
                    }
                    for n, t in self.tests.items()
                },
                "notes": list(self.notes),
                "histogram": dict(self.histogram),
                **dict(self.extra),
            }
        )


@dataclass(frozen=True)
class DriftReport:
    """Result of :func:`driftloop.drift.evaluate_drift`.

    Attributes
    ----------
    drifted : bool
        The dataset verdict: True when any column drifted or the domain classifier rejected at its
        share of alpha (``verdict == "drift"``). What ``train.trigger: on_drift`` reads.
    share_drifted : float
        Share of drifted columns, reported beside the verdict (it decides nothing).
    n_reference, n_current : int
    columns : mapping of column -> ColumnResult
    multivariate, output, concept, performance_estimate : mapping or None
        Optional sections (domain classifier, output drift, concept drift, CBPE).
    settings : mapping
        The decision settings used (alpha, correction, the levels of the columns and the
        classifier, min_rows, the rule in words).
    notes : tuple of str
        Dataset-level notes (e.g. an empty current window).
    skipped, late : mapping or None
        The snapshot's record of incoming rows this cycle does not test (rows, time range,
        reason): newer than the reference but older than current, and dated inside the
        reference but not in it. ``None`` when unknown (a snapshot taken before they were recorded).
    verdict : {"drift", "no drift", "too few rows"}
        The verdict in words; "too few rows" when no column could be tested for size (``drifted`` is
        then False, but nothing was shown to be unchanged). Defaults from ``drifted``.
    reasons : tuple of str
        What made the dataset drift: each drifted column's strongest test, then the classifier.
    reviewed_labels : mapping or None
        Labels people returned (:func:`driftloop.review.reviewed_section`): per class the champion
        predicted, how many reviewed rows and how many of them reviewers relabelled, the rate and
        its Wilson 95 % interval, and the problems of the returned files. ``None`` when no
        reviewed label exists (or no champion scored them).
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
    skipped: Mapping[str, Any] | None = None
    late: Mapping[str, Any] | None = None
    verdict: str = ""
    reasons: tuple[str, ...] = ()
    reviewed_labels: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.verdict:
            object.__setattr__(self, "verdict", "drift" if self.drifted else "no drift")

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns, in evaluation order."""
        return [c for c, r in self.columns.items() if r.drifted]

    @property
    def untested_columns(self) -> dict[str, str]:
        """Columns whose value tests did not run, with why ("too few rows" or "no values")."""
        return {c: r.status for c, r in self.columns.items() if r.status in UNTESTED}

    def to_dict(self) -> dict[str, Any]:
        """The drift.json content (JSON-safe: NaN/inf are ``null``)."""
        out: dict[str, Any] = {
            "dataset": {
                "drifted": self.drifted,
                "verdict": self.verdict,
                "reasons": list(self.reasons),
                "share_drifted": self.share_drifted,
                "n_drifted": len(self.drifted_columns),
                "n_columns": len(self.columns),
                "drifted_columns": self.drifted_columns,
                "untested_columns": self.untested_columns,
                "n_reference": self.n_reference,
                "n_current": self.n_current,
                "notes": list(self.notes),
                "settings": dict(self.settings),
            },
            "columns": {c: r.to_dict() for c, r in self.columns.items()},
        }
        for name in ("multivariate", "output", "concept", "performance_estimate", "skipped", "late", "reviewed_labels"):
            sec = getattr(self, name)
            if sec is not None:
                out[name] = sec
        return _json_safe(out)

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics with stable keys.

        Keys: ``drift.drifted``, ``drift.share_drifted``, ``drift.n_drifted``, ``drift.n_columns``,
        ``drift.n_untested``,
        ``drift.<col>.drifted``, ``drift.<col>.missing_rate``, ``drift.<col>.<test>`` (statistic),
        ``drift.<col>.<test>.p_adjusted``, ``drift.multivariate.auc``, ``drift.output.<test>``,
        ``drift.concept.delta``, ``drift.cbpe.<metric>``, ``drift.reviewed.n`` and
        ``drift.reviewed.<predicted class>.disagreement`` (the share of reviewed labels that differ).
        A value that cannot be computed (e.g. a
        statistic of an empty column) is omitted rather than logged as NaN, so the dict is JSON-safe.
        """
        m: dict[str, float] = {
            "drift.drifted": float(self.drifted),
            "drift.share_drifted": float(self.share_drifted),
            "drift.n_drifted": float(len(self.drifted_columns)),
            "drift.n_columns": float(len(self.columns)),
            "drift.n_untested": float(len(self.untested_columns)),
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
        if self.reviewed_labels:  # a class's reviewers' disagreement, charted cycle after cycle
            put("drift.reviewed.n", self.reviewed_labels.get("n_scored"))
            for row in self.reviewed_labels.get("per_class") or []:
                put(metric_key("drift", "reviewed", str(row["predicted_class"]), "disagreement"), row["rate"])
        return m
