"""MLflow at the edge: where runs go and how a cycle is laid out.

One experiment per project; one parent run per cycle (opened by the snapshot
stage, whose manifest carries its id: :mod:`driftloop.cycle_run`); one child run per stage execution. Metric
keys are stable across cycles so the MLflow UI compares cycles side by side.

Stage modules reach MLflow tracking only through this module (the registry through
:mod:`driftloop.promote.registry`), so that none of them imports a framework.

``mlflow`` is imported lazily: it costs seconds, and five stage processes would
pay it five times.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from driftloop.config import project_root, reject_unknown
from driftloop.errors import ConfigError, RegistryError
from driftloop.redact import redact, refuse_credentials

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

from driftloop.tags import TAG_CYCLE_RUN_ID, TAG_GIT_COMMIT, TAG_STAGE

DEFAULT_RETRY_MAX_SECONDS = 30.0
# MLflow's own HTTP retries (default 7, backoff factor 2: minutes) and timeout (120 s) are set
# small unless the user set them, so that driftloop's policy below governs the total time.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
# HTTP statuses worth another try; a bare 500 is not one (MlflowException's default code maps to
# 500, so it would retry genuine refusals and bugs too).
TRANSIENT_HTTP_STATUS = frozenset({429, 502, 503, 504})

_T = TypeVar("_T")
_retry_max_seconds = DEFAULT_RETRY_MAX_SECONDS
_configured_uri: str | None = None


def is_transient(exc: BaseException) -> bool:
    """True for an error another try may cure: a refused, reset or timed-out connection (anywhere
    in the exception's cause/context chain, as MLflow wraps requests' errors), or an HTTP 429,
    502, 503 or 504. False for everything else: a refusal, a missing entity, a bug.

    >>> is_transient(ConnectionRefusedError(111, "Connection refused"))
    True
    >>> is_transient(ValueError("bad"))
    False
    """
    import sys

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)):
            return True
        requests = sys.modules.get("requests")
        if requests is not None and isinstance(
            current, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.RetryError)
        ):
            return True
        urllib3 = sys.modules.get("urllib3")
        urllib3_transient = (
            (urllib3.exceptions.MaxRetryError, urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError)
            if urllib3 is not None
            else ()
        )
        if isinstance(current, urllib3_transient):
            return True
        status = getattr(current, "get_http_status_code", None)
        if callable(status) and status() in TRANSIENT_HTTP_STATUS:
            return True
        current = current.__cause__ or current.__context__
    return False


def retrying(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """``fn(*args, **kwargs)``, retried with exponential backoff (0.5 s, 1 s, 2 s, ... at most 8 s)
    while it fails with a transient error (:func:`is_transient`), for at most
    ``tracking.retry.max_seconds`` in total; then the last error is raised as it was. Only for
    idempotent calls (a get, a search, a tag or metric set again to the same value).

    The first attempt runs without tenacity, which is imported only once a call failed: most
    stages never retry, and the import is part of every stage's fixed cost otherwise."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if not is_transient(exc):
            raise
    import tenacity

    policy = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_delay(_retry_max_seconds),
        wait=tenacity.wait_exponential(multiplier=0.5, max=8),
        reraise=True,
    )
    return policy(fn, *args, **kwargs)


class TrackingUnreachableError(RegistryError):
    """:func:`unreachable_error`'s error: it already names the server and what to do, so it is
    never wrapped again."""


