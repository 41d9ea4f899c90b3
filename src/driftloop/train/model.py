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

A config file must not be able to run code, so before Hydra instantiates anything
:func:`check_targets` walks the whole estimator spec (nested ``_target_`` s in Pipeline steps,
ColumnTransformer transformers, lists) and, for every ``_target_``:

* it must lie under one of ``model.allowed_targets`` (module prefixes, default ``[sklearn.]``)
  and have no segment starting with ``_``;
* it is resolved without being called (import of its module, then ``getattr``); the object
  found, and every module passed on the way, must lie under the allowed prefixes too
  (``sklearn.os.system`` goes through the module ``os`` and is refused);
* it must be a class, a subclass of ``sklearn.base.BaseEstimator`` with ``fit`` and ``predict``
  or ``transform``: never a function.

Hydra's other special keys (``_partial_``, ``_recursive_``, ``_convert_``) are refused,
``_args_`` may hold plain values only, and no string may be an interpolation (``${...}``),
which Hydra would resolve while instantiating. Instantiating an allowed class then only runs
its ``__init__``, which in scikit-learn's convention stores the parameters.
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError, DataError, ModelError
from driftloop.schema import Schema
from driftloop.validation import Key, check, check_value

__all__ = [
    "DEFAULT_ALLOWED_TARGETS",
    "FitResult",
    "build_model",
    "check_targets",
    "features_frame",
    "fit_model",
    "fit_svd_to_vocabulary",
    "scored_fit",
    "target_values",
]

#: The module prefixes a ``_target_`` may come from unless ``model.allowed_targets`` says otherwise.
DEFAULT_ALLOWED_TARGETS: tuple[str, ...] = ("sklearn.",)
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
    "allowed_targets": Key(
        "names",
        DEFAULT_ALLOWED_TARGETS,
        doc="module prefixes a _target_ may name an estimator or transformer class under (e.g. sklearn., mypkg.models)",
    ),
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
    "max_features": Key("integer", 20000, low=1, nullable=True, doc="TF-IDF terms kept, the most frequent (null: all)"),
    "ngram_range": Key("int_pair", (1, 1), low=1, doc="[min, max] word n-gram lengths of the TF-IDF terms"),
    "min_df": Key("number", 1, low=0, low_open=True, doc="documents (int) or share of them (float)"),
    "sublinear_tf": Key("bool", True, doc="TF-IDF term frequency as 1 + log(tf)"),
    "svd_components": Key("integer", None, low=1, nullable=True, doc="reduce TF-IDF to this many (dense models)"),
    "lowercase": Key("bool", True, doc="lowercase the text before tokenising"),
}
CATEGORICAL: dict[str, Key] = {
    "min_frequency": Key(
        "number", None, low=0, low_open=True, nullable=True, doc="rarer levels pool into one infrequent level"
    ),
    # An id-like column (zip codes, merchants) must not become thousands of one-hot columns: the
    # most frequent levels keep their own column, the rest share the infrequent one.
    "max_levels": Key(
        "integer",
        100,
        low=2,
        nullable=True,
        doc="at most this many levels per column keep their own one-hot column (the most frequent; "
        "the rest pool into one infrequent level); null: no limit",
    ),
}
NUMERIC: dict[str, Key] = {
    "impute": Key("choice", "median", choices=("median", "mean", "most_frequent"), doc="how missing values are filled"),
    "scale": Key("bool", True, doc="standardise each numeric column (StandardScaler)"),
}


_MODULE_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*\.?")
#: Hydra's instantiate keys other than ``_target_``; ``_args_`` is read, with plain values only.
_HYDRA_KEYS = ("_partial_", "_recursive_", "_convert_")
#: Parameters of allowed classes that make them read or write files: ``memory`` (Pipeline,
#: FeatureUnion-like caches, AgglomerativeClustering, FeatureAgglomeration: a joblib cache folder,
#: whose pickles are loaded back) and a text vectorizer's ``input`` other than ``content`` (it then
#: opens each value as a file name). scikit-learn makes both keyword-only, so ``_args_`` cannot set them.
_FILE_PARAMS = {
    "memory": ("null", lambda v: v is None),
    "input": ("'content'", lambda v: v == "content"),
}
_ESTIMATOR = (
    "a scikit-learn estimator or transformer class "
    "(a subclass of sklearn.base.BaseEstimator with fit and predict or transform)"
)


