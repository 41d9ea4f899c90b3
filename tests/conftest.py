"""Shared fixtures: real MLflow on a sqlite file under tmp_path.

Creating a fresh MLflow sqlite DB runs every migration (~7 s), so the first use in
a session builds a template DB once and each test copies it (~0.3 s).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER_START_TIMEOUT_S = 60.0

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@pytest.fixture(scope="session")
def mlflow_template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised (migrated) MLflow sqlite DB, built once per test session."""
    import mlflow
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    # Touch both the tracking and the registry store so every table exists.
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_experiments()
    client.search_registered_models()
    mlflow.set_tracking_uri(None)
    return path


@pytest.fixture
def mlflow_uri(tmp_path: Path, mlflow_template_db: Path, monkeypatch: pytest.MonkeyPatch):
    """A tracking+registry URI on a private copy of the template DB.

    Sets ``MLFLOW_TRACKING_URI`` for code under test, ends any run left open and
    clears every other ``MLFLOW_*`` variable so tests cannot leak into each other.
    """
    import mlflow

    for key in list(os.environ):
        if key.startswith("MLFLOW_") and key != "MLFLOW_DISABLE_TELEMETRY":
            monkeypatch.delenv(key, raising=False)
    db = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    artifacts = tmp_path / "mlartifacts"
    artifacts.mkdir()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    # A stage run in-process (driftloop.tracking.configure) sets the fluent API's active
    # experiment; its id belongs to this test's DB and must not leak into the next test's.
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Server:
    uri: str
    root: Path


def start_mlflow_server(root: Path, port: int) -> subprocess.Popen:
    """Start a real ``mlflow server`` on 127.0.0.1:``port`` over ``root/mlflow.db`` and
    ``root/mlartifacts``, in its own process group, and wait until it is healthy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    # The job runner and its ~6 huey consumer processes are not needed and eat both cores.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    # The server inherits the log file descriptor: ours can close once it has started.
    with open(root / "server.log", "ab") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("mlflow")),
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--default-artifact-root",
                str(root / "mlartifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            start_new_session=True,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            log_tail = (root / "server.log").read_text()[-2000:]
            raise RuntimeError(f"mlflow server exited with {proc.returncode}: {log_tail}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet: keep polling until the deadline
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError(
                f"mlflow server on port {port} not healthy after {SERVER_START_TIMEOUT_S} s: "
                f"{(root / 'server.log').read_text()[-2000:]}"
            )
        time.sleep(0.25)


def server_root(root: Path, template_db: Path) -> Path:
    """``root`` made ready for :func:`start_mlflow_server`: a migrated ``mlflow.db`` (a copy of
    ``template_db``) and an empty ``mlartifacts/``."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_db, root / "mlflow.db")
    (root / "mlartifacts").mkdir()
    return root


def stop_mlflow_server(proc: subprocess.Popen, *, kill: bool = False) -> None:
    """Stop a server from :func:`start_mlflow_server` and its workers (its whole process group):
    SIGTERM, then SIGKILL after 5 s; ``kill`` sends SIGKILL at once (a crash, not a shutdown)."""
    with contextlib.suppress(ProcessLookupError):
        if not kill:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def server_store(tmp_path: Path, mlflow_template_db: Path) -> Path:
    """A folder for one test's own ``mlflow server`` (:func:`server_root`)."""
    return server_root(tmp_path / "server", mlflow_template_db)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, mlflow_template_db: Path):
    """A real ``mlflow server`` on 127.0.0.1 for the whole session (stopped at the end)."""
    root = server_root(tmp_path_factory.mktemp("mlflow-server"), mlflow_template_db)
    port = _free_port()
    proc = start_mlflow_server(root, port)
    try:
        yield Server(uri=f"http://127.0.0.1:{port}", root=root)
    finally:
        stop_mlflow_server(proc)


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of this repository's conf/ under tmp_path, as the working directory, outside any
    `dvc exp run` (test files with a project of their own override this fixture)."""
    shutil.copytree(Path(__file__).resolve().parents[1] / "conf", tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    return tmp_path
