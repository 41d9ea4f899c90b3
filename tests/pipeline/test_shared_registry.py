"""Two projects sharing one registry (issue 13): never both promote, and the loser's next run recovers.

The two projects are two clones of one project, as two CI runners have them: the same git history,
the same DVC remote folder, the same real `mlflow server` (MLFLOW_TRACKING_URI), each its own
workspace, DVC cache and promotion lock. The race is made deterministic: B computes its cycle up to
compare, A then runs and promotes its whole cycle, and only then does B reach promote.

B's promote finds the decision stale (it compared against v1, v2 serves): exit 5, nothing registered
or moved, and ``data/snapshot/champion.json`` rewritten. B's next plain `dvc repro` then reruns the
cycle from the snapshot against v2 and finishes on the merits. Real parts throughout: git, DVC,
`mlflow server`, the stage processes.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env, run, scaffold
from tests.conftest import _free_port, start_mlflow_server, stop_mlflow_server

from .project import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]

DVC = [sys.executable, "-m", "dvc"]
ROWS = 600
STALE = (
    "The 'champion' alias of {name!r} moved from version 1 to 2 since the comparison was made; "
    "this decision is stale; the next `dvc repro` re-runs the cycle against version 2."
)


@pytest.fixture
def shared_server(tmp_path, mlflow_template_db):
    """A `mlflow server` of this test's own (an empty registry both projects share)."""
    root = tmp_path / "server"
    root.mkdir()
    shutil.copy(mlflow_template_db, root / "mlflow.db")
    (root / "mlartifacts").mkdir()
    port = _free_port()
    proc = start_mlflow_server(root, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_mlflow_server(proc)


def read(project: Path, relative: str) -> dict:
    return json.loads((project / relative).read_text())


def commit_and_push(project: Path, env: dict[str, str], message: str) -> None:
    """What a CI runner does after a cycle: push the DVC outputs, commit dvc.lock and the records."""
    run([*DVC, "push", "-q"], project, env=env)
    run(["git", "add", "-A"], project, env=env)
    run(["git", "commit", "-qm", message], project, env=env)


def test_two_projects_on_one_registry_never_both_promote_and_the_loser_recovers(tmp_path, shared_server):
    from mlflow.tracking import MlflowClient

    from driftloop.promote.registry import ChampionRegistry

    env = clean_env({"MLFLOW_TRACKING_URI": shared_server})
    a = scaffold(ROOT, tmp_path / "a", remote=tmp_path / "store")
    write_weeks(a / "data" / "incoming", range(1, 7), rows=ROWS)
    run([*DVC, "repro"], a, env=env)
    first = read(a, "reports/decision.json")
    name = first["model_name"]
    assert (first["promoted"], first["version"]) == (True, "1"), first
    commit_and_push(a, env, "cycle 1")

    # B: another runner's clone of the same project, on the same remote and registry.
    b = tmp_path / "b"
    run(["git", "clone", "-q", str(a), str(b)], tmp_path, env=env)
    run([*DVC, "pull", "-q"], b, env=env)
    # B retrains on every cycle, drift or not: its rerun against v2 then has a challenger to decide on
    # (with the default trigger it may find no drift left against v2's training data, and train none).
    run([sys.executable, "-m", "driftloop.cli", "params", "train.trigger=always"], b, env=env)
    for project in (a, b):
        write_weeks(project / "data" / "incoming", range(7, 11), rows=ROWS)  # the same drifted weeks

    run([*DVC, "repro", "compare"], b, env=env)
    assert read(b, "reports/compare.json")["champion_version"] == "1"

    run([*DVC, "repro"], a, env=env)  # A wins the race
    won = read(a, "reports/decision.json")
    assert (won["promoted"], won["version"], won["previous_version"]) == (True, "2", "1"), won["summary"]
    commit_and_push(a, env, "cycle 2")  # v2's training data is on the remote for B's rerun

    client = MlflowClient(tracking_uri=shared_server, registry_uri=shared_server)
    registry = ChampionRegistry(name, client=client)
    decision_before = read(b, "reports/decision.json")

    lost = run([*DVC, "repro"], b, check=False, env=env)
    assert lost.returncode != 0, lost.stdout
    assert STALE.format(name=name) in lost.stderr, lost.stderr[-3000:]
    assert "python pipelines/promote.py, exited with 5" in lost.stderr, lost.stderr[-3000:]
    assert registry.aliases()["champion"] == "2"
    assert len(client.search_model_versions(f"name='{name}'")) == 2, "B registered its stale challenger"
    assert read(b, "reports/decision.json") == decision_before
    assert read(b, "data/snapshot/champion.json")["version"] == "2"
    status = run([*DVC, "status", "snapshot"], b, env=env).stdout
    assert "data/snapshot/champion.json" in status, status

    # One project: a second `dvc repro` while one holds the project is refused by DVC's own lock.
    from dvc.repo import Repo

    with Repo(str(b)) as repo, repo.lock:
        busy = run([*DVC, "repro"], b, check=False, env=env)
    assert busy.returncode != 0 and "Unable to acquire lock" in busy.stderr, busy.stderr[-2000:]

    # B's next plain `dvc repro` recovers: the cycle reruns from the snapshot, against v2.
    recovered = run([*DVC, "repro"], b, env=env)
    assert "Running stage 'snapshot'" in recovered.stdout, recovered.stdout[-3000:]
    manifest = read(b, "data/snapshot/manifest.json")
    assert manifest["champion"]["version"] == "2"
    compared, decision = read(b, "reports/compare.json"), read(b, "reports/decision.json")
    assert compared["challenger_trained"] and compared["champion_version"] == "2", compared
    # Promoted or rejected on the merits, against v2.
    assert decision["previous_version"] == "2", decision
    serving = registry.aliases()["champion"]
    assert serving == ("3" if decision["promoted"] else "2"), decision["summary"]
    assert read(b, "data/snapshot/champion.json")["written_by"] == "snapshot"

    versions = client.search_model_versions(f"name='{name}'")
    per_run = Counter(v.run_id for v in versions)
    assert all(n == 1 for n in per_run.values()), per_run
    promotions = [m for m in registry.history() if m.action == "promote"]
    # Each champion replaced once: A's v2 from v1, and B's challenger (if it won) from v2, never from v1.
    assert [m.from_version for m in promotions] == [None, "1", "2"][: 2 + decision["promoted"]], promotions
    again = run([*DVC, "repro"], b, env=env)  # and then the project is up to date
    assert "Running stage" not in again.stdout, again.stdout[-2000:]
