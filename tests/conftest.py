"""Shared fixtures: real MLflow on a sqlite file under tmp_path.

Creating a fresh MLflow sqlite DB runs every migration (~7 s), so the first use in
a session builds a template DB once and each test copies it (~0.3 s).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

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


@pytest.fixture()
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
