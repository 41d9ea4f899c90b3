"""The small numeric files each stage declares as DVC ``metrics`` (`dvc metrics show/diff`,
`dvc exp show`): a few keys each, numbers only, so a table of them fits a screen.

The rich records (``drift.json``, ``train.json``, ``compare.json``, ``decision.json``) stay the
stages' contracts and are not declared as metrics. Here every flag is written as 0/1 (DVC shows a
bool as text and cannot diff it), no free text is written (one summary string widens every row of
`dvc metrics diff`), and a p-value is written as ``-log10(p)``: `dvc metrics show` and ``diff``
round to 5 decimal places, which shows any p below 5e-6 as 0.0, while ``-log10`` keeps its order of
magnitude (2 means p = 0.01; larger means more surprising).

Pure functions of the stages' contracts; the stage shells write their results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.contracts import CompareResult, DecisionRecord, DriftResult, TrainResult

__all__ = [
    "DECISION_METRICS",
    "HEADLINE",
    "compare_metrics",
    "decision_metrics",
    "drift_metrics",
    "neg_log10",
    "train_metrics",
    "write_decision_metrics",
]

#: promote's metrics file (``decision.json`` is the rich record later stages and tools read).
DECISION_METRICS = paths.REPORTS / "decision_metrics.json"

# -log10 of the smallest p written: a p of exactly 0 (an underflow) reads as 300, not infinity.
_P_FLOOR = 1e-300
_DIGITS = 6  # JSON stays short; DVC shows 5 at most


def neg_log10(p: float | None) -> float | None:
    """``-log10(p)`` rounded to 3 decimals (p floored at 1e-300); None for a missing p.

    Examples
    --------
    >>> neg_log10(0.01), neg_log10(1.0), neg_log10(0.0), neg_log10(None)
    (2.0, 0.0, 300.0, None)
    """
    if p is None or not math.isfinite(float(p)):
        return None
    return round(-math.log10(max(float(p), _P_FLOOR)), 3) + 0.0  # + 0.0: never -0.0


def _num(value: Any) -> float | int | None:
    # Numbers only: a bool is a 0/1 int, a missing or non-finite value is left out.
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return None
    if isinstance(value, int):
        return value
    value = float(value)
    return round(value, _DIGITS) if math.isfinite(value) else None


def _clean(values: Mapping[str, Any]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for key, value in values.items():
        number = _num(value)
        if number is not None:
            out[key] = number
    return out


def drift_metrics(result: DriftResult) -> dict[str, float | int]:
    """``reports/drift_metrics.json``: the verdict, how many columns were tested and drifted, and
    the strongest evidence (the largest statistic/threshold ratio over every column's tests, and
    the smallest corrected column p-value as ``-log10``). Per-column numbers are in ``drift.json``
    and ``drift_columns.csv`` (`dvc plots`), and on the drift stage's MLflow run.

    Keys: ``drifted``, ``n_columns``, ``n_drifted``, ``share_drifted``, ``n_untested``,
    ``max_effect_ratio``, ``min_p_neglog10``, and when measured ``domain_auc``, ``concept_delta``.

    Examples
    --------
    >>> r = DriftResult(report={"dataset": {"drifted": True, "n_columns": 2, "n_drifted": 1,
    ...     "share_drifted": 0.5}, "columns": {"a": {"tests": {"ks": {"statistic": 0.3,
    ...     "threshold": 0.1, "p_adjusted": 1e-12}}}}})
    >>> m = drift_metrics(r)
    >>> m["drifted"], m["n_drifted"], m["share_drifted"], m["max_effect_ratio"], m["min_p_neglog10"]
    (1, 1, 0.5, 3.0, 12.0)
    """
    dataset = result.dataset
    ratios: list[float] = []
    p_values: list[float] = []
    for column in result.columns.values():
        for test in (column.get("tests") or {}).values():
            statistic, threshold = test.get("statistic"), test.get("threshold")
            if statistic is not None and threshold:
                ratios.append(float(statistic) / float(threshold))
            if test.get("p_adjusted") is not None:
                p_values.append(float(test["p_adjusted"]))
    multivariate = result.report.get("multivariate") or {}
    concept = result.report.get("concept") or {}
    return _clean(
        {
            "drifted": bool(dataset.get("drifted")),
            "n_columns": int(dataset.get("n_columns") or len(result.columns)),
            "n_drifted": int(dataset.get("n_drifted") or 0),
            "share_drifted": dataset.get("share_drifted"),
            "n_untested": len(dataset.get("untested_columns") or {}),
            "max_effect_ratio": max(ratios) if ratios else None,
            "min_p_neglog10": neg_log10(min(p_values)) if p_values else None,
            "domain_auc": multivariate.get("auc"),
            "concept_delta": concept.get("delta"),
        }
    )


#: The compare package's ``HEADLINE`` metrics of both tasks, primary first (classification, then
#: regression). Not imported: ``driftloop.compare`` loads scipy and would widen promote's deps;
#: tests/test_dvc_views.py checks that this matches ``driftloop.compare.comparison.HEADLINE``.
HEADLINE = ("f1_macro", "accuracy", "log_loss", "rmse", "mae", "r2")


def train_metrics(result: TrainResult) -> dict[str, float | int]:
    """``reports/train_metrics.json``: whether a challenger was trained, the window's row counts,
    and the task's headline validation metrics (all of them are in ``train.json`` and on MLflow).

    Examples
    --------
    >>> train_metrics(TrainResult(trained=False, rows={"train": 10, "holdout": 5}))
    {'trained': 0, 'rows_train': 10, 'rows_holdout': 5}
    """
    out: dict[str, Any] = {"trained": result.trained}
    out.update({f"rows_{k}": v for k, v in result.rows.items()})
    validation = result.validation_metrics or {}
    out.update({f"val_{k}": validation[k] for k in HEADLINE if k in validation})
    return _clean(out)


def compare_metrics(result: CompareResult) -> dict[str, Any]:
    """``reports/compare_metrics.json``: for the task's primary metric (its first headline metric),
    both models' holdout values and the paired delta with its interval; for the other headline
    metrics the delta; for each, ``-log10`` of the p-value of its paired test where it has one
    (every metric, slice and interval is in ``compare.json``). ``compared`` is 0 for a cycle that
    trained no challenger, with no other key.

    Examples
    --------
    >>> compare_metrics(CompareResult(challenger_trained=False))
    {'compared': 0}
    """
    out: dict[str, Any] = {"compared": int(result.challenger_trained)}
    metrics = result.metrics
    names = [name for name in HEADLINE if name in metrics]
    for name in names:
        entry = metrics[name]
        values: dict[str, Any] = {"delta": entry.delta, "p_neglog10": neg_log10(entry.p_value)}
        if name == names[0]:
            values = {
                "champion": entry.champion,
                "challenger": entry.challenger,
                "delta": entry.delta,
                "delta_low": entry.ci_low,
                "delta_high": entry.ci_high,
                "p_neglog10": neg_log10(entry.p_value),
            }
        cleaned = _clean(values)
        if cleaned:
            out[name] = cleaned
    return out


def _version(value: str | None) -> int | None:
    return int(value) if value is not None and str(value).isdigit() else None


def decision_metrics(record: DecisionRecord | Mapping[str, Any]) -> dict[str, float | int]:
    """``reports/decision_metrics.json``: promoted 0/1, first cycle 0/1, the gates evaluated and
    failed (enforced, and advisory), and the registered versions. The gates and the summary are in
    ``decision.json``.

    Examples
    --------
    >>> decision_metrics({"promoted": True, "first_cycle": False, "version": "2",
    ...     "previous_version": "1", "gates": [{"name": "g", "passed": False, "mode": "advisory"}]})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'promoted': 1, 'first_cycle': 0, 'gates': 0, 'gates_failed': 0, 'advisory_failed': 1,
     'version': 2, 'previous_version': 1}
    """
    if not isinstance(record, DecisionRecord):
        record = DecisionRecord.from_dict(record)
    enforced = [g for g in record.gates if g.blocking]
    advisory = [g for g in record.gates if g.mode == "advisory"]
    return _clean(
        {
            "promoted": record.promoted,
            "first_cycle": record.first_cycle,
            "gates": len(enforced),
            "gates_failed": sum(not g.passed for g in enforced),
            "advisory_failed": sum(not g.passed for g in advisory),
            "version": _version(record.version),
            "previous_version": _version(record.previous_version),
        }
    )


def write_decision_metrics(workspace: Path, record: DecisionRecord | Mapping[str, Any]) -> dict[str, float | int]:
    """Write :func:`decision_metrics` of ``record`` to ``workspace/reports/decision_metrics.json``
    (atomically: DVC never reads half a file) and return it."""
    from driftloop.io import write_json

    metrics = decision_metrics(record)
    write_json(Path(workspace) / DECISION_METRICS, metrics)
    return metrics
