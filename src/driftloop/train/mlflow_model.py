"""MLflow-facing helpers for the retrain stage: log the challenger and its datasets.

Both are meant to be called inside an active run (the lead's stage shell opens it).
MLflow is imported here only, so the rest of ``driftloop.train`` stays fast to import.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Any

import pandas as pd

from driftloop.errors import ModelError, RegistryError

__all__ = ["infer_model_signature", "log_sklearn_model", "log_training_datasets", "model_pip_requirements"]

#: What a scikit-learn pipeline built by driftloop.train.model needs to load and predict.
_RUNTIME_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy")


def model_pip_requirements(serialization_format: str = "skops", extra: Iterable[str] = ()) -> list[str]:
    """Pin the packages the logged model needs to the versions installed here.

    Explicit requirements also skip MLflow's requirement inference (~14 s per model).
    """
    packages = list(_RUNTIME_PACKAGES) + (["cloudpickle"] if serialization_format == "cloudpickle" else ["skops"])
    return [f"{p}=={metadata.version(p)}" for p in packages] + list(extra)


def infer_model_signature(model: Any, input_example: pd.DataFrame) -> Any:
    """Signature from the input example and the model's ``predict_proba`` (else ``predict``) output."""
    from mlflow.models import infer_signature

    output = model.predict_proba(input_example) if hasattr(model, "predict_proba") else model.predict(input_example)
    if output.ndim == 2 and hasattr(model, "classes_"):
        output = pd.DataFrame(output, columns=[str(c) for c in model.classes_])
    return infer_signature(input_example, output)