def _allowed_prefixes(value: Any) -> tuple[str, ...]:
    """``model.allowed_targets`` checked: a list of dotted module names (a trailing ``.`` is optional)."""
    prefixes = check_value(value, Key("names"), "model.allowed_targets")
    for i, prefix in enumerate(prefixes):
        if not _MODULE_PATH.fullmatch(prefix):
            raise ConfigError(
                f"model.allowed_targets[{i}] must be a module or package name such as 'sklearn.' "
                f"(dotted identifiers). Got {prefix!r} instead."
            )
    return tuple(p.rstrip(".") for p in prefixes)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _resolve_class(target: str, where: str, prefixes: tuple[str, ...]) -> type:
    """The class ``target`` names, found without calling anything, or a ConfigError naming ``where``."""
    shown = [p + "." for p in prefixes]
    got = f"Got {target!r} instead."
    if not _under(target, prefixes):
        raise ConfigError(
            f"{where} is not allowed: it must name {_ESTIMATOR} under one of {shown} (model.allowed_targets). {got}"
        )
    parts = target.split(".")
    if not all(p.isidentifier() for p in parts) or any(p.startswith("_") for p in parts):
        raise ConfigError(
            f"{where} is not allowed: it must be a public dotted name (no segment starting with '_'). {got}"
        )
    # The longest importable module prefix (only names under the allow-list are ever imported).
    module: types.ModuleType | None = None
    n = len(parts) - 1
    while n >= 1:
        name = ".".join(parts[:n])
        try:
            module = importlib.import_module(name)
            break
        except ModuleNotFoundError as exc:
            if exc.name is None or not (name == exc.name or name.startswith(exc.name + ".")):
                raise ConfigError(f"{where}: importing {name!r} failed: {exc}. {got}") from exc
            n -= 1
        except Exception as exc:  # an allowed module that fails to import
            raise ConfigError(f"{where}: importing {name!r} failed: {exc}. {got}") from exc
    if module is None:
        raise ConfigError(f"{where} must name a class inside a module (package.module.Class). {got}")
    obj: Any = module
    for i, attr in enumerate(parts[n:], start=n):
        try:
            obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            raise ConfigError(
                f"{where}: {'.'.join(parts[:i])!r} has no attribute {attr!r}; expected {_ESTIMATOR}. {got}"
            ) from None
        if isinstance(obj, types.ModuleType) and not _under(obj.__name__, prefixes):
            raise ConfigError(
                f"{where} is not allowed: {'.'.join(parts[: i + 1])!r} is the module {obj.__name__!r}, "
                f"outside {shown} (model.allowed_targets). {got}"
            )
    if not inspect.isclass(obj):
        kind = "a function" if callable(obj) else f"a {type(obj).__name__}"
        raise ConfigError(f"{where} must name {_ESTIMATOR}, never a function. Got {target!r} ({kind}) instead.")
    module_name = getattr(obj, "__module__", None) or ""
    if not _under(module_name, prefixes):
        raise ConfigError(
            f"{where} is not allowed: {target!r} is {module_name}.{obj.__qualname__}, defined outside "
            f"{shown} (model.allowed_targets). {got}"
        )
    from sklearn.base import BaseEstimator

    if not (
        issubclass(obj, BaseEstimator)
        and callable(getattr(obj, "fit", None))
        and (callable(getattr(obj, "predict", None)) or callable(getattr(obj, "transform", None)))
    ):
        raise ConfigError(f"{where} must name {_ESTIMATOR}. Got {target!r} (a class without that interface) instead.")
    return obj


def check_targets(node: Any, where: str, allowed: tuple[str, ...] = DEFAULT_ALLOWED_TARGETS) -> None:
    """Refuse, before anything is instantiated, every ``_target_`` in ``node`` (at any depth) that
    is not an estimator or transformer class under ``allowed``, every Hydra key or
    interpolation that could make Hydra call something else, and the parameters that would make
    an allowed class touch files (a non-null ``memory``, an ``input`` other than ``content``).

    Parameters
    ----------
    node : mapping, list or value
        The estimator spec (``model.estimator``).
    where : str
        Its dotted name, used in every message (``model.estimator.steps[1][1]._target_``).
    allowed : tuple of str
        Module prefixes (``model.allowed_targets``).

    Raises
    ------
    ConfigError
        Naming the key path, what was expected and what was got.

    Examples
    --------
    >>> check_targets({"_target_": "sklearn.linear_model.Ridge", "alpha": 1.0}, "model.estimator")
    >>> check_targets({"_target_": "sklearn.base.clone"}, "model.estimator")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: model.estimator._target_ must name a scikit-learn ... class ..., never a function. ...
    """
    prefixes = tuple(p.rstrip(".") for p in allowed)
    _walk(node, where, prefixes, in_args=False)


def _walk(node: Any, where: str, prefixes: tuple[str, ...], in_args: bool) -> None:
    if isinstance(node, Mapping):
        for key in _HYDRA_KEYS:
            if key in node:
                raise ConfigError(
                    f"{where}.{key} is not allowed: an estimator spec takes _target_, its parameters and "
                    f"_args_ (plain values). Got {key}: {node[key]!r}."
                )
        if "_target_" in node:
            target = node["_target_"]
            if in_args:
                raise ConfigError(
                    f"{where}._target_ is not allowed inside _args_: pass nested estimators by keyword "
                    f"(e.g. steps: [[name, {{_target_: ...}}]]). Got {target!r}."
                )
            if not isinstance(target, str) or not target:
                raise ConfigError(f"{where}._target_ must be a dotted class name. Got {target!r} instead.")
            _resolve_class(target, f"{where}._target_", prefixes)
            for param, (expected, ok) in _FILE_PARAMS.items():
                if param in node and not ok(node[param]):
                    raise ConfigError(
                        f"{where}.{param} must be {expected}: a model config never makes an estimator read "
                        f"or write files of its choosing. Got {node[param]!r} instead."
                    )
        for key, value in node.items():
            if key == "_target_":
                continue
            _walk(value, f"{where}.{key}", prefixes, in_args or key == "_args_")
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            _walk(value, f"{where}[{i}]", prefixes, in_args)
    elif isinstance(node, str) and "${" in node:
        raise ConfigError(
            f"{where} must be a plain value, not an interpolation (Hydra would resolve it while "
            f"instantiating). Got {node!r} instead."
        )


