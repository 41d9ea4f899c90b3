"""Safe model folders: skops with an explicit trusted-types list, pickles only on request.

A model folder (a local MLflow model directory, or the artifacts of ``models:/…`` / ``runs:/…``
downloaded first) is inspected **before anything in it is deserialised**:

* its ``MLmodel`` is read as plain YAML. A scikit-learn flavour saved as ``pickle`` or
  ``cloudpickle`` (the format MLflow assumes when the key is absent), a folder holding a
  ``*.pkl`` / ``*.pickle`` / ``*.cloudpickle`` / ``*.joblib`` file, or a folder with no
  scikit-learn flavour (other flavours are loaded by code MLflow unpickles or imports) is
  refused with a :class:`~driftloop.errors.ModelError` naming the folder and the format, unless
  ``compare.allow_pickle_models`` is true (then MLflow loads it as before: only for folders
  you trust, e.g. a champion registered by a driftloop older than the skops format);
* a skops file is loaded with a trusted-types list driftloop derives itself, never the
  ``skops_trusted_types`` the folder's ``MLmodel`` claims: the fixed :data:`TRUSTED_TYPES`
  (what the shipped model configs produce beyond skops' own defaults), plus the classes the
  file names under ``model.allowed_targets`` (the module prefixes a config's ``_target_`` may
  name, default ``[sklearn.]``), each resolved without being called and required to be a
  class defined there. Any other type (a function, a class elsewhere) refuses the folder.
"""

from __future__ import annotations

import importlib
import inspect
import shutil
import tempfile
import types
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from driftloop.errors import ModelError

__all__ = [
    "DEFAULT_MODEL_PREFIXES",
    "PICKLE_SUFFIXES",
    "TRUSTED_TYPES",
    "check_model_folder",
    "load_options",
    "load_skops",
    "model_folder",
    "trusted_types",
]

#: The prefixes of ``model.allowed_targets``' default (``driftloop.train.model.DEFAULT_ALLOWED_TARGETS``;
#: a test keeps them equal without this module importing the train package).
DEFAULT_MODEL_PREFIXES: tuple[str, ...] = ("sklearn.",)
#: Types skops does not trust by default that driftloop's shipped model configs produce:
#: dtypes, the text columns' ``FunctionTransformer(np.ravel)`` and HistGradientBoosting's trees.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "numpy.ravel",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
#: Files whose presence marks a folder as holding a pickle.
PICKLE_SUFFIXES: tuple[str, ...] = (".pkl", ".pickle", ".cloudpickle", ".joblib")
_SAFE_FORMAT = "skops"
_OPT_IN = (
    "Loading a pickle runs whatever code it holds: only if you trust this folder (e.g. a champion "
    "registered by a driftloop older than the skops format), set compare.allow_pickle_models: true "
    "(conf/compare/<option>.yaml, then `driftloop params`; for `driftloop compare`: "
    "-s compare.allow_pickle_models=true)."
)


def _prefixes(allowed: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(p).rstrip(".") for p in allowed if str(p).strip("."))


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_local(uri: str) -> Path | None:
    if uri.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(uri).path))
    if "://" in uri or uri.startswith(("models:", "runs:")):
        return None
    return Path(uri)


