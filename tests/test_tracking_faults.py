"""The tracking server failing: which errors are retried (driftloop.tracking.is_transient), the
bounded retry policy, and a real `mlflow server` killed between stages (exit 5 naming the URI;
a rerun after it returns adds no duplicate runs or model versions)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from driftloop import cycle_run, tracking
from driftloop.config import compose
from driftloop.errors import ConfigError, RegistryError
from driftloop.stages import run_configured, run_stage
from driftloop.tags import TAG_STAGE
from driftloop.tracking import TrackingConfig, is_transient, retrying
from tests.conftest import _free_port, start_mlflow_server, stop_mlflow_server
from tests.stages.conftest import add_weeks
from tests.stages.helpers import ROOT


def _wrapped(inner: BaseException) -> BaseException:
    """An MlflowException raised while handling ``inner``, as mlflow.utils.rest_utils does."""
    from mlflow.exceptions import MlflowException

    try:
        try:
            raise inner
        except Exception as exc:
            raise MlflowException(f"API request to http://127.0.0.1:1/x failed with exception {exc}") from None
    except MlflowException as outer:
        outer.__context__ = inner
        return outer


def test_transient_errors_are_told_from_refusals():
    import requests
    from mlflow.exceptions import MlflowException, RestException
    from mlflow.protos.databricks_pb2 import (
        INVALID_PARAMETER_VALUE,
        REQUEST_LIMIT_EXCEEDED,
        RESOURCE_DOES_NOT_EXIST,
        TEMPORARILY_UNAVAILABLE,
    )

    transient = [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError("timed out"),
        requests.exceptions.ConnectionError("refused"),
        requests.exceptions.ReadTimeout("read timed out"),
        _wrapped(requests.exceptions.ConnectionError("Max retries exceeded: Connection refused")),
        _wrapped(requests.exceptions.RetryError("too many 503 error responses")),
        MlflowException("busy", error_code=TEMPORARILY_UNAVAILABLE),  # HTTP 503
        MlflowException("slow down", error_code=REQUEST_LIMIT_EXCEEDED),  # HTTP 429
    ]
    refusals = [
        ValueError("a bug"),
        MlflowException("generic"),  # INTERNAL_ERROR (500): a refusal or a bug, not retried
        MlflowException("bad", error_code=INVALID_PARAMETER_VALUE),
        RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such run"}),
        MlflowException("missing", error_code=RESOURCE_DOES_NOT_EXIST),
        FileNotFoundError("mlflow.db"),
    ]
    assert [is_transient(e) for e in transient] == [True] * len(transient)
    assert [is_transient(e) for e in refusals] == [False] * len(refusals)


def test_retrying_retries_transient_errors_only_and_gives_up_in_bounded_time(monkeypatch):
    monkeypatch.setattr(tracking, "_retry_max_seconds", 1.5)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        return "ok"

    assert retrying(flaky) == "ok" and len(calls) == 3

    def refused() -> None:
        calls.append(1)
        raise ValueError("not transient")

    calls.clear()
    with pytest.raises(ValueError, match="not transient"):
        retrying(refused)
    assert len(calls) == 1

    def down() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    start = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        retrying(down)
    assert 1.0 <= time.monotonic() - start < 5


def test_a_registry_error_raised_from_a_transient_error_names_the_server(monkeypatch):
    """The registry and model-logging helpers wrap MLflow's failure as "MLflow ... refused to ...":
    for a server killed mid-call that misleads, so the stage says the server is unreachable."""
    import requests

    monkeypatch.setattr(tracking, "_configured_uri", "http://127.0.0.1:1")

    def registry_error(cause: BaseException | None, *, implicit: bool = False) -> RegistryError:
        err = RegistryError("MLflow registry refused to create a version for model 'm'")
        if implicit:
            err.__context__ = cause
        else:
            err.__cause__ = cause
        return err

    down = _wrapped(requests.exceptions.ConnectionError("Max retries exceeded: Connection refused"))
    with pytest.raises(RegistryError) as info, tracking.unreachable_as_registry_error():
        raise registry_error(down)
    message = str(info.value)
    assert "tracking server at http://127.0.0.1:1 is unreachable" in message and "rerun" in message, message
    assert "registry refused" not in message and "API request to" in message, message

    # Deliberate refusals pass unchanged: no cause, a cause that is not transient, or a transient
    # error only in the implicit context (raised while handling it, not from it).
    from mlflow.exceptions import MlflowException

    for cause, implicit in ((None, False), (MlflowException("bad"), False), (down, True)):
        refusal = registry_error(cause, implicit=implicit)
        with pytest.raises(RegistryError) as info, tracking.unreachable_as_registry_error():
            raise refusal
        assert info.value is refusal
    # An error that already says "unreachable" is not wrapped again.
    already = tracking.unreachable_error(down)
    assert already is not None
    with pytest.raises(RegistryError) as info, tracking.unreachable_as_registry_error():
        raise already
    assert info.value is already


@pytest.mark.parametrize("bad", [0, -1, "soon", True, [1], {"max_minutes": 1}])
def test_retry_budget_is_validated(bad):
    retry = bad if isinstance(bad, dict) else {"max_seconds": bad}
    with pytest.raises(ConfigError, match=r"tracking\.retry"):
        TrackingConfig.from_dict({"uri": "sqlite:///mlflow.db", "retry": retry})
    assert TrackingConfig.from_dict({"retry": {"max_seconds": 2}}).retry_max_seconds == 2.0
    assert TrackingConfig.from_dict({}).retry_max_seconds == tracking.DEFAULT_RETRY_MAX_SECONDS


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_uri: str) -> Path:
    from dvc.repo import Repo

    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    for name in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    for name in tracking.MLFLOW_HTTP_DEFAULTS:
        monkeypatch.delenv(name, raising=False)  # driftloop sets them; keep them out of other tests
    Repo.init(str(ws), no_scm=True).close()
    return ws


def _cfg(max_seconds: float) -> dict:
    cfg = compose([], conf_dir=ROOT / "conf")
    cfg["compare"]["n_bootstrap"] = 200
    cfg["tracking"]["retry"] = {"max_seconds": max_seconds}
    return cfg


def test_nothing_listening_is_exit_5_naming_the_uri(workspace, monkeypatch, capsys):
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    cfg = _cfg(1)
    monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: cfg)
    start = time.monotonic()
    assert run_stage("snapshot", []) == 5
    assert time.monotonic() - start < 15
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert uri in err and "unreachable" in err and "rerun" in err, err
    assert "Traceback" not in err


@pytest.mark.server
def test_server_killed_mid_cycle_exit_5_then_rerun_without_duplicates(workspace, server_store, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    cfg = _cfg(3)
    monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: cfg)
    add_weeks(workspace, range(1, 7))
    server = start_mlflow_server(server_store, port)
    try:
        for stage in ("snapshot", "drift", "retrain", "compare"):
            run_configured(stage, cfg)
        stop_mlflow_server(server, kill=True)  # SIGKILL, between compare and promote
        capsys.readouterr()

        start = time.monotonic()
        assert run_stage("promote", []) == 5
        assert time.monotonic() - start < 20  # 3 s of driftloop retries, MLflow's own kept short
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and uri in err and "rerun" in err, err
        with pytest.raises(RegistryError, match="unreachable"):
            run_configured("drift", cfg)  # and a stage already past the context: same error

        server = start_mlflow_server(server_store, port)  # the same backend store, the same URI
        assert run_stage("promote", []) == 0

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        name = cfg["registry"]["model_name"]
        versions = client.search_model_versions(f"name = '{name}'")
        assert [v.version for v in versions] == ["1"]
        assert str(client.get_registered_model(name).aliases["champion"]) == "1"
        experiment = client.get_experiment_by_name(cfg["tracking"]["experiment"])
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        by_stage: dict[str, int] = {}
        for run in runs:
            stage = run.data.tags.get(TAG_STAGE)
            if stage:
                by_stage[stage] = by_stage.get(stage, 0) + 1
        # One run per stage that reached the server: the failed promote and drift left none.
        assert {k: by_stage.get(k) for k in ("snapshot", "drift", "retrain", "promote")} == dict.fromkeys(
            ("snapshot", "drift", "retrain", "promote"), 1
        ), by_stage
    finally:
        stop_mlflow_server(server, kill=True)


def test_a_snapshot_rerun_takes_over_the_cycle_run_its_failed_attempt_left(workspace, monkeypatch, tmp_path):
    """A snapshot killed (or failed) after opening its cycle run left that run without a finished
    snapshot run and no manifest naming it: the rerun takes it over instead of opening a second
    cycle run. A complete cycle, one a live process opened, or another workspace's is left alone."""
    import socket

    from mlflow.tracking import MlflowClient

    from driftloop import local_faults
    from driftloop.tags import TAG_HOST, TAG_KIND, TAG_PID

    experiment_id = tracking.configure(TrackingConfig.from_dict({"experiment": "cycles"}))
    gone = subprocess.Popen(["true"])
    gone.wait()

    def opened_by(pid: int) -> None:
        monkeypatch.setattr(local_faults, "process_tags", lambda: {TAG_PID: str(pid), TAG_HOST: socket.gethostname()})

    opened_by(gone.pid)
    abandoned = cycle_run.start_cycle(experiment_id, tags={"attempt": "1"})
    assert cycle_run.start_cycle(experiment_id, tags={"attempt": "2"}) == abandoned
    client = MlflowClient()
    assert client.get_run(abandoned).data.tags["attempt"] == "2"  # the tags are the rerun's

    with tracking.stage_run("snapshot", abandoned):
        pass  # the snapshot finished: a complete cycle
    complete = abandoned
    latest = cycle_run.start_cycle(experiment_id)
    assert latest != complete

    opened_by(os.getpid())  # taken over by a live process: a second snapshot may not take it
    assert cycle_run.start_cycle(experiment_id) == latest
    live = cycle_run.start_cycle(experiment_id)
    assert live != latest

    opened_by(gone.pid)
    here = cycle_run.start_cycle(experiment_id)
    assert here != live
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert cycle_run.start_cycle(experiment_id) not in (here, live, latest, complete)
    cycles = client.search_runs([experiment_id], filter_string=f"tags.`{TAG_KIND}` = 'cycle'")
    assert len(cycles) == 5 and {r.info.status for r in cycles} == {"RUNNING"}  # no promote ended them


