"""Stage 3 — retrain: fit a challenger on the configured training window.

Trigger (:mod:`driftloop.train.trigger`): with a champion in place, ``train.trigger`` (``on_drift``
by default; ``always``, ``performance_drop``, ``champion_age``, ``new_rows``, combinable) decides;
a cycle that fits nothing says which trigger stopped it, one that fits says which fired. The
window's files, ``train.json`` and the logged model are :mod:`driftloop.train.challenger`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop import paths
from driftloop.config import section
from driftloop.context import StageContext
from driftloop.contracts import DriftResult
from driftloop.dvc_metrics import train_metrics
from driftloop.io import StagedOutputs, write_json, write_parquet
from driftloop.lineage import file_md5
from driftloop.tags import TAG_RETRAIN_SKIPPED
from driftloop.tracking import set_tags, stage_run
from driftloop.train.challenger import fit_and_log, read_windows, train_record, training_table
from driftloop.train.trigger import TriggerFacts, decide


def run_retrain(ctx: StageContext, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the retrain stage; returns the train.json dict it wrote."""
    from driftloop.train.model import DEFAULT_ALLOWED_TARGETS, build_model
    from driftloop.train.windows import WindowConfig, select_training_window

    train_cfg, model_cfg = section(cfg, "train"), section(cfg, "model")
    window_cfg = WindowConfig.from_dict(train_cfg)
    drift = DriftResult.from_dict(ctx.read_json(paths.DRIFT_JSON, what="drift report"))
    champion = ctx.champion()
    serving = None if champion is None else f"{ctx.registry.model_name} v{champion.version}"
    decision = decide(drift, window_cfg.trigger, serving, TriggerFacts.from_manifest(ctx.manifest))
    # A bad model config fails before any work; a cycle that trains nothing never loads scikit-learn.
    pipeline = build_model(model_cfg, ctx.schema) if decision.train else None
    reviewed = (section(cfg, "data").get("source") or {}).get("reviewed_labels")
    window = select_training_window(*read_windows(ctx.workspace, ctx.schema, reviewed), ctx.schema, window_cfg)
    # Outputs move into place together, only after the fit and the MLflow logging succeeded.
    with StagedOutputs() as staged:
        write_parquet(training_path := staged.path(ctx.path(paths.TRAINING)), training_table(window))
        write_parquet(holdout_path := staged.path(ctx.path(paths.HOLDOUT)), window.holdout)
        result = train_record(
            window,
            model_cfg,
            drift,
            decision=decision,
            training_md5=file_md5(training_path),
            holdout_md5=file_md5(holdout_path),
        )
        if decision.reason is not None:
            with stage_run("retrain", ctx.cycle_run_id):
                set_tags({TAG_RETRAIN_SKIPPED: decision.reason})
        else:
            with stage_run("retrain", ctx.cycle_run_id, params={"model": model_cfg, "train": train_cfg}) as run:
                result = fit_and_log(
                    pipeline,
                    window,
                    ctx.schema,
                    result,
                    run_id=run.info.run_id,
                    training_uri=ctx.path(paths.TRAINING).resolve().as_uri(),
                    allowed_targets=model_cfg.get("allowed_targets") or DEFAULT_ALLOWED_TARGETS,
                    strategy=window_cfg,  # train.strategy: full, sample or incremental
                )
        write_json(staged.path(ctx.path(paths.TRAIN_JSON)), result.to_dict())
        write_json(staged.path(ctx.path(paths.TRAIN_METRICS)), train_metrics(result))
    return result.to_dict()