@contextmanager
def model_folder(uri: str) -> Iterator[Path]:
    """The local folder of model ``uri``: the path itself, or its artifacts downloaded to a
    temporary folder (removed on exit). Nothing in it is loaded.

    Raises
    ------
    ModelError
        Naming the URI when it does not resolve, or when its scheme needs a package that is not
        installed (``s3://`` without boto3).
    """
    local = _is_local(uri)
    if local is not None:
        if not local.is_dir():
            raise ModelError(f"model URI {uri!r} does not resolve to a loadable MLflow model: {local} is not a folder.")
        yield local
        return
    import mlflow
    from mlflow.exceptions import MlflowException

    tmp = Path(tempfile.mkdtemp(prefix="driftloop-model-"))
    try:
        try:
            path = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(tmp)))
        except ImportError as exc:  # e.g. s3:// needs boto3 (botocore), an optional dependency of MLflow
            scheme = uri.partition("://")[0] if "://" in uri else uri.partition(":")[0]
            hint = " (s3:// URIs need boto3: pip install boto3)" if scheme in ("s3", "s3a") else ""
            raise ModelError(
                f"model URI {uri!r} cannot be fetched: its {scheme}: scheme needs the Python package "
                f"{exc.name or exc}, which is not installed{hint}."
            ) from exc
        except (MlflowException, OSError, ValueError) as exc:
            raise ModelError(
                f"model URI {uri!r} does not resolve to a loadable MLflow model: "
                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from exc
        yield path if path.is_dir() else path.parent
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_options(cfg: Any) -> dict[str, Any]:
    """``load_model`` keyword arguments from the composed config: ``compare.allow_pickle_models``
    (checked against the ``compare`` Key table) and ``model.allowed_targets``.

    Examples
    --------
    >>> load_options({"compare": {"allow_pickle_models": True}})
    {'allow_pickle': True, 'allowed_targets': ('sklearn.',)}
    """
    from driftloop.compare.config import TABLE
    from driftloop.validation import Key, check_value

    compare = cfg.get("compare") if isinstance(cfg, Mapping) else None
    flag = compare.get("allow_pickle_models") if isinstance(compare, Mapping) else None
    allow = TABLE["allow_pickle_models"].default if flag is None else flag
    allow = check_value(allow, TABLE["allow_pickle_models"], "compare.allow_pickle_models")
    model = cfg.get("model") if isinstance(cfg, Mapping) else None
    targets = model.get("allowed_targets") if isinstance(model, Mapping) else None
    allowed = DEFAULT_MODEL_PREFIXES if targets is None else check_value(targets, Key("names"), "model.allowed_targets")
    return {"allow_pickle": bool(allow), "allowed_targets": tuple(allowed)}


def check_model_folder(folder: Path, label: str, allow_pickle: bool = False) -> Path | None:
    """Read ``folder/MLmodel`` (plain YAML) and say how the model may be loaded.

    Returns
    -------
    Path or None
        The skops file to load with :func:`load_skops`; None when the folder holds a pickle
        (or another flavour) and ``allow_pickle`` is true: MLflow must load it.

    Raises
    ------
    ModelError
        Naming ``label`` (the URI or folder) and the format, when the folder holds a pickle or a
        flavour other than scikit-learn and ``allow_pickle`` is false, or has no readable MLmodel.
    """
    import yaml

    mlmodel = folder / "MLmodel"
    try:
        meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelError(f"model folder {label} has no readable MLmodel file ({mlmodel}): {exc}") from exc
    flavors = meta.get("flavors") if isinstance(meta, dict) else None
    if not isinstance(flavors, dict):
        raise ModelError(f"model folder {label}: its MLmodel file ({mlmodel}) has no flavors mapping.")
    sk = flavors.get("sklearn")
    pickles = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file()
    )
    problem = None
    if not isinstance(sk, dict):
        problem = f"flavour(s) {sorted(flavors)} (not scikit-learn saved as skops; MLflow would unpickle or import it)"
    elif (fmt := str(sk.get("serialization_format", "pickle"))) != _SAFE_FORMAT:
        problem = f"a scikit-learn model saved as {fmt!r} (serialization_format in {mlmodel.name})"
    elif pickles:
        problem = f"pickle file(s) {pickles}"
    if problem is not None:
        if allow_pickle:
            return None
        raise ModelError(f"model folder {label} holds {problem}; it was refused before loading. {_OPT_IN}")
    assert isinstance(sk, dict)
    data = (folder / str(sk.get("pickled_model", "model.skops"))).resolve()
    if not data.is_relative_to(folder.resolve()) or not data.is_file():
        raise ModelError(
            f"model folder {label}: its MLmodel names the model file {sk.get('pickled_model')!r}, "
            "which is not a file inside the folder."
        )
    return data


def _resolves_to_class(name: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``name`` is a class defined under ``prefixes``, found by importing modules under
    them only and ``getattr_static`` (nothing is called)."""
    if not _under(name, prefixes):
        return False
    parts = name.split(".")
    if not all(p.isidentifier() for p in parts):
        return False
    module: types.ModuleType | None = None
    n = len(parts) - 1
    while n >= 1 and module is None:
        try:
            module = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            n -= 1
        except Exception:
            return False
    if module is None:
        return False
    obj: Any = module
    for attr in parts[n:]:
        try:
            obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            return False
    return (
        inspect.isclass(obj)
        and _under(str(getattr(obj, "__module__", "")), prefixes)
        and f"{obj.__module__}.{obj.__qualname__}" == name
    )


def trusted_types(untrusted: Iterable[str], allowed_targets: Iterable[str] = DEFAULT_MODEL_PREFIXES) -> list[str]:
    """The explicit trusted list for a skops file whose untrusted types are ``untrusted``.

    Raises
    ------
    ModelError
        Naming every type neither in :data:`TRUSTED_TYPES` nor a class under ``allowed_targets``
        (the message's start; callers add the folder).

    Examples
    --------
    >>> trusted_types(["numpy.dtype", "sklearn.linear_model._logistic.LogisticRegression"])
    ['numpy.dtype', 'sklearn.linear_model._logistic.LogisticRegression']
    >>> trusted_types(["builtins.eval"])
    Traceback (most recent call last):
    ...
    driftloop.errors.ModelError: untrusted type(s) ['builtins.eval'] ...
    """
    prefixes = _prefixes(allowed_targets)
    names = sorted(set(untrusted))
    refused = [t for t in names if t not in TRUSTED_TYPES and not _resolves_to_class(t, prefixes)]
    if refused:
        raise ModelError(
            f"untrusted type(s) {refused} (driftloop trusts {list(TRUSTED_TYPES)} and classes under "
            f"model.allowed_targets {[p + '.' for p in prefixes]}; never functions or other modules' classes)"
        )
    return names


def load_skops(data: Path, label: str, allowed_targets: Iterable[str] = DEFAULT_MODEL_PREFIXES) -> Any:
    """Load a skops file with driftloop's own trusted-types list (:func:`trusted_types`).

    Raises
    ------
    ModelError
        Naming ``label`` and the untrusted types, or why the file cannot be read.
    """
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        untrusted = skops.io.get_untrusted_types(file=data)
    except Exception as exc:  # a crafted or truncated zip: BadZipFile, KeyError, JSON errors...
        raise ModelError(f"model folder {label}: {data.name} is not a readable skops file: {exc}") from exc
    try:
        trusted = trusted_types(untrusted, allowed_targets)
    except ModelError as exc:
        raise ModelError(f"model folder {label}: {data.name} holds {exc}; it was refused before loading.") from None
    try:
        return skops.io.load(data, trusted=trusted)
    except UntrustedTypesFoundException as exc:
        raise ModelError(f"model folder {label}: {data.name} holds untrusted types: {exc}") from exc
    except (OSError, ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise ModelError(f"model folder {label}: {data.name} cannot be loaded: {exc}") from exc