def unreachable_error(exc: BaseException) -> RegistryError | None:
    """A :class:`RegistryError` (exit 5) naming the tracking URI (credentials masked) and what to
    do, when ``exc`` is a transient tracking error; None otherwise.

    A :class:`RegistryError` raised ``from`` a transient error counts as one: the registry and
    model-logging helpers wrap MLflow's failures as "MLflow refused to ...", which for a server
    that is down or was killed mid-call misleads (the rerun advice is what the user needs).
    """
    if isinstance(exc, TrackingUnreachableError):
        return exc
    if isinstance(exc, RegistryError):
        # Only an explicit cause: a deliberate refusal raised while handling some other error
        # (its implicit context) stays as written.
        cause = exc.__cause__
        if cause is None or not is_transient(cause):
            return None
        exc = cause
    elif not is_transient(exc):
        return None
    uri = _configured_uri
    if uri is None:
        import sys

        mlflow = sys.modules.get("mlflow")
        uri = mlflow.get_tracking_uri() if mlflow is not None else "(not configured)"
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    reason = reason if len(reason) <= 200 else reason[:200] + "..."
    return TrackingUnreachableError(
        redact(
            f"the MLflow tracking server at {uri} is unreachable or failing (idempotent calls are "
            f"retried for up to {_retry_max_seconds:g} s, tracking.retry.max_seconds): {reason}. Start it "
            f"again (or fix MLFLOW_TRACKING_URI / tracking.uri) and rerun the stage: a rerun registers no "
            f"duplicate model version."
        )
    )


@contextlib.contextmanager
def unreachable_as_registry_error() -> Iterator[None]:
    """Turn a transient tracking error escaping the block (or a :class:`RegistryError` raised from
    one) into :func:`unreachable_error`; every other error passes unchanged."""
    try:
        yield
    except Exception as exc:
        err = unreachable_error(exc)
        if err is None or err is exc:
            raise
        raise err from exc


@dataclass(frozen=True)
class TrackingConfig:
    """Where MLflow tracking, registry and artifacts live."""

    uri: str
    artifact_root: str | None
    experiment: str
    retry_max_seconds: float = DEFAULT_RETRY_MAX_SECONDS

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any]) -> TrackingConfig:
        """Raises :class:`~driftloop.errors.ConfigError` for an unknown key, a ``retry.max_seconds``
        that is not a positive number, or a ``uri`` or ``artifact_root`` holding credentials
        (:func:`driftloop.redact.refuse_credentials`)."""
        reject_unknown(cfg, {"uri", "artifact_root", "experiment", "retry"}, "tracking")
        for key in ("uri", "artifact_root"):
            refuse_credentials(cfg.get(key), f"tracking.{key}")
        retry = cfg.get("retry") or {}
        if not isinstance(retry, Mapping):
            raise ConfigError(f"tracking.retry must be a mapping (max_seconds: ...), got {retry!r}.")
        reject_unknown(retry, {"max_seconds"}, "tracking.retry")
        max_seconds = retry.get("max_seconds", DEFAULT_RETRY_MAX_SECONDS)
        if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) or not max_seconds > 0:
            raise ConfigError(f"tracking.retry.max_seconds must be a positive number of seconds, got {max_seconds!r}.")
        return cls(
            uri=str(cfg.get("uri") or "sqlite:///mlflow.db"),
            artifact_root=cfg.get("artifact_root"),
            experiment=str(cfg.get("experiment") or "driftloop"),
            retry_max_seconds=float(max_seconds),
        )

    def resolved_uri(self) -> str:
        """``MLFLOW_TRACKING_URI`` if set, else the configured URI with a relative sqlite path
        made absolute against the project root. A URI holding credentials is refused."""
        env = os.environ.get("MLFLOW_TRACKING_URI")
        if env:
            refuse_credentials(env, "MLFLOW_TRACKING_URI (environment)")
            return env
        return absolute_sqlite_uri(self.uri, project_root())

    def resolved_artifact_location(self) -> str | None:
        """The artifact folder for a new experiment, only for a local store: with a tracking
        server (configured or via ``MLFLOW_TRACKING_URI``) the server decides, so that every
        host can load the models it serves."""
        if not self.artifact_root or not self.resolved_uri().startswith(("sqlite:", "file:", "/")):
            return None
        path = Path(self.artifact_root)
        if "://" in self.artifact_root:
            return self.artifact_root
        return (project_root() / path).resolve().as_uri()


def absolute_sqlite_uri(uri: str, root: Path) -> str:
    """Make ``sqlite:///relative.db`` absolute against ``root``; other URIs pass through."""
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if not path.startswith("/"):
            return prefix + str((root / path).resolve())
    return uri


