"""A cycle's challenger: its training table on disk, its record (``train.json``), its fit logged to MLflow.

The window (train / validation / holdout, time-ordered) is written as DVC outputs, so the
challenger's training data has a DVC md5 — the lineage tag through which the next cycle finds
its reference — and the holdout compare scores both models on is fixed on disk.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop import paths
from driftloop.contracts import DriftResult, TrainResult
from driftloop.schema import Schema
from driftloop.train.trigger import Decision
from driftloop.train.windows import TrainingWindow, WindowConfig

SPLIT_COLUMN = "_split"
WEIGHT_COLUMN = "_weight"


def read_windows(ws: Path, schema: Schema, reviewed_labels: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshot's reference and current windows, with reviewed labels applied when configured
    (``data.source.reviewed_labels``; a folder that does not exist yet changes nothing)."""
    from driftloop.train.windows import apply_reviewed_labels

    reference = pd.read_parquet(ws / paths.REFERENCE)
    current = pd.read_parquet(ws / paths.CURRENT)
    if reviewed_labels:
        folder = ws / reviewed_labels
        reference = apply_reviewed_labels(reference, folder if folder.exists() else None, schema)
        current = apply_reviewed_labels(current, folder if folder.exists() else None, schema)
    return reference, current


def training_table(window: TrainingWindow) -> pd.DataFrame:
    """Train and validation rows in one table, marked by ``_split`` (and weighted by ``_weight``
    under a weighted window policy): the file whose DVC md5 names the challenger's training data."""
    training = pd.concat(
        [window.train.assign(**{SPLIT_COLUMN: "train"}), window.validation.assign(**{SPLIT_COLUMN: "validation"})],
        ignore_index=True,
    )
    if window.train_weight is not None:
        import numpy as np

        training[WEIGHT_COLUMN] = np.concatenate([window.train_weight, np.ones(len(window.validation))])
    return training


def train_record(
    window: TrainingWindow,
    model_cfg: Mapping[str, Any],
    drift: DriftResult,
    *,
    decision: Decision,
    training_md5: str,
    holdout_md5: str,
) -> TrainResult:
    """``train.json`` before any fit: the trigger's decision (which trigger fired, or why none
    did), the window and the DVC md5s of its files."""
    from driftloop.train.trigger import drift_trigger

    drifted, concept, _ = drift_trigger(drift)
    return TrainResult(
        trained=False,
        trigger=decision.trigger,
        drift_detected=drifted,
        concept_drift_detected=concept,
        model=model_cfg.get("name") or model_cfg.get("estimator", {}).get("_target_"),
        window=window.description,
        rows={"train": len(window.train), "validation": len(window.validation), "holdout": len(window.holdout)},
        training_data_md5=training_md5,
        training_data_path=str(paths.TRAINING),
        holdout_md5=holdout_md5,
        holdout_path=str(paths.HOLDOUT),
        reason=decision.reason,
        fired_by=decision.fired_by,
    )


def train_metrics(result: TrainResult) -> dict[str, Any]:
    """The small `dvc metrics` file: whether a challenger was trained, window sizes, validation metrics."""
    return {"trained": result.trained, "rows": dict(result.rows), "validation": dict(result.validation_metrics or {})}


def fit_and_log(
    pipeline: Any,
    window: TrainingWindow,
    schema: Schema,
    record: TrainResult,
    *,
    run_id: str,
    training_uri: str,
    allowed_targets: Iterable[str] = ("sklearn.",),
    strategy: WindowConfig | None = None,
) -> TrainResult:
    """Fit the challenger as ``strategy.strategy`` says (``train.strategy``: full, sample or
    incremental, :mod:`driftloop.train.strategy`) and log it to the active (retrain) run: the
    strategy (params ``training.*``), train and validation metrics, both datasets, the model
    (signature, input example, pinned requirements) and its lineage md5s.

    Returns
    -------
    TrainResult
        ``record`` completed: ``trained``, ``model_uri``, ``run_id``, ``classes``, the metrics and
        ``training`` (what the model was fitted on).
    """
    from driftloop.progress import task
    from driftloop.tags import TAG_RUN_HOLDOUT_MD5, TAG_RUN_TRAIN_MD5
    from driftloop.tracking import log_flat_params, log_metrics, set_tags
    from driftloop.train.mlflow_model import log_sklearn_model, log_training_datasets
    from driftloop.train.model import features_frame
    from driftloop.train.strategy import fit_with_strategy

    # A bar over the three steps (fit and score, log the data, log the model) on a terminal
    # (driftloop.console installs it); a no-op elsewhere.
    with task(3, "training", "step") as advance:
        fit, used = fit_with_strategy(pipeline, window, schema, strategy or WindowConfig())
        advance(1)
        log_flat_params(used.params())
        log_metrics({f"train.{k}": v for k, v in fit.train_metrics.items()})
        log_metrics({f"validation.{k}": v for k, v in fit.validation_metrics.items()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # MLflow 3.17's duplicate local-source registration
            log_training_datasets(window, schema, source=training_uri)
        advance(1)
        # skops, with the trusted types driftloop's loader derives from model.allowed_targets. The input
        # example goes through features_frame as every input does: a pd.NA in a string column stops
        # scikit-learn's imputer ("boolean value of NA is ambiguous").
        example = features_frame(window.train.head(5), schema, "the input example")
        model_uri = log_sklearn_model(fit.model, "model", example, allowed_targets=allowed_targets)
        set_tags({TAG_RUN_TRAIN_MD5: record.training_data_md5, TAG_RUN_HOLDOUT_MD5: record.holdout_md5})
        advance(1)
    return record.with_fit(
        model_uri=model_uri,
        run_id=run_id,
        classes=tuple(fit.classes),
        validation_metrics=fit.validation_metrics,
        train_metrics=fit.train_metrics,
        training=used.to_dict(),
    )
