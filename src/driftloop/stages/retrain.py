"""Stage 3 — retrain: fit a challenger on the configured training window.

The window (train / validation / holdout, time-ordered) is written as DVC outputs,
so the challenger's training data has a DVC md5 — the lineage tag through which
the next cycle finds its reference — and the holdout compare scores both models on
is fixed on disk. The challenger is logged to MLflow with signature, input example,
explicit pip requirements and its datasets.

Trigger: with a champion in place and no drift detected, ``train.trigger: on_drift``
(default) skips fitting and says so; ``always`` retrains every cycle.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import pandas as pd

from driftloop import paths
from driftloop.config import section, workspace
from driftloop.io import StagedOutputs, read_json, write_json, write_parquet
from driftloop.lineage import file_md5
from driftloop.schema import Schema

SPLIT_COLUMN = "_split"
WEIGHT_COLUMN = "_weight"


def train_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """The small `dvc metrics` file: whether a challenger was trained, window sizes, validation metrics."""
    return {"trained": result["trained"], "rows": result["rows"],
            "validation": result.get("validation_metrics") or {}}


def run_retrain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the retrain stage; returns the train.json dict it wrote."""
    from driftloop.champion import find_champion
    from driftloop.promote.config import PromoteConfig
    from driftloop.tracking import TrackingConfig, configure, log_metrics, stage_run
    from driftloop.train.model import build_model, fit_model
    from driftloop.train.windows import WindowConfig, apply_reviewed_labels, select_training_window

    data_cfg = section(cfg, "data")
    schema = Schema.from_config(data_cfg.get("schema") or {})
    train_cfg = section(cfg, "train")
    window_cfg = WindowConfig.from_dict(train_cfg)
    trigger = window_cfg.trigger
    model_cfg = section(cfg, "model")
    pipeline = build_model(model_cfg, schema)  # fail on a bad model config before any work
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    configure(TrackingConfig.from_dict(section(cfg, "tracking")))

    ws = workspace()
    manifest = read_json(ws / paths.MANIFEST, what="snapshot manifest")
    drift = read_json(ws / paths.DRIFT_JSON, what="drift report")
    reference = pd.read_parquet(ws / paths.REFERENCE)
    current = pd.read_parquet(ws / paths.CURRENT)
    reviewed = (data_cfg.get("source") or {}).get("reviewed_labels")
    if reviewed:
        folder = ws / reviewed
        reference = apply_reviewed_labels(reference, folder if folder.exists() else None, schema)
        current = apply_reviewed_labels(current, folder if folder.exists() else None, schema)

    window = select_training_window(reference, current, schema, window_cfg)
    training = pd.concat(
        [window.train.assign(**{SPLIT_COLUMN: "train"}), window.validation.assign(**{SPLIT_COLUMN: "validation"})],
        ignore_index=True,
    )
    if window.train_weight is not None:
        import numpy as np

        training[WEIGHT_COLUMN] = np.concatenate([window.train_weight, np.ones(len(window.validation))])
    # Outputs move into place together, only after the fit and the MLflow logging succeeded.
    with StagedOutputs() as staged:
        write_parquet(training_path := staged.path(ws / paths.TRAINING), training)
        write_parquet(holdout_path := staged.path(ws / paths.HOLDOUT), window.holdout)
        training_md5 = file_md5(training_path)
        holdout_md5 = file_md5(holdout_path)

        champion = find_champion(promote_cfg.model_name, promote_cfg.alias)
        drifted = bool(drift.get("dataset", {}).get("drifted"))
        result: dict[str, Any] = {
            "trained": False,
            "trigger": trigger,
            "drift_detected": drifted,
            "model": model_cfg.get("name") or model_cfg.get("estimator", {}).get("_target_"),
            "window": window.description,
            "rows": {"train": len(window.train), "validation": len(window.validation), "holdout": len(window.holdout)},
            "training_data_md5": training_md5,
            "training_data_path": str(paths.TRAINING),
            "holdout_md5": holdout_md5,
            "holdout_path": str(paths.HOLDOUT),
        }
        if champion is not None and trigger == "on_drift" and not drifted:
            result["reason"] = (
                f"no drift detected against {promote_cfg.model_name} v{champion.version}'s training data "
                "and train.trigger is on_drift: no challenger this cycle"
            )
            write_json(staged.path(ws / paths.TRAIN_JSON), result)
            write_json(staged.path(ws / paths.TRAIN_METRICS), train_metrics(result))
            with stage_run("retrain", manifest.get("cycle_run_id")):
                import mlflow

                mlflow.set_tag("driftloop.retrain.skipped", result["reason"])
            return result

        with stage_run("retrain", manifest.get("cycle_run_id"), params={"model": model_cfg, "train": train_cfg}) as run:
            import mlflow

            from driftloop.train.mlflow_model import log_sklearn_model, log_training_datasets

            fit = fit_model(pipeline, window, schema)
            log_metrics({f"train.{k}": v for k, v in fit.train_metrics.items()})
            log_metrics({f"validation.{k}": v for k, v in fit.validation_metrics.items()})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # MLflow 3.17's duplicate local-source registration
                log_training_datasets(window, schema, source=(ws / paths.TRAINING).resolve().as_uri())
            model_uri = log_sklearn_model(fit.model, "model", window.train[list(schema.features)].head(5))
            mlflow.set_tag("driftloop.training_data_md5", training_md5)
            mlflow.set_tag("driftloop.holdout_md5", holdout_md5)
            result.update(
                trained=True,
                model_uri=model_uri,
                run_id=run.info.run_id,
                classes=list(fit.classes),
                validation_metrics=fit.validation_metrics,
                train_metrics=fit.train_metrics,
            )
        write_json(staged.path(ws / paths.TRAIN_JSON), result)
        write_json(staged.path(ws / paths.TRAIN_METRICS), train_metrics(result))
        return result
