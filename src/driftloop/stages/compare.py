"""Stage 4 — compare: champion and challenger on the same time-ordered holdout.

The evidence is :mod:`driftloop.compare`'s; :mod:`driftloop.compare_files` shapes compare.json,
the DVC metrics and plots, the per-row predictions and one nested MLflow run per model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from driftloop import paths
from driftloop.compare_files import (
    comparison_record,
    log_comparison,
    log_model_runs,
    no_challenger,
    predictions_frame,
    score_holdout,
    write_dvc_plots,
)
from driftloop.config import section
from driftloop.context import StageContext
from driftloop.contracts import TrainResult
from driftloop.dvc_metrics import compare_metrics
from driftloop.io import StagedOutputs, write_json, write_parquet
from driftloop.tags import TAG_COMPARE_SKIPPED
from driftloop.tracking import log_artifacts, set_tags, stage_run


def run_compare(ctx: StageContext, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the compare stage; returns the compare.json dict it wrote."""
    train = TrainResult.from_dict(ctx.read_json(paths.TRAIN_JSON, what="retrain report"))
    holdout, schema = pd.read_parquet(ctx.path(paths.HOLDOUT)), ctx.schema
    with StagedOutputs() as staged:  # outputs move into place together once everything succeeded
        plots_dir = staged.path(ctx.path(paths.PLOTS_DIR))
        plots_dir.mkdir()  # empty without a challenger, so last cycle's curves are not shown as this one's
        if not train.trained:
            result = no_challenger(train.reason or "no challenger was trained this cycle")
            write_json(staged.path(ctx.path(paths.COMPARE_JSON)), result.to_dict())
            write_json(staged.path(ctx.path(paths.COMPARE_METRICS)), compare_metrics(result))
            write_parquet(staged.path(ctx.path(paths.PREDICTIONS)), predictions_frame(holdout, schema, None, None))
            with stage_run("compare", ctx.cycle_run_id):
                set_tags({TAG_COMPARE_SKIPPED: result.reason})
            return result.to_dict()

        # Only now: the compare package loads scipy, which a cycle without a challenger never needs.
        from driftloop.compare import CompareConfig, load_model, write_plots

        compare_cfg = CompareConfig.from_dict(section(cfg, "compare"))
        # The champion that served when this cycle's snapshot was taken, by version: after this cycle
        # promoted its challenger, the alias names the challenger itself.
        champion_ref = ctx.champion()
        champion_uri = champion_ref.uri if champion_ref else None
        challenger_uri, _ = train.logged_challenger()
        from driftloop.compare.model_format import load_options

        options = load_options(cfg)  # pickled folders refused unless compare.allow_pickle_models
        challenger = load_model(challenger_uri, **options)
        champion = load_model(champion_uri, **options) if champion_uri else None
        with stage_run("compare", ctx.cycle_run_id, params={"compare": section(cfg, "compare")}) as run:
            scores = score_holdout(ctx.path(paths.HOLDOUT), holdout, schema, challenger, champion, compare_cfg, cfg)
            comparison = scores.comparison
            result = comparison_record(
                comparison, challenger_uri, champion_uri, champion_ref.version if champion_ref else None
            )
            write_json(staged.path(ctx.path(paths.COMPARE_JSON)), result.to_dict())
            write_json(staged.path(ctx.path(paths.COMPARE_METRICS)), compare_metrics(result))
            log_comparison(result, comparison)
            preds = predictions_frame(holdout, schema, scores.challenger, scores.champion)
            write_parquet(staged.path(ctx.path(paths.PREDICTIONS)), preds)
            log_model_runs(
                result,
                run.info.run_id,
                {"challenger": train.model_uri, "champion": champion_uri if scores.champion is not None else None},
            )
            write_plots(comparison, plots_dir)
            write_dvc_plots(comparison, plots_dir)
            log_artifacts(plots_dir, "compare/plots")
    return result.to_dict()