def log_sklearn_model(
    model: Any,
    name: str,
    input_example: pd.DataFrame,
    signature: Any = None,
    serialization_format: str = "skops",
    registered_model_name: str | None = None,
    extra_pip_requirements: Iterable[str] = (),
    allowed_targets: Iterable[str] = ("sklearn.",),
) -> str:
    """Log a fitted pipeline as an MLflow sklearn model in the active run.

    Parameters
    ----------
    model : sklearn.pipeline.Pipeline
        Fitted (e.g. ``FitResult.model``).
    name : str
        Model name within the run (``mlflow.sklearn.log_model(name=...)``), e.g. "challenger".
    input_example : pandas.DataFrame
        A few rows of the feature columns (stored with the model; their dtypes become
        the signature's input schema).
    signature : mlflow.models.ModelSignature, optional
        Inferred from ``input_example`` and the ``predict_proba`` output when omitted.
    serialization_format : {"skops", "cloudpickle"}
        skops by default: no code runs when it is loaded, and driftloop's loader
        (:func:`driftloop.compare.predict.load_model`) refuses pickled folders unless
        ``compare.allow_pickle_models``. The ``skops_trusted_types`` written to MLmodel are
        the types driftloop's loader will trust (:func:`driftloop.compare.model_format.trusted_types`):
        a model holding any other type is refused here, when it is saved, rather than at load.
        "cloudpickle" is kept for tests and for exporting to tools that need it.
    registered_model_name : str, optional
        Also register a version (the promote stage normally does that).
    extra_pip_requirements : iterable of str
    allowed_targets : iterable of str
        ``model.allowed_targets``: classes under these module prefixes are trusted in the skops file.

    Returns
    -------
    str
        The model URI (``models:/<model_id>``), loadable by
        :func:`driftloop.compare.predict.load_model` and ``mlflow.sklearn.load_model``.

    Raises
    ------
    RegistryError
        When MLflow refuses to log the model.
    ModelError
        When the model holds a type driftloop's loader would not trust (skops).

    Examples
    --------
    Not run as a doctest: it needs an MLflow tracking store and a fitted training window.

    >>> with mlflow.start_run():  # doctest: +SKIP
    ...     uri = log_sklearn_model(fit.model, "challenger", window.train[list(schema.features)].head(5))
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if serialization_format not in ("cloudpickle", "skops"):
        raise ModelError(f"serialization_format must be 'cloudpickle' or 'skops'. Got {serialization_format!r}.")
    plain_vocabularies(model)
    if signature is None:
        signature = infer_model_signature(model, input_example)
    kwargs: dict[str, Any] = {}
    if serialization_format == "skops":
        from driftloop.compare.model_format import trusted_types

        try:
            kwargs["skops_trusted_types"] = trusted_types(skops_untrusted_types(model), allowed_targets)
        except ModelError as exc:
            raise ModelError(f"the model {name!r} cannot be saved as skops: it holds {exc}.") from None
    try:
        info = mlflow.sklearn.log_model(
            model,
            name=name,
            signature=signature,
            input_example=input_example,
            serialization_format=serialization_format,
            pip_requirements=model_pip_requirements(serialization_format, extra_pip_requirements),
            registered_model_name=registered_model_name,
            **kwargs,
        )
    except MlflowException as exc:
        raise RegistryError(f"MLflow refused to log the model {name!r}: {exc}") from exc
    return info.model_uri


def skops_untrusted_types(model: Any) -> list[str]:
    """The types a skops file of ``model`` would hold that skops does not trust by default.

    Exactly ``skops.io.get_untrusted_types(data=skops.io.dumps(model))``, but the schema is written
    without indentation: skops indents it, which makes :func:`json.dumps` fall back to its pure
    Python encoder, and a 20,000-term text vocabulary is then millions of encoder calls (4.7 s at
    1M rows a window, once more when MLflow saves the model). Whitespace is all that differs, and
    the audit reads only the parsed schema. skops has no public way to skip the indentation, so
    this repeats ``skops.io._persist._save`` (skops is pinned with the model).
    """
    import io
    import json
    from zipfile import ZIP_STORED, ZipFile

    import skops
    import skops.io

    try:
        from skops.io._utils import SaveContext, get_state
    except ImportError:  # a skops whose private helpers moved: its public audit, slower, same answer
        return list(skops.io.get_untrusted_types(data=skops.io.dumps(model)))
    buffer = io.BytesIO()
    with ZipFile(buffer, "w", compression=ZIP_STORED) as zip_file:
        context = SaveContext(zip_file=zip_file)
        state = get_state(model, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        zip_file.writestr("schema.json", json.dumps(state))
    return list(skops.io.get_untrusted_types(data=buffer.getvalue()))


def plain_vocabularies(model: Any) -> None:
    """Make every fitted text vectorizer's ``vocabulary_`` values plain ints, in place.

    scikit-learn leaves them numpy integers once ``max_features`` sorted the terms, and skops
    saves each numpy scalar as an array entry of its zip, checking the zip's whole name list for
    each: quadratic in the vocabulary (20,000 terms: 11 s per save, and a logged model is saved
    twice). Plain ints save in a second; predictions are unchanged (the values are only indices).
    """
    if isinstance(getattr(model, "vocabulary_", None), dict):
        model.vocabulary_ = {term: int(index) for term, index in model.vocabulary_.items()}
    for child in [*(getattr(model, "steps", None) or []), *(getattr(model, "transformers_", None) or [])]:
        if isinstance(child, tuple) and len(child) >= 2:
            plain_vocabularies(child[1])


def log_training_datasets(window: Any, schema: Any, source: str | None = None, name_prefix: str = "") -> dict[str, str]:
    """Log the window's train, validation and holdout frames as MLflow dataset inputs.

    Each is logged with ``mlflow.data.from_pandas`` (its digest is MLflow's content
    hash of the frame) and context ``training`` / ``validation`` / ``holdout``.

    Parameters
    ----------
    window : TrainingWindow
    schema : Schema
        ``schema.label`` becomes the datasets' ``targets``.
    source : str, optional
        Where the data came from (e.g. the DVC path and md5) recorded as the dataset source.
    name_prefix : str
        Prefix of the dataset names ("" gives "train", "validation", "holdout").

    Returns
    -------
    dict of str to str
        Context -> digest, for tags or reports.
    """
    import mlflow

    from driftloop.tracking import pandas_dataset

    digests: dict[str, str] = {}
    for context, frame in (("training", window.train), ("validation", window.validation), ("holdout", window.holdout)):
        if frame is None or frame.empty:
            continue
        name = f"{name_prefix}{'train' if context == 'training' else context}"
        dataset = pandas_dataset(frame, source=source, targets=schema.label, name=name)
        mlflow.log_input(dataset, context=context)
        digests[context] = dataset.digest
    return digests
