"""How the challenger is fitted on its window: ``train.strategy``.

- ``full`` (the default): every training row, :func:`driftloop.train.model.fit_model` as always.
- ``sample``: :func:`driftloop.engine.training_sample` draws ``sample_size`` rows of the training
  split, stratified by (label, ``sample_period`` of event time) so the sample keeps the window's
  class balance and its profile over time, uniform and seeded (``sample_seed``) within each
  stratum; the model is fitted on those rows. A regression target is a float, one stratum per
  value would be one row each: its strata are its *deciles* (rank-based, equal counts) times the
  period. Validation and holdout are untouched, so compare judges the sampled challenger on the
  same holdout as any other.
- ``incremental``: the preprocessing (TF-IDF vocabulary, one-hot levels, scaling) is fitted on
  that same sample (it cannot learn chunk by chunk), then the estimator learns with
  ``partial_fit`` over the whole training split, chunk by chunk
  (:func:`driftloop.engine.fit_incremental`). Only estimators with ``partial_fit`` (SGD, naive
  Bayes, MLP): anything else is a :class:`ConfigError` naming ``train.strategy``.

The window is already in this process (the retrain stage reads the snapshot), so its training
split is written once to a temporary parquet file and sampled from there with the local engine:
the same code path :func:`training_sample` runs over a partitioned window on Dask. The training
table on disk (``data/train/training.parquet``) stays the whole window: the sample is a
deterministic function of it and of ``train.sample_*``, recorded in ``train.json`` and on the run.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError
from driftloop.schema import Schema
from driftloop.train.model import FitResult
from driftloop.train.windows import TrainingWindow, WindowConfig

__all__ = ["StrategyRecord", "check_strategy", "fit_with_strategy", "sample_training_rows"]

#: Column holding a regression target's decile in the temporary file (the label's stratum).
DECILE_COLUMN = "_target_decile"


@dataclass(frozen=True)
class StrategyRecord:
    """What the challenger was fitted on, as ``train.json``'s ``training`` and the run's params.

    Attributes
    ----------
    strategy : str
        ``full``, ``sample`` or ``incremental``.
    rows_window : int
        Training rows of the window.
    rows_used : int
        Rows the model was fitted on (``sample``: the sample; ``incremental``: the window's rows,
        partial_fit over them; the preprocessing saw ``rows_sampled``).
    sample_size : int or None
        Rows asked for (``train.sample_size``); None for ``full``.
    rows_sampled : int or None
        Rows the sample holds (fewer than asked when the window is smaller).
    period, seed : str, int or None
        ``train.sample_period`` and ``train.sample_seed``; None for ``full``.
    strata : str or None
        What the sample is stratified by: ``label x <period>`` or ``target decile x <period>``.
    """

    strategy: str
    rows_window: int
    rows_used: int
    sample_size: int | None = None
    rows_sampled: int | None = None
    period: str | None = None
    seed: int | None = None
    strata: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def params(self) -> dict[str, Any]:
        """MLflow params of the retrain run: ``training.<field>``."""
        return {f"training.{k}": v for k, v in self.to_dict().items()}


def check_strategy(cfg: WindowConfig, pipeline: Any) -> None:
    """Refuse ``incremental`` for an estimator without ``partial_fit``.

    Raises
    ------
    ConfigError
        Naming ``train.strategy`` and the estimator.
    """
    estimator = pipeline.named_steps["estimator"] if hasattr(pipeline, "named_steps") else pipeline
    if cfg.strategy == "incremental" and not hasattr(estimator, "partial_fit"):
        raise ConfigError(
            f"train.strategy is 'incremental' but model.estimator {type(estimator).__name__} has no partial_fit: "
            "choose an estimator that learns chunk by chunk (SGDClassifier, SGDRegressor, MultinomialNB, "
            "MLPClassifier, ...) or train.strategy 'sample' or 'full'."
        )


def _strata_label(train: pd.DataFrame, schema: Schema) -> tuple[pd.Series, str]:
    """The column the sample is stratified by with the period, and its name in the record."""
    if schema.task == "regression":
        y = pd.to_numeric(train[schema.label], errors="raise")
        # Deciles of the rank (ties broken by position): ten strata of equal counts whatever the
        # distribution, never one per distinct float.
        rank = y.rank(method="first").to_numpy() - 1
        return pd.Series(np.minimum(rank * 10 // max(len(y), 1), 9).astype("int64"), index=train.index), "target decile"
    return train[schema.label].astype(str), "label"


#: Column of the temporary key file: each row's position in the training split.
ROW_COLUMN = "_row"


def sample_training_rows(
    window: TrainingWindow, schema: Schema, cfg: WindowConfig, folder: Path
) -> tuple[pd.DataFrame, np.ndarray | None, str]:
    """The stratified sample of the training split (:func:`driftloop.engine.training_sample`).

    Only the keys travel through the file ``training_sample`` reads, in ``folder``: the stratum's
    label (the class, or the target's decile), the event time and the row's position; the sampled
    rows are then taken from the window in memory. Writing the features (text, mostly) would cost
    more than the draw.

    Returns
    -------
    (sample, weights, strata)
        The sampled rows of ``window.train`` (window order, every column; a regression sample has its
        decile in ``_target_decile``), their recency weights (None without them), and what the
        strata are (``label x D``, ``target decile x D``).
    """
    from driftloop.engine import training_sample

    label_col, strata = _strata_label(window.train, schema)
    stratum = DECILE_COLUMN if schema.task == "regression" else "_label"
    keys = pd.DataFrame(
        {
            stratum: label_col.to_numpy(),
            schema.timestamp: window.train[schema.timestamp].to_numpy(),
            ROW_COLUMN: np.arange(len(window.train), dtype="int64"),
        }
    )
    path = folder / "keys.parquet"
    keys.to_parquet(path, index=False)
    drawn = training_sample(
        path,
        cfg.sample_size,
        label=stratum,
        timestamp=schema.timestamp,
        columns=[ROW_COLUMN],
        period=cfg.sample_period,
        seed=cfg.sample_seed,
    )
    rows = drawn[ROW_COLUMN].to_numpy(dtype="int64")
    sample = window.train.iloc[rows].reset_index(drop=True)
    if schema.task == "regression":
        sample[DECILE_COLUMN] = drawn[DECILE_COLUMN].to_numpy()
    weights = None if window.train_weight is None else np.asarray(window.train_weight, dtype=float)[rows]
    return sample, weights, f"{strata} x {cfg.sample_period}"


def _write_split(window: TrainingWindow, schema: Schema, path: Path) -> None:
    """The training split's features and label (as the model learns it), for ``fit_incremental``."""
    columns = list(dict.fromkeys([*schema.features, schema.label or ""]))
    split = window.train.loc[:, columns]
    if schema.task == "classification":
        split[schema.label] = split[schema.label].astype(str)  # as fit_model learns it
    split.to_parquet(path, index=False)


class _PartialFit:
    """The estimator of a pipeline learning chunk by chunk behind its already fitted preprocessing."""

    def __init__(self, preprocess: Any, estimator: Any) -> None:
        self.preprocess, self.estimator = preprocess, estimator

    def partial_fit(self, X: Any, y: Any, **kwargs: Any) -> _PartialFit:
        self.estimator.partial_fit(self.preprocess.transform(X), y, **kwargs)
        return self


def fit_with_strategy(
    pipeline: Any, window: TrainingWindow, schema: Schema, cfg: WindowConfig, chunk_size: int = 200_000
) -> tuple[FitResult, StrategyRecord]:
    """Fit a clone of ``pipeline`` as ``cfg.strategy`` says; the fit and what it was fitted on.

    Raises
    ------
    ConfigError
        ``incremental`` with an estimator that has no ``partial_fit``.
    DataError, ModelError
        As :func:`driftloop.train.model.fit_model`.
    """
    from driftloop.train.model import fit_model

    check_strategy(cfg, pipeline)
    n = len(window.train)
    if cfg.strategy == "full":
        return fit_model(pipeline, window, schema), StrategyRecord("full", rows_window=n, rows_used=n)
    with tempfile.TemporaryDirectory(prefix="driftloop-train-") as tmp:
        sample, weights, strata = sample_training_rows(window, schema, cfg, Path(tmp))
        record = StrategyRecord(
            cfg.strategy,
            rows_window=n,
            rows_used=len(sample),
            sample_size=cfg.sample_size,
            rows_sampled=len(sample),
            period=cfg.sample_period,
            seed=cfg.sample_seed,
            strata=strata,
        )
        sampled = dataclasses.replace(window, train=sample, train_weight=weights)
        if cfg.strategy == "sample":
            return fit_model(pipeline, sampled, schema), record
        _write_split(window, schema, path := Path(tmp) / "train.parquet")
        fit = _fit_incremental(pipeline, sampled, window, schema, path, chunk_size)
    return fit, dataclasses.replace(record, rows_used=n)


def _fit_incremental(
    pipeline: Any, sampled: TrainingWindow, window: TrainingWindow, schema: Schema, path: Path, chunk_size: int
) -> FitResult:
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits

    from driftloop.engine import fit_incremental
    from driftloop.errors import ModelError
    from driftloop.train.model import features_frame, fit_svd_to_vocabulary, scored_fit, target_values

    threads = getattr(pipeline, "driftloop_threads", None)
    model = clone(pipeline)
    fit_svd_to_vocabulary(model, sampled.train, schema)
    classes = None
    if schema.task == "classification":
        # Every class of the whole split: partial_fit needs them all on its first call.
        classes = sorted(window.train[schema.label].astype(str).unique())
    with threadpool_limits(limits=threads, user_api="openmp"):
        try:
            model.named_steps["preprocess"].fit(
                features_frame(sampled.train, schema, "the training sample"), target_values(sampled.train, schema)
            )
        except (ValueError, TypeError) as exc:
            raise ModelError(f"fitting the preprocessing on the training sample failed: {exc}") from exc
        learner = _PartialFit(model.named_steps["preprocess"], model.named_steps["estimator"])
        fit_incremental(
            learner, path, list(schema.features), schema.label or "", classes=classes, chunk_size=chunk_size
        )
    return scored_fit(model, window, schema, threads)
