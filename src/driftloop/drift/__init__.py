"""Drift evaluation: reference summaries, per-column tests, corrections, verdicts, reports.

Public API::

    cfg = DriftConfig.from_dict(mapping)
    summary = summarize_reference(reference_df, kinds, cfg); summary.save(path)
    report = evaluate_drift(ReferenceSummary.load(path), current, cfg, columns=None, model_outputs=None)
    report.to_dict(); report.metrics(); report.drifted_columns; render_html(report)
"""

from driftloop.drift.config import DriftConfig
from driftloop.drift.evaluate import evaluate_drift
from driftloop.drift.model_outputs import ModelOutputs
from driftloop.drift.registry import TEST_REGISTRY, TestSpec, UnknownTestError, get_test
from driftloop.drift.report import ColumnResult, DriftReport
from driftloop.drift.results import StatResult
from driftloop.drift.summary import ReferenceSummary, summarize_reference


def render_html(report: DriftReport) -> str:
    """Self-contained HTML of ``report`` (see :mod:`driftloop.drift.html`)."""
    from driftloop.drift.html import render_html as _render

    return _render(report)


__all__ = [
    "TEST_REGISTRY",
    "ColumnResult",
    "DriftConfig",
    "DriftReport",
    "ModelOutputs",
    "ReferenceSummary",
    "StatResult",
    "TestSpec",
    "UnknownTestError",
    "evaluate_drift",
    "get_test",
    "render_html",
    "summarize_reference",
]
