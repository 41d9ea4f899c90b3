"""A project that has run two real cycles, shared by the pipeline tests (built once: ~1-2 min)."""

from __future__ import annotations

import json
import sys

import pytest

from driftloop.demo.feedback import write_weeks

from .project import make_project, run

ROWS = 700


def count_runs(uri: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    return sum(len(client.search_runs([e.experiment_id], max_results=1000)) for e in client.search_experiments())


@pytest.fixture(scope="session")
def two_cycles(tmp_path_factory, mlflow_template_db):
    project = make_project(tmp_path_factory.mktemp("e2e") / "project", mlflow_template_db)
    write_weeks(project / "data" / "incoming", range(1, 7), rows=ROWS)
    first = run([sys.executable, "-m", "dvc", "repro"], project)
    decision1 = json.loads((project / "reports" / "decision.json").read_text())
    drift1 = json.loads((project / "reports" / "drift.json").read_text())
    write_weeks(project / "data" / "incoming", range(7, 11), rows=ROWS)
    second = run([sys.executable, "-m", "dvc", "repro"], project)
    # The commit the cycles ran at (test_experiments and the browser tests commit on top of it later).
    commit = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    return {
        "commit": commit,
        "project": project,
        "decision1": decision1,
        "drift1": drift1,
        "logs": (first, second),
        "uri": f"sqlite:///{project / 'mlflow.db'}",
    }