def _set_tracking_uri(uri: str) -> None:
    """Point MLflow at ``uri`` through ``MLFLOW_TRACKING_URI``, which MLflow reads when no URI was
    set in this process (what :func:`mlflow.set_tracking_uri` also sets, for subprocesses).

    ``mlflow.set_tracking_uri`` also resets MLflow's tracing provider, which imports
    OpenTelemetry's metrics SDK: 0.2-0.25 s of every stage (measured), though no stage traces.
    It is called only when a URI set earlier in this process (a test, a notebook) would win.
    """
    import mlflow

    os.environ["MLFLOW_TRACKING_URI"] = uri
    if mlflow.get_tracking_uri() != uri:
        mlflow.set_tracking_uri(uri)


def configure(cfg: TrackingConfig) -> str:
    """Point MLflow (tracking and registry) at the configured store; return the experiment id."""
    import mlflow

    global _retry_max_seconds, _configured_uri
    uri = cfg.resolved_uri()
    refuse_credentials(os.environ.get("MLFLOW_REGISTRY_URI"), "MLFLOW_REGISTRY_URI (environment)")
    for key, value in MLFLOW_HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    _retry_max_seconds, _configured_uri = cfg.retry_max_seconds, uri
    _set_tracking_uri(uri)
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
    client = mlflow.MlflowClient()
    try:
        exp = retrying(client.get_experiment_by_name, cfg.experiment)
        if exp is None:
            # Not retried (a create is not idempotent); a rerun finds the experiment by name.
            exp_id = client.create_experiment(cfg.experiment, artifact_location=cfg.resolved_artifact_location())
        else:
            exp_id = exp.experiment_id
    except mlflow.exceptions.MlflowException as exc:
        unreachable = unreachable_error(exc)
        if unreachable is not None:
            raise unreachable from exc
        raise RegistryError(f"MLflow at {uri} refused to open experiment {cfg.experiment!r}: {exc}") from exc
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def git_commit(root: Path | None = None) -> str:
    """The current git commit of the project (``"unknown"`` outside a git checkout)."""
    return _git_commit(root or project_root())


