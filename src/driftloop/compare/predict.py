"""Loading models by URI and getting predictions (and probabilities) out of them.

``predict_outputs`` accepts a fitted scikit-learn estimator, a :class:`LoadedModel`
from :func:`load_model`, or an MLflow ``PyFuncModel``. For MLflow models logged with
the sklearn flavour the raw estimator is used, so ``predict_proba`` is available
and ROC, log loss and calibration can be computed; other pyfunc models give
predictions only.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftloop.compare.model_format import DEFAULT_MODEL_PREFIXES
from driftloop.errors import ModelError
from driftloop.schema import Schema

__all__ = ["LoadedModel", "Predictions", "input_columns", "load_model", "predict_outputs"]


@dataclass(frozen=True)
class Predictions:
    """One model's outputs on one frame.

    Attributes
    ----------
    pred : numpy.ndarray
        Predicted class names (str) or values (float).
    proba : numpy.ndarray or None
        Class probabilities, columns in ``classes`` order.
    classes : tuple of str
        The model's classes (empty for regression).
    """

    pred: np.ndarray
    proba: np.ndarray | None
    classes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded from an MLflow URI with what its signature says it expects."""

    uri: str
    model: Any
    input_schema: Any = None  # mlflow.types.Schema or None


def load_model(
    uri: str, *, allow_pickle: bool = False, allowed_targets: Iterable[str] = DEFAULT_MODEL_PREFIXES
) -> LoadedModel:
    """Load an MLflow model (``models:/name@alias``, ``runs:/id/name``, ``models:/m-...``, a path).

    The folder is checked before anything in it is deserialised
    (:mod:`driftloop.compare.model_format`): a scikit-learn model saved as skops is loaded as the
    raw estimator (keeps ``predict_proba``) with driftloop's explicit trusted-types list; a
    pickle, or any other flavour, is refused unless ``allow_pickle`` (``compare.allow_pickle_models``),
    and then loaded by MLflow (the sklearn flavour as the raw estimator, others as pyfunc models).

    Parameters
    ----------
    uri : str
    allow_pickle : bool
        Load pickled (and non-sklearn) model folders too: they can run code when loaded.
    allowed_targets : iterable of str
        ``model.allowed_targets``: classes under these module prefixes are trusted in skops files.

    Raises
    ------
    ModelError
        Naming the URI when it does not resolve, holds a pickle (without ``allow_pickle``) or an
        untrusted type, or cannot be loaded.

    Examples
    --------
    Not run as a doctest: it needs an MLflow registry holding the model.

    >>> load_model("models:/feedback@champion")  # doctest: +SKIP
    """
    from driftloop.compare.model_format import check_model_folder, load_skops, model_folder

    with model_folder(uri) as folder:
        data = check_model_folder(folder, uri, allow_pickle)
        if data is not None:
            model = load_skops(data, uri, allowed_targets)
            return LoadedModel(uri=uri, model=model, input_schema=_input_schema(folder))
        return _load_with_mlflow(uri, folder)


