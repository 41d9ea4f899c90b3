"""Stage 2 — drift: the current window against the reference's stored summary.

The tests are :mod:`driftloop.drift`'s; :mod:`driftloop.drift_files` reads the summary, the
current window in chunks and the champion's outputs, and shapes the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop import paths
from driftloop.config import section
from driftloop.context import StageContext
from driftloop.drift_files import (
    column_scores,
    drift_result,
    drift_with_champion,
    log_drift,
    reference_summary_path,
    write_review_queue,
)
from driftloop.dvc_metrics import drift_metrics
from driftloop.io import StagedOutputs, atomic_write_text, write_json
from driftloop.tracking import stage_run


def run_drift(ctx: StageContext, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the drift stage; returns the drift.json dict it wrote."""
    from driftloop.drift import DriftConfig, ReferenceSummary, render_html

    drift_cfg = DriftConfig.from_dict(section(cfg, "drift"))
    summary = ReferenceSummary.load(reference_summary_path(ctx.workspace))
    report, scored = drift_with_champion(
        summary, ctx.champion(), ctx.schema, drift_cfg, cfg, root=ctx.root, ws=ctx.workspace
    )
    report, result = drift_result(report, ctx.manifest, scored)
    html, metrics = render_html(report), report.metrics()
    with StagedOutputs() as staged:  # reports move into place only once MLflow has them too
        write_json(staged.path(ctx.path(paths.DRIFT_JSON)), result.to_dict())
        atomic_write_text(staged.path(ctx.path(paths.DRIFT_HTML)), html)
        write_json(staged.path(ctx.path(paths.DRIFT_METRICS)), drift_metrics(result))
        column_scores(result).to_csv(staged.path(ctx.path(paths.DRIFT_COLUMNS)), index=False)
        with stage_run("drift", ctx.cycle_run_id, params={"drift": section(cfg, "drift")}):
            log_drift(result, html, metrics, ctx.cycle_run_id)
            write_review_queue(staged.path(ctx.path(paths.REVIEW_QUEUE)), scored)  # + review/review_queue.csv
    return result.to_dict()