@functools.lru_cache(maxsize=8)
def _git_commit(root: Path) -> str:
    # Once per process and folder: a stage asks for it for every run it opens, and HEAD does not
    # move while a stage runs.
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@contextlib.contextmanager
def stage_run(stage: str, cycle_run_id: str | None, *, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
    """A child run for one stage execution, nested under the cycle's parent run.

    Parameters are flattened (``model.estimator.C``) so cycles line up in the UI.
    A failing stage leaves its run FAILED, which the UI shows in red.
    """
    import mlflow

    from driftloop.local_faults import process_tags

    tags = {TAG_STAGE: stage, TAG_GIT_COMMIT: git_commit(), **process_tags()}
    kwargs: dict[str, Any] = {"run_name": stage, "tags": tags}
    if cycle_run_id:
        kwargs["parent_run_id"] = cycle_run_id
        kwargs["nested"] = True
        kwargs["tags"][TAG_CYCLE_RUN_ID] = cycle_run_id
    with _ended(mlflow.start_run(**kwargs)) as run:
        if params:
            log_flat_params(params)
        yield run


@contextlib.contextmanager
def nested_run(name: str, parent_run_id: str, tags: Mapping[str, str]) -> Iterator[Any]:
    """A run nested under ``parent_run_id`` (e.g. one per model inside the compare stage's run)."""
    import mlflow

    from driftloop.local_faults import process_tags

    with _ended(mlflow.start_run(run_name=name, nested=True, parent_run_id=parent_run_id, tags=process_tags())) as run:
        mlflow.set_tags(dict(tags))
        yield run


@contextlib.contextmanager
def _ended(run: Any) -> Iterator[Any]:
    """End the active ``run`` ``FINISHED``, or ``FAILED`` when the block raises, as
    ``mlflow.start_run``'s own context does, except that on the failing path a tracking server
    that is gone does not replace the stage's error with the one from closing the run: the user
    is told which call failed, not that closing failed too. The run then stays ``RUNNING`` until
    a later stage closes it ``KILLED`` (:func:`driftloop.local_faults.close_dead_runs`)."""
    import mlflow

    def still_active() -> bool:
        active = mlflow.active_run()
        return active is not None and active.info.run_id == run.info.run_id

    try:
        yield run
    except BaseException:
        if still_active():
            try:
                mlflow.end_run("FAILED")  # pops the run first, so nothing is left active either way
            except Exception as exc:
                if not is_transient(exc):
                    raise
        raise
    if still_active():
        mlflow.end_run("FINISHED")


def set_tags(tags: Mapping[str, Any]) -> None:
    """Tags on the active run (values as strings)."""
    import mlflow

    if tags:
        mlflow.set_tags({str(k): str(v) for k, v in tags.items()})


def log_dict(data: Mapping[str, Any], artifact_file: str) -> None:
    """A JSON artifact on the active run."""
    import mlflow

    mlflow.log_dict(dict(data), artifact_file)


def log_text(text: str, artifact_file: str) -> None:
    """A text artifact (an HTML report) on the active run."""
    import mlflow

    mlflow.log_text(text, artifact_file)


def log_artifacts(folder: Path, artifact_path: str) -> None:
    """Every file under ``folder`` as artifacts of the active run."""
    import mlflow

    mlflow.log_artifacts(str(folder), artifact_path=artifact_path)


def pandas_dataset(frame: Any, *, source: str | None, name: str, targets: str | None, schema_rows: int = 1000) -> Any:
    """``frame`` as an MLflow pandas dataset (its digest MLflow's own, :func:`pandas_digest`), its
    schema inferred from ``schema_rows`` rows plus each column's first missing value.

    MLflow infers a pandas dataset's schema, when it is logged, by visiting every value of every
    object or string column in Python: 70 s for a million rows of text (measured at 1M rows per
    window, most of a snapshot). driftloop's frames are coerced to one type per column, so the first
    rows give the same types, and each column's first missing value keeps its ``required`` flag
    exact. The schema is a cached property of the dataset: setting it first stores what the
    property would have.
    """
    import warnings

    from mlflow.data.pandas_dataset import from_pandas  # its defining module: mlflow.data sets it at run time

    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-file source twice and warns about the ambiguity.
        warnings.simplefilter("ignore", UserWarning)
        digest = pandas_digest(frame)
        dataset = from_pandas(frame, source=source, name=name, targets=targets, digest=digest)  # type: ignore[arg-type]
        if len(frame) > schema_rows:
            first_missing = [int(i) for i in frame.isna().to_numpy().argmax(axis=0)]
            picked = sorted({*range(schema_rows), *first_missing})
            dataset.__dict__["schema"] = from_pandas(frame.iloc[picked], source=source).schema  # type: ignore[arg-type]
    return dataset


def pandas_digest(frame: Any) -> str:
    """MLflow's digest of a pandas frame (``mlflow.data.digest_utils.compute_pandas_digest``), equal
    to it, without its scan of every value.

    MLflow hashes the first 10,000 rows of the columns that are numeric or hold only ``str``
    values, the row count and the column names. To find the ``str`` columns it maps ``type`` over
    every cell of the whole frame: 1.8 s a frame at a million rows, most of it formatting
    datetimes it then drops. Here the answer comes from each column's dtype where the dtype
    settles it (a numeric, boolean or datetime column never holds a ``str``; a string-dtype column
    holds only ``str`` unless it has a missing value), and from one C-level pass over an object
    column; other dtypes fall back to MLflow's own test, column by column.
    """
    import numpy as np
    import pandas as pd
    from mlflow.data.digest_utils import MAX_ROWS, get_normalized_md5_digest

    def only_str(column: pd.Series) -> bool:
        dtype = column.dtype
        if isinstance(dtype, pd.StringDtype):
            return not bool(column.isna().any())
        if pd.api.types.is_object_dtype(dtype):
            return pd.api.types.infer_dtype(column, skipna=False) == "string"
        if pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
            return False
        return bool((column.map(type) == str).all())  # noqa: E721 (MLflow's own test, kept as it is)

    # MLflow's test is `all` over each column: an empty frame's columns all pass it.
    string_columns = pd.Index([c for i, c in enumerate(frame.columns) if not len(frame) or only_str(frame.iloc[:, i])])
    trimmed = frame.head(MAX_ROWS)
    trimmed = trimmed[string_columns.union(trimmed.select_dtypes(include=[np.number]).columns)]
    return str(
        get_normalized_md5_digest(
            [pd.util.hash_pandas_object(trimmed).values, np.int64(len(frame))]
            + [str(x).encode() for x in frame.columns]
        )
    )


def log_dataset(frame: Any, *, source: str, name: str, targets: str | None, context: str) -> None:
    """``frame`` as a dataset input of the active run, with its digest and source URI
    (:func:`pandas_dataset`)."""
    import mlflow

    mlflow.log_input(pandas_dataset(frame, source=source, name=name, targets=targets), context=context)


def log_dataset_reference(*, source: str, name: str, digest: str, context: str) -> None:
    """A dataset input of the active run that MLflow knows by its source URI and digest only
    (``mlflow.data.meta_dataset.MetaDataset``): a window too large to hold in memory, such as a
    partitioned snapshot's directory. No schema: inferring it honestly needs every row."""
    import warnings

    import mlflow
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():
        # MLflow 3.17 registers its local-file source twice and warns about the ambiguity.
        warnings.simplefilter("ignore", UserWarning)
        resolved = resolve_dataset_source(source)
    # MetaDataset leaves `profile` abstract in its stubs; it returns None at run time (no profile).
    dataset = MetaDataset(resolved, name=name, digest=digest)  # type: ignore[abstract]
    mlflow.log_input(dataset, context=context)


def run_metric(run_id: str, key: str) -> float | None:
    """The latest value of metric ``key`` on run ``run_id`` (None when the run never logged it)."""
    import mlflow

    return retrying(mlflow.MlflowClient().get_run, run_id).data.metrics.get(key)


def annotate_cycle(
    cycle_run_id: str | None,
    *,
    tags: Mapping[str, str] | None = None,
    artifacts: Mapping[str, Mapping[str, Any]] | None = None,
    metrics: Mapping[str, float] | None = None,
) -> None:
    """Tags, JSON artifacts (file name -> data) and metrics on the cycle's parent run, which is
    not the active run in a stage process (:mod:`driftloop.cycle_run` opens and ends it). Tags
    and metrics go in one batch: each call is a round trip to the store."""
    import mlflow

    if not cycle_run_id:
        return
    client = mlflow.MlflowClient()
    for name, data in (artifacts or {}).items():
        client.log_dict(cycle_run_id, dict(data), name)
    log_cycle_metrics(cycle_run_id, metrics or {}, tags=tags)


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists are kept as values."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            out[name] = value
    return out


def log_flat_params(params: Mapping[str, Any]) -> None:
    import mlflow

    flat = {k: (str(v)[:6000]) for k, v in flatten(params).items()}
    items = list(flat.items())
    for i in range(0, len(items), 100):  # MLflow caps a batch at 100 params
        mlflow.log_params(dict(items[i : i + 100]))


def log_metrics(metrics: Mapping[str, float]) -> None:
    """Log finite numeric metrics (MLflow refuses None; NaN would break cross-cycle charts)."""
    import math

    import mlflow

    clean = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    clean.update({k: float(v) for k, v in metrics.items() if isinstance(v, bool)})
    if clean:
        mlflow.log_metrics(clean)


def log_cycle_metrics(
    cycle_run_id: str | None, metrics: Mapping[str, float], *, tags: Mapping[str, str] | None = None
) -> None:
    """Headline metrics (and ``tags``) on the cycle's parent run, in one batch, so that cycles
    compare side by side in the UI's run table without expanding children (same keys as on the
    stage runs)."""
    import math
    import time

    import mlflow
    from mlflow.entities import Metric, RunTag

    if not cycle_run_id:
        return
    now = int(time.time() * 1000)
    batch = [
        Metric(k, float(v), now, 0)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and v is not None and math.isfinite(float(v))
    ]
    run_tags = [RunTag(str(k), str(v)) for k, v in (tags or {}).items()]
    if batch or run_tags:
        # Idempotent: the same tags, and the same key, value, timestamp and step again, are stored once.
        retrying(mlflow.MlflowClient().log_batch, cycle_run_id, metrics=batch, tags=run_tags)
