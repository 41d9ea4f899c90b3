"""The model zoo: a preprocessing ``ColumnTransformer`` plus an estimator built by Hydra.

The ``model`` config group holds one option per model (``conf/model/<name>.yaml``)::

    name: logreg_tfidf
    task: classification
    estimator: {_target_: sklearn.linear_model.LogisticRegression, C: 2.0, random_state: 0}
    preprocessing:
      text: {max_features: 20000, ngram_range: [1, 2], min_df: 2, svd_components: null}
      categorical: {min_frequency: 5}
      numeric: {impute: median, scale: true}
      dense: false
      seed: 0

Only ``_target_`` values under :data:`ALLOWED_PREFIXES` are instantiated, so a
config file cannot make a stage import and call arbitrary code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError, DataError, ModelError
from driftloop.schema import Schema
from driftloop.validation import Key, check

__all__ = ["ALLOWED_PREFIXES", "FitResult", "build_model", "features_frame", "fit_model"]

ALLOWED_PREFIXES: tuple[str, ...] = ("sklearn.", "driftloop.")
#: Kind, range, default and meaning of every key of the ``model`` group and its preprocessing.
MODEL: dict[str, Key] = {
    "name": Key("str", None, nullable=True, doc="the option's name, logged as model.name"),
    "task": Key(
        "choice",
        None,
        choices=("classification", "regression"),
        nullable=True,
        doc="must equal data.schema.task (null: the schema's)",
    ),
    "estimator": Key("mapping", None, nullable=True, doc="scikit-learn estimator: _target_ and its parameters"),
    "preprocessing": Key("mapping", None, nullable=True),
    "threads": Key("integer", None, low=1, nullable=True, doc="OpenMP threads for fit/predict (null: all cores)"),
}
PREPROCESSING: dict[str, Key] = {
    "text": Key("mapping", None, nullable=True),
    "categorical": Key("mapping", None, nullable=True),
    "numeric": Key("mapping", None, nullable=True),
    "dense": Key("bool", False, doc="a dense matrix, for estimators that refuse sparse input"),
    "seed": Key("integer", 0, low=0, doc="seed of the SVD"),
}
TEXT: dict[str, Key] = {
    "max_features": Key("integer", 20000, low=1, nullable=True),
    "ngram_range": Key("int_pair", (1, 1), low=1),
    "min_df": Key("number", 1, low=0, low_open=True, doc="documents (int) or share of them (float)"),
    "sublinear_tf": Key("bool", True),
    "svd_components": Key("integer", None, low=1, nullable=True, doc="reduce TF-IDF to this many (dense models)"),
    "lowercase": Key("bool", True),
}
CATEGORICAL: dict[str, Key] = {
    "min_frequency": Key(
        "number", None, low=0, low_open=True, nullable=True, doc="rarer levels pool into one infrequent level"
    ),
}
NUMERIC: dict[str, Key] = {
    "impute": Key("choice", "median", choices=("median", "mean", "most_frequent")),
    "scale": Key("bool", True),
}


def _check_targets(node: Any, where: str) -> None:
    """Refuse any ``_target_`` outside the allow-list, at any depth."""
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_PREFIXES):
            raise ConfigError(
                f"{where}._target_ {target!r} is not allowed; targets must start with one of {list(ALLOWED_PREFIXES)}."
            )
        for key, value in node.items():
            _check_targets(value, f"{where}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _check_targets(value, f"{where}[{i}]")


def _instantiate_estimator(spec: Mapping[str, Any]) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from sklearn.base import BaseEstimator

    _check_targets(spec, "model.estimator")
    if "_target_" not in spec:
        raise ConfigError("model.estimator needs a _target_ (e.g. sklearn.linear_model.LogisticRegression).")
    try:
        estimator = instantiate(dict(spec), _convert_="all")
    except InstantiationException as exc:
        raise ConfigError(f"model.estimator: cannot instantiate {spec['_target_']!r}: {exc}") from exc
    if not isinstance(estimator, BaseEstimator):
        raise ConfigError(f"model.estimator._target_ {spec['_target_']!r} is not a scikit-learn estimator.")
    return estimator


def _preprocessor(pre: Mapping[str, Any], schema: Schema) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    pre = check(pre, PREPROCESSING, "model.preprocessing")
    text = check(pre["text"], TEXT, "model.preprocessing.text")
    cat = check(pre["categorical"], CATEGORICAL, "model.preprocessing.categorical")
    num = check(pre["numeric"], NUMERIC, "model.preprocessing.numeric")
    seed = pre["seed"]
    steps = []
    for col in schema.numeric:
        parts = [SimpleImputer(strategy=num["impute"])]
        if num["scale"]:
            parts.append(StandardScaler())
        steps.append((f"num_{col}", make_pipeline(*parts), [col]))
    if schema.categorical:
        steps.append(
            (
                "cat",
                make_pipeline(
                    # Missing categories become their own level instead of failing the encoder.
                    SimpleImputer(strategy="constant", fill_value="__missing__"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist" if cat["min_frequency"] else "ignore",
                        min_frequency=_count_or_share(cat["min_frequency"]),
                        sparse_output=not pre["dense"],
                    ),
                ),
                list(schema.categorical),
            )
        )
    for col in schema.text:
        tfidf = TfidfVectorizer(
            max_features=text["max_features"],
            ngram_range=text["ngram_range"],
            min_df=_count_or_share(text["min_df"]),
            sublinear_tf=text["sublinear_tf"],
            lowercase=text["lowercase"],
        )
        # TfidfVectorizer wants a 1-D column of strings; missing text becomes "". Only
        # scikit-learn and numpy objects go into the pipeline, so the logged model loads
        # wherever scikit-learn is installed (no driftloop import needed to serve it).
        parts = [SimpleImputer(strategy="constant", fill_value=""), FunctionTransformer(np.ravel), tfidf]
        if text["svd_components"]:
            # fit_model shrinks n_components to the vocabulary when it is smaller.
            parts.append(TruncatedSVD(n_components=int(text["svd_components"]), random_state=seed))
        steps.append((f"text_{col}", make_pipeline(*parts), [col]))
    # sparse_threshold=0 forces a dense matrix for estimators that refuse sparse input.
    return ColumnTransformer(steps, sparse_threshold=0.0 if pre["dense"] else 0.3)


def _count_or_share(value: float | None) -> float | int | None:
    """scikit-learn reads an int as a count and a float as a share: a whole number is a count."""
    return int(value) if value is not None and float(value).is_integer() else value


def build_model(model_cfg: Mapping[str, Any], schema: Schema) -> Any:
    """Build the unfitted pipeline ``preprocess -> estimator`` from the ``model`` group.

    Parameters
    ----------
    model_cfg : Mapping
        The ``model`` config (see the module docstring).
    schema : Schema

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``preprocess`` and ``estimator``.

    Raises
    ------
    ConfigError
        On an unknown key, a ``_target_`` outside the allow-list, an estimator that
        cannot be instantiated, or a model task that differs from the schema's task.

    Examples
    --------
    >>> from driftloop.schema import Schema
    >>> schema = Schema("id", "ts", "y", numeric=("x",), categorical=("channel",))
    >>> model = build_model({"task": "classification", "estimator": {
    ...     "_target_": "sklearn.linear_model.LogisticRegression", "random_state": 0}}, schema)
    >>> list(model.named_steps), type(model.named_steps["estimator"]).__name__
    (['preprocess', 'estimator'], 'LogisticRegression')
    """
    from sklearn.base import is_classifier, is_regressor
    from sklearn.pipeline import Pipeline

    cfg = check(model_cfg, MODEL, "model")
    task = cfg["task"] or schema.task
    if task != schema.task:
        raise ConfigError(
            f"model.task is {task!r} but data.schema.task is {schema.task!r}; choose a "
            f"{schema.task} model (e.g. -S model="
            + ("linear" if schema.task == "regression" else "logreg_tfidf")
            + ")."
        )
    estimator = _instantiate_estimator(cfg["estimator"] or {})
    if task == "classification" and not is_classifier(estimator):
        raise ConfigError(
            f"model.estimator {type(estimator).__name__} is not a classifier (model.task is classification)."
        )
    if task == "regression" and not is_regressor(estimator):
        raise ConfigError(f"model.estimator {type(estimator).__name__} is not a regressor (model.task is regression).")
    pipeline = Pipeline([("preprocess", _preprocessor(cfg["preprocessing"], schema)), ("estimator", estimator)])
    threads = cfg["threads"]
    # Read by fit_model (clone() drops it, so it is taken before cloning). OpenMP estimators
    # (HistGradientBoosting) slow down ~20x when their threads compete with other processes
    # for few cores; small demo fits are fastest single-threaded.
    pipeline.driftloop_threads = threads
    return pipeline


@dataclass(frozen=True)
class FitResult:
    """A fitted pipeline and its metrics on the data it saw.

    Attributes
    ----------
    model : sklearn.pipeline.Pipeline
    validation_metrics, train_metrics : dict of str to float
        Same keys as the compare metrics (``accuracy``, ``f1_macro``, ... or ``rmse``, ...).
    classes : list of str
        The fitted classes in ``predict_proba`` column order (empty for regression).
    """

    model: Any
    validation_metrics: dict = field(default_factory=dict)
    train_metrics: dict = field(default_factory=dict)
    classes: list = field(default_factory=list)


def features_frame(df: pd.DataFrame, schema: Schema, where: str) -> pd.DataFrame:
    """The feature columns of ``df`` in schema order (nullable pandas columns as numpy ones, so
    ``pd.NA`` imputes like ``NaN``), or a DataError naming what is missing."""
    from driftloop.batches import plain_missing

    missing = [c for c in schema.features if c not in df.columns]
    if missing:
        raise DataError(f"{where}: missing feature column(s) {missing}.")
    return plain_missing(df.loc[:, list(schema.features)])


def _target(df: pd.DataFrame, schema: Schema) -> np.ndarray:
    if schema.task == "regression":
        return pd.to_numeric(df[schema.label], errors="raise").to_numpy(dtype=float)
    return df[schema.label].astype(str).to_numpy()


def _fit_svd_to_vocabulary(model: Any, train: pd.DataFrame, schema: Schema) -> None:
    """Shrink a text branch's TruncatedSVD to ``vocabulary - 1`` components when needed.

    A configured 32 components must not fail a cycle whose window holds a smaller
    vocabulary; TruncatedSVD itself refuses ``n_components >= n_features``.
    """
    from sklearn.base import clone
    from sklearn.decomposition import TruncatedSVD

    for name, branch, columns in model.named_steps["preprocess"].transformers:
        if not name.startswith("text_") or not isinstance(branch[-1], TruncatedSVD):
            continue
        head = clone(branch[:-1]).fit(train.loc[:, columns])
        vocabulary = len(head[-1].vocabulary_)
        if branch[-1].n_components >= vocabulary:
            branch[-1].set_params(n_components=max(1, vocabulary - 1))


def fit_model(pipeline: Any, window: Any, schema: Schema) -> FitResult:
    """Fit a clone of ``pipeline`` on ``window.train`` and score train and validation.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        From :func:`build_model`; it is cloned, not modified.
    window : TrainingWindow
        ``train_weight`` (if any) is passed as the estimator's ``sample_weight``.
    schema : Schema

    Returns
    -------
    FitResult

    Raises
    ------
    DataError
        When the training rows hold a single class (classification).
    ModelError
        When the estimator refuses the data.
    """
    from sklearn.base import clone

    from driftloop.compare.metrics import point_metrics

    y = _target(window.train, schema)
    if schema.task == "classification" and len(np.unique(y)) < 2:
        raise DataError(
            f"the training window holds a single class {np.unique(y).tolist()} in column "
            f"{schema.label!r}; a classifier needs at least two."
        )
    from threadpoolctl import threadpool_limits

    threads = getattr(pipeline, "driftloop_threads", None)
    model = clone(pipeline)
    _fit_svd_to_vocabulary(model, window.train, schema)
    fit_params = {}
    if window.train_weight is not None:
        fit_params["estimator__sample_weight"] = np.asarray(window.train_weight, dtype=float)
    try:
        with threadpool_limits(limits=threads, user_api="openmp"):
            model.fit(features_frame(window.train, schema, "train"), y, **fit_params)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"fitting {type(model[-1]).__name__} failed: {exc}") from exc
    classes = [str(c) for c in getattr(model, "classes_", [])] if schema.task == "classification" else []

    def score(df: pd.DataFrame, where: str) -> dict[str, float]:
        if df.empty:
            return {}
        X = features_frame(df, schema, where)
        proba = model.predict_proba(X) if classes and hasattr(model, "predict_proba") else None
        return point_metrics(schema.task, _target(df, schema), model.predict(X), proba, tuple(classes) or None)

    with threadpool_limits(limits=threads, user_api="openmp"):
        return FitResult(
            model=model,
            validation_metrics=score(window.validation, "validation"),
            train_metrics=score(window.train, "train"),
            classes=classes,
        )