def _input_schema(folder: Any) -> Any:
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        return Model.load(str(folder / "MLmodel")).get_input_schema()
    except (MlflowException, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model folder {folder}: its MLmodel signature cannot be read: {exc}") from exc


def _load_with_mlflow(uri: str, folder: Any) -> LoadedModel:
    """MLflow's own loader (pickles included): only after the user opted in."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        pyfunc = mlflow.pyfunc.load_model(str(folder))
    except (MlflowException, OSError, ValueError) as exc:
        raise ModelError(
            f"model URI {uri!r} does not resolve to a loadable MLflow model: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from exc
    meta = pyfunc.metadata
    model: Any = pyfunc
    if "sklearn" in (meta.flavors or {}):
        try:
            model = pyfunc.get_raw_model()
        except (MlflowException, AttributeError, ValueError):
            model = pyfunc
    return LoadedModel(uri=uri, model=model, input_schema=meta.get_input_schema())


def input_columns(model: Any) -> tuple[str, ...] | None:
    """The input column names a model was fitted on, or None when it does not say."""
    if isinstance(model, LoadedModel):
        if model.input_schema is not None and model.input_schema.has_input_names():
            return tuple(model.input_schema.input_names())
        model = model.model
    names = getattr(model, "feature_names_in_", None)
    if names is None and hasattr(model, "metadata"):
        schema = model.metadata.get_input_schema()
        if schema is not None and schema.has_input_names():
            return tuple(schema.input_names())
    return tuple(str(n) for n in names) if names is not None else None


def _check_input(model: Any, df: pd.DataFrame, schema: Schema, name: str) -> pd.DataFrame:
    expected = input_columns(model)
    if expected is None:
        expected = tuple(schema.features)
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ModelError(
            f"the {name}'s input schema differs from the holdout's: it expects column(s) {missing} "
            f"that the holdout lacks (holdout columns: {list(df.columns)})."
        )
    X = df.loc[:, list(expected)]
    sig = model.input_schema if isinstance(model, LoadedModel) else None
    if sig is not None and sig.has_input_names():
        bad = []
        for spec in sig.inputs:
            numeric_expected = str(getattr(spec.type, "name", spec.type)) in ("long", "integer", "double", "float")
            if numeric_expected and not pd.api.types.is_numeric_dtype(X[spec.name]):
                bad.append(f"{spec.name} (expects {spec.type}, holdout has {X[spec.name].dtype})")
        if bad:
            raise ModelError(f"the {name}'s input schema differs from the holdout's: column(s) {bad}.")
    return X


#: Fewer rows than this are scored in this process whatever ``workers`` says: starting a worker
#: process (importing scikit-learn and pandas, receiving the model) costs about two seconds, which
#: a TF-IDF pipeline repays from about a hundred thousand rows (bench/bench_scoring.py).
PARALLEL_MIN_ROWS = 100_000


def predict_outputs(
    model: Any,
    df: pd.DataFrame,
    schema: Schema,
    name: str = "model",
    *,
    workers: int = 1,
    min_rows: int = PARALLEL_MIN_ROWS,
) -> Predictions:
    """Predict ``df`` with ``model``; probabilities too when the model has ``predict_proba``.

    Parameters
    ----------
    model : estimator, LoadedModel or mlflow.pyfunc.PyFuncModel
    df : pandas.DataFrame
        Must hold the model's input columns (extra columns are ignored).
    schema : Schema
    name : str
        How messages name the model ("challenger", "champion").
    workers : int
        Processes scoring ``df`` in contiguous row blocks, at least ``min_rows`` rows: the
        ``local`` engine's ``n_workers`` (:func:`driftloop.engine.scoring_workers`). A model
        scores each row on its own, so the outputs are the one-process outputs, row for row.
    min_rows : int
        Below this many rows one process scores (:data:`PARALLEL_MIN_ROWS`).

    Returns
    -------
    Predictions

    Raises
    ------
    ModelError
        When the model's input schema differs from ``df`` or it fails to predict.
    """
    from driftloop.batches import plain_missing

    X = plain_missing(_check_input(model, df, schema, name))
    raw = model.model if isinstance(model, LoadedModel) else model
    blocks = min(workers, len(X) // max(min_rows, 1)) if workers > 1 else 1
    if blocks > 1:
        return _predict_blocks(raw, X, schema, name, blocks)
    return _predict_here(raw, X, schema, name)


def _predict_here(raw: Any, X: pd.DataFrame, schema: Schema, name: str) -> Predictions:
    from threadpoolctl import threadpool_limits

    # OpenMP predictors (HistGradientBoosting) crawl when threads fight other processes
    # for cores; one thread scores a holdout in well under a second.
    with threadpool_limits(limits=1, user_api="openmp"):
        return _predict(raw, X, schema, name)


def _predict_blocks(raw: Any, X: pd.DataFrame, schema: Schema, name: str, blocks: int) -> Predictions:
    """``X`` scored in ``blocks`` contiguous row blocks, one worker process each (joblib's loky,
    which scikit-learn brings), concatenated in row order. A TF-IDF transform is Python holding
    the GIL: threads would not run it side by side."""
    from concurrent.futures import BrokenExecutor

    from joblib import Parallel, delayed

    edges = np.linspace(0, len(X), blocks + 1).astype(int)
    try:
        parts = Parallel(n_jobs=blocks, backend="loky")(
            delayed(_predict_here)(raw, X.iloc[lo:hi], schema, name) for lo, hi in itertools.pairwise(edges)
        )
    except BrokenExecutor as exc:  # a worker killed (out of memory, a signal): nothing was written
        raise ModelError(
            f"the {name} could not be scored: a worker process scoring {len(X):,} rows in {blocks} blocks "
            f"died ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'}). If the "
            "machine ran out of memory, score in the stage's own process: `driftloop params engine.n_workers=1`."
        ) from exc
    pred = np.concatenate([p.pred for p in parts])
    proba = None if parts[0].proba is None else np.concatenate([p.proba for p in parts])
    classes = parts[0].classes
    if schema.task == "classification" and proba is None:  # the classes seen, over every block
        classes = tuple(sorted(set(pred.tolist())))
    return Predictions(pred=pred, proba=proba, classes=classes)


def final_step(raw: Any, X: pd.DataFrame) -> tuple[Any, Any]:
    """(the estimator to call, its input): for a scikit-learn pipeline, its last step and ``X``
    through the steps before it, transformed once. ``Pipeline.predict`` and ``predict_proba``
    would each run every transform again (a TF-IDF over a million texts: half of a drift stage,
    measured), and give exactly what the last step gives on the transformed input."""
    pipeline = sys.modules.get("sklearn.pipeline")  # a scikit-learn pipeline has loaded it already
    if pipeline is None or not isinstance(raw, pipeline.Pipeline) or len(raw.steps) < 2:
        return raw, X
    last = raw.steps[-1][1]
    if last is None or last == "passthrough":
        return raw, X
    return last, raw[:-1].transform(X)


def _predict(raw: Any, X: pd.DataFrame, schema: Schema, name: str) -> Predictions:
    try:
        raw, X = final_step(raw, X)
        pred = np.asarray(raw.predict(X))
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        proba = None
        classes: tuple[str, ...] = ()
        if schema.task == "classification":
            pred = pred.astype(str)
            if hasattr(raw, "predict_proba") and hasattr(raw, "classes_"):
                proba = np.asarray(raw.predict_proba(X), dtype=np.float64)
                classes = tuple(str(c) for c in raw.classes_)
            else:
                classes = tuple(sorted(set(pred.tolist())))
        else:
            pred = pred.astype(np.float64)
    except (ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"the {name} failed to predict the holdout: {exc}") from exc
    except Exception as exc:  # mlflow's schema enforcement raises MlflowException
        if type(exc).__name__ == "MlflowException":
            raise ModelError(f"the {name}'s input schema differs from the holdout's: {exc}") from exc
        raise
    return Predictions(pred=pred, proba=proba, classes=classes)
