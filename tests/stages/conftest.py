"""A small workspace for stage tests: the demo's weekly batches (``rows`` per week), the project's
conf/ composed as `driftloop params` would, a DVC repository (for the champion's lineage) and a
private MLflow sqlite DB (``mlflow_uri``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import compose
from driftloop.demo.feedback import write_weeks

from .helpers import ROOT

ROWS = 150


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_uri: str) -> Path:
    """An empty workspace in ``tmp_path/ws`` (the current directory) with a DVC repository."""
    from dvc.repo import Repo

    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    for name in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT"):
        monkeypatch.delenv(name, raising=False)
    Repo.init(str(ws), no_scm=True).close()
    return ws


@pytest.fixture
def cfg(workspace: Path) -> dict:
    """The project's composed config, its bootstrap smaller (the numbers are not under test)."""
    cfg = compose([], conf_dir=ROOT / "conf")
    cfg["compare"]["n_bootstrap"] = 200
    return cfg


def add_weeks(ws: Path, weeks: range, rows: int = ROWS) -> None:
    write_weeks(ws / "data" / "incoming", weeks, rows=rows)