def _instantiate_estimator(spec: Mapping[str, Any], allowed: tuple[str, ...]) -> Any:
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from sklearn.base import BaseEstimator

    if "_target_" not in spec:
        raise ConfigError("model.estimator needs a _target_ (e.g. sklearn.linear_model.LogisticRegression).")
    check_targets(spec, "model.estimator", allowed)
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
                        handle_unknown="infrequent_if_exist" if cat["min_frequency"] or cat["max_levels"] else "ignore",
                        min_frequency=_count_or_share(cat["min_frequency"]),
                        max_categories=cat["max_levels"],
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
        On an unknown key, a ``_target_`` that is not an estimator or transformer class
        under ``model.allowed_targets`` (see :func:`check_targets`; checked before anything is
        instantiated), an estimator that cannot be instantiated, or a model task that differs
        from the schema's task.

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
    estimator = _instantiate_estimator(cfg["estimator"] or {}, _allowed_prefixes(cfg["allowed_targets"]))
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


def target_values(df: pd.DataFrame, schema: Schema) -> np.ndarray:
    """The label as the model learns it: floats for regression, strings for classification."""
    if schema.task == "regression":
        return pd.to_numeric(df[schema.label], errors="raise").to_numpy(dtype=float)
    return df[schema.label].astype(str).to_numpy()


def fit_svd_to_vocabulary(model: Any, train: pd.DataFrame, schema: Schema) -> None:
    """Shrink a text branch's TruncatedSVD to ``vocabulary - 1`` components when needed.

    A configured 32 components must not fail a cycle whose window holds a smaller
    vocabulary; TruncatedSVD itself refuses ``n_components >= n_features``.
    """
    from sklearn.base import clone
    from sklearn.decomposition import TruncatedSVD

    for name, branch, columns in model.named_steps["preprocess"].transformers:
        if not name.startswith("text_") or not isinstance(branch[-1], TruncatedSVD):
            continue
        # Through features_frame, as the fit itself: the coerced text column is a pandas string
        # column, and its pd.NA stops the imputer ("boolean value of NA is ambiguous").
        head = clone(branch[:-1]).fit(features_frame(train, schema, "train").loc[:, columns])
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

    y = target_values(window.train, schema)
    if schema.task == "classification" and len(np.unique(y)) < 2:
        raise DataError(
            f"the training window holds a single class {np.unique(y).tolist()} in column "
            f"{schema.label!r}; a classifier needs at least two."
        )
    from threadpoolctl import threadpool_limits

    threads = getattr(pipeline, "driftloop_threads", None)
    model = clone(pipeline)
    fit_svd_to_vocabulary(model, window.train, schema)
    fit_params = {}
    if window.train_weight is not None:
        fit_params["estimator__sample_weight"] = np.asarray(window.train_weight, dtype=float)
    try:
        with threadpool_limits(limits=threads, user_api="openmp"):
            model.fit(features_frame(window.train, schema, "train"), y, **fit_params)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"fitting {type(model[-1]).__name__} failed: {exc}") from exc
    return scored_fit(model, window, schema, threads)


def scored_fit(model: Any, window: Any, schema: Schema, threads: int | None = None) -> FitResult:
    """The fitted ``model`` with its metrics on ``window.train`` and ``window.validation``.

    The train metrics are measured on the rows the model was fitted on, as the caller passes them:
    the whole training split under ``train.strategy`` ``full`` and ``incremental`` (``partial_fit``
    saw every row), the sample under ``sample`` (:func:`driftloop.train.strategy.fit_with_strategy`
    passes the sampled window). The validation metrics are always on the whole validation split.
    """
    from threadpoolctl import threadpool_limits

    from driftloop.compare.metrics import point_metrics
    from driftloop.compare.predict import final_step

    classes = [str(c) for c in getattr(model, "classes_", [])] if schema.task == "classification" else []

    def score(df: pd.DataFrame, where: str) -> dict[str, float]:
        if df.empty:
            return {}
        last, X = final_step(model, features_frame(df, schema, where))  # the transforms once, not per method
        proba = last.predict_proba(X) if classes and hasattr(last, "predict_proba") else None
        return point_metrics(schema.task, target_values(df, schema), last.predict(X), proba, tuple(classes) or None)

    with threadpool_limits(limits=threads, user_api="openmp"):
        return FitResult(
            model=model,
            validation_metrics=score(window.validation, "validation"),
            train_metrics=score(window.train, "train"),
            classes=classes,
        )
