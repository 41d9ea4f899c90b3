"""The same two cycles against a real `mlflow server` on 127.0.0.1: a tracking server is a config
switch (here MLFLOW_TRACKING_URI), never a code change. The server, not the client, decides where
artifacts go, so any host can load the champion."""

from __future__ import annotations

import json
import sys

import pytest

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env, run, scaffold

from .project import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]


def test_two_cycles_against_a_tracking_server(tmp_path, mlflow_server):
    project = scaffold(ROOT, tmp_path / "project", remote=tmp_path / "store")
    env = clean_env({"MLFLOW_TRACKING_URI": mlflow_server.uri})
    write_weeks(project / "data" / "incoming", range(1, 7), rows=600)
    run([sys.executable, "-m", "dvc", "repro"], project, env=env)
    write_weeks(project / "data" / "incoming", range(7, 11), rows=600)
    run([sys.executable, "-m", "dvc", "repro"], project, env=env)

    decision = json.loads((project / "reports" / "decision.json").read_text())
    assert decision["promoted"] and str(decision["version"]) == "2", decision
    assert not (project / "mlflow.db").exists(), "nothing may be written to a local sqlite store"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.uri, registry_uri=mlflow_server.uri)
    assert str(client.get_registered_model(decision["model_name"]).aliases["champion"]) == "2"
    experiment = client.get_experiment_by_name("driftloop")
    assert not experiment.artifact_location.startswith("file:"), experiment.artifact_location

    import mlflow.pyfunc

    mlflow.set_tracking_uri(mlflow_server.uri)
    model = mlflow.pyfunc.load_model(f"models:/{decision['model_name']}@champion")
    holdout = __import__("pandas").read_parquet(project / "data" / "train" / "holdout.parquet")
    assert len(model.predict(holdout.head(5))) == 5
    mlflow.set_tracking_uri(None)
