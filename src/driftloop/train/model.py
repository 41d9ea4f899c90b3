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

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError, DataError, ModelError
from driftloop.schema import Schema

__all__ = ["ALLOWED_PREFIXES", "FitResult", "build_model", "fit_model", "features_frame"]

ALLOWED_PREFIXES: tuple[str, ...] = ("sklearn.", "driftloop.")
_MODEL_KEYS = ("name", "task", "estimator", "preprocessing", "threads")
_PRE_KEYS = ("text", "categorical", "numeric", "dense", "seed")
_TEXT_KEYS = ("max_features", "ngram_range", "min_df", "sublinear_tf", "svd_components", "lowercase")
_CAT_KEYS = ("min_frequency",)
_NUM_KEYS = ("impute", "scale")


def _reject_unknown(mapping: Mapping[str, Any], known: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"{where} must be a mapping. Got {mapping!r} instead.")
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise ConfigError(f"{where} has unknown key(s) {unknown}; expected some of {list(known)}.")
    return dict(mapping)


def _check_targets(node: Any, where: str) -> None:
    """Refuse any ``_target_`` outside the allow-list, at any depth."""
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(ALLOWED_PREFIXES):
            raise ConfigError(f"{where}._target_ {target!r} is not allowed; targets must start with one of "
                              f"{list(ALLOWED_PREFIXES)}.")
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

    pre = _reject_unknown(pre or {}, _PRE_KEYS, "model.preprocessing")
    text = _reject_unknown(pre.get("text") or {}, _TEXT_KEYS, "model.preprocessing.text")
    cat = _reject_unknown(pre.get("categorical") or {}, _CAT_KEYS, "model.preprocessing.categorical")
    num = _reject_unknown(pre.get("numeric") or {}, _NUM_KEYS, "model.preprocessing.numeric")
    seed = int(pre.get("seed", 0))
    steps = []
    for col in schema.numeric:
        parts = [SimpleImputer(strategy=num.get("impute", "median"))]
        if num.get("scale", True):
            parts.append(StandardScaler())
        steps.append((f"num_{col}", make_pipeline(*parts), [col]))
    if schema.categorical:
        steps.append(("cat", make_pipeline(
            # Missing categories become their own level instead of failing the encoder.
            SimpleImputer(strategy="constant", fill_value="__missing__"),
            OneHotEncoder(handle_unknown="infrequent_if_exist" if cat.get("min_frequency") else "ignore",
                          min_frequency=cat.get("min_frequency"), sparse_output=not pre.get("dense", False)),
        ), list(schema.categorical)))
    for col in schema.text:
        tfidf = TfidfVectorizer(
            max_features=text.get("max_features", 20000),
            ngram_range=tuple(text.get("ngram_range", (1, 1))),
            min_df=text.get("min_df", 1),
            sublinear_tf=text.get("sublinear_tf", True),
            lowercase=text.get("lowercase", True),
        )
        # TfidfVectorizer wants a 1-D column of strings; missing text becomes "". Only
        # scikit-learn and numpy objects go into the pipeline, so the logged model loads
        # wherever scikit-learn is installed (no driftloop import needed to serve it).
        parts = [SimpleImputer(strategy="constant", fill_value=""), FunctionTransformer(np.ravel), tfidf]
        if text.get("svd_components"):
            # fit_model shrinks n_components to the vocabulary when it is smaller.
            parts.append(TruncatedSVD(n_components=int(text["svd_components"]), random_state=seed))
        steps.append((f"text_{col}", make_pipeline(*parts), [col]))
    # sparse_threshold=0 forces a dense matrix for estimators that refuse sparse input.
    return ColumnTransformer(steps, sparse_threshold=0.0 if pre.get("dense", False) else 0.3)


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
    >>> build_model({"task": "classification", "estimator": {
    ...     "_target_": "sklearn.linear_model.LogisticRegression", "random_state": 0}}, schema)  # doctest: +SKIP
    """
    from sklearn.base import is_classifier, is_regressor
    from sklearn.pipeline import Pipeline

    cfg = _reject_unknown(model_cfg, _MODEL_KEYS, "model")
    task = cfg.get("task", schema.task)
    if task != schema.task:
        raise ConfigError(f"model.task is {task!r} but data.schema.task is {schema.task!r}; choose a "
                          f"{schema.task} model (e.g. -S model=" + ("linear" if schema.task == "regression"
                                                                    else "logreg_tfidf") + ").")
    estimator = _instantiate_estimator(cfg.get("estimator") or {})
    if task == "classification" and not is_classifier(estimator):
        raise ConfigError(f"model.estimator {type(estimator).__name__} is not a classifier (model.task is "
                          "classification).")
    if task == "regression" and not is_regressor(estimator):
        raise ConfigError(f"model.estimator {type(estimator).__name__} is not a regressor (model.task is "
                          "regression).")
    pipeline = Pipeline([("preprocess", _preprocessor(cfg.get("preprocessing") or {}, schema)),
                         ("estimator", estimator)])
    threads = cfg.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"model.threads must be an integer >= 1 or null. Got {threads!r} instead.")
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
    """The feature columns of ``df`` in schema order, or a DataError naming what is missing."""
    missing = [c for c in schema.features if c not in df.columns]
    if missing:
        raise DataError(f"{where}: missing feature column(s) {missing}.")
    return df.loc[:, list(schema.features)]


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
        raise DataError(f"the training window holds a single class {np.unique(y).tolist()} in column "
                        f"{schema.label!r}; a classifier needs at least two.")
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
        return point_metrics(schema.task, _target(df, schema), model.predict(X), proba,
                             tuple(classes) or None)

    with threadpool_limits(limits=threads, user_api="openmp"):
        return FitResult(model=model, validation_metrics=score(window.validation, "validation"),
                         train_metrics=score(window.train, "train"), classes=classes)