def test_a_failing_stage_reports_its_own_error_when_closing_its_run_fails_too(workspace, monkeypatch):
    """With the server gone, closing the failing stage's run fails as well (MLflow reads the run
    to print its URL, then updates it): the error the user sees is the call that failed first,
    and nothing stays active in the process. The run stays RUNNING for the next stage to close."""
    import mlflow
    from mlflow.tracking import MlflowClient

    tracking.configure(TrackingConfig.from_dict({"experiment": "closing"}))

    def gone(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    opened: list = []

    def fail_while_the_server_goes(patch: pytest.MonkeyPatch) -> None:
        with tracking.stage_run("retrain", None) as run:
            opened.append(run)
            patch.setattr(MlflowClient, "set_terminated", gone)
            raise RegistryError("MLflow refused to log the model 'model'") from ConnectionRefusedError(111, "refused")

    with monkeypatch.context() as patch, pytest.raises(RegistryError, match="refused to log the model") as info:
        fail_while_the_server_goes(patch)
    assert mlflow.active_run() is None
    assert MlflowClient().get_run(opened[0].info.run_id).info.status == "RUNNING"
    assert "tracking server" in str(tracking.unreachable_error(info.value))

    # A stage that succeeds, or fails with the server up, closes its run as before.
    with tracking.stage_run("drift", None) as ok:
        pass
    with pytest.raises(ValueError, match="a bug"), tracking.stage_run("compare", None) as failed:
        raise ValueError("a bug")
    statuses = [MlflowClient().get_run(r.info.run_id).info.status for r in (ok, failed)]
    assert statuses == ["FINISHED", "FAILED"] and mlflow.active_run() is None
