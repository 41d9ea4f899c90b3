"""A registry that does not know the project's champion is refused (issue 13, faults).

After a promoted first cycle the project's records (``reports/decision.json``, the snapshot
manifest) say that champion v1 exists. A deleted ``mlflow.db``, a mistyped tracking URI or another
registry holding a v1 of the same name from another run must not turn the next cycle into a first
cycle: the snapshot refuses (RegistryError, exit 5) naming both sides, before anything is written.
``driftloop new-registry --reason`` starts a new registry on purpose, and the decision records it.

Real parts: MLflow on sqlite files, real stage runs on a small workspace (``tests/stages``), the
deleted-database case in a separate process (MLflow keeps a store per URI open in-process).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftloop import cli, paths
from driftloop.errors import RegistryError
from driftloop.promote.registry import ChampionRegistry
from tests.records import snapshot_bytes
from tests.stages.conftest import add_weeks, cfg, workspace  # noqa: F401  (fixtures)
from tests.stages.helpers import cache_training_data, run_cycle, run_snapshot

# The snapshot stage as `dvc repro` runs it (run_stage), with the test's composed config.
SNAPSHOT = """
import json, sys
from driftloop.errors import DriftloopError
from driftloop.redact import redact
from driftloop.stages import run_configured
try:
    run_configured("snapshot", json.loads(open(sys.argv[1]).read()))
except DriftloopError as exc:
    print(redact(f"driftloop snapshot: error: {exc}"), file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def use_registry(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def registry_of(cfg: dict) -> ChampionRegistry:  # noqa: F811
    return ChampionRegistry(cfg["registry"]["model_name"])


@dataclass(frozen=True)
class Promoted:
    """A first cycle that promoted champion v1 (``decision``), in workspace ``ws`` on the registry
    ``uri``, with the test's ``cfg``, ``tmp_path`` and ``monkeypatch``."""

    decision: dict
    cfg: dict
    ws: Path
    uri: str
    tmp: Path
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture
def promoted(
    cfg: dict,  # noqa: F811
    workspace: Path,  # noqa: F811
    mlflow_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Promoted:
    """A first cycle that promoted champion v1, its training data in the DVC cache, and the next
    weeks arrived: what the next snapshot would start from."""
    add_weeks(workspace, range(1, 7))
    decision = run_cycle(cfg)["promote"]
    assert (decision["promoted"], decision["version"]) == (True, "1")
    cache_training_data(workspace)
    add_weeks(workspace, range(7, 9))
    return Promoted(decision, cfg, workspace, mlflow_uri, tmp_path, monkeypatch)


def assert_names_both(message: str, decision: dict, registry: str, holds: str) -> None:
    assert "does not know this project's champion" in message
    assert f"v1, run {decision['run_id']}" in message and "reports/decision.json" in message
    assert f"The registry at {registry} {holds}" in message
    assert "driftloop new-registry --reason" in message


def refused(p: Promoted, registry: str, holds: str) -> str:
    """Point the project at ``registry`` and run the snapshot: RegistryError (exit 5) naming both
    the records and what ``registry`` ``holds``, and the snapshot files unchanged. The message."""
    before = snapshot_bytes(p.ws)
    use_registry(p.monkeypatch, registry)
    with pytest.raises(RegistryError) as err:
        run_snapshot(p.cfg)
    assert err.value.exit_code == 5
    assert_names_both(str(err.value), p.decision, registry, holds)
    assert snapshot_bytes(p.ws) == before
    return str(err.value)


def test_the_decision_records_what_serves_and_where(promoted: Promoted) -> None:
    mv = registry_of(promoted.cfg).get_version("1")
    assert promoted.decision["run_id"] == mv.run_id and promoted.decision["registry"] == promoted.uri
    assert promoted.decision["new_registry"] is None
    # The same registry knows it: the next snapshot proceeds against v1.
    assert run_snapshot(promoted.cfg)["champion"]["version"] == "1"


def test_a_deleted_mlflow_db_is_refused_with_exit_5_and_nothing_written(promoted: Promoted) -> None:
    config, ws = promoted.cfg, promoted.ws
    before = snapshot_bytes(ws)
    db = Path(promoted.uri.removeprefix("sqlite:///"))
    db.unlink()
    (cfg_file := promoted.tmp / "cfg.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-c", SNAPSHOT, str(cfg_file)],
        cwd=ws,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=300,
    )
    assert proc.returncode == RegistryError.exit_code == 5, proc.stderr
    holds = f"holds no registered model {config['registry']['model_name']!r}"
    assert_names_both(proc.stderr, promoted.decision, promoted.uri, holds)
    assert snapshot_bytes(ws) == before
    if db.exists():  # MLflow opened an empty store there; nothing was registered in it
        with sqlite3.connect(db) as con:
            assert con.execute("select count(*) from registered_models").fetchone() == (0,)
            assert con.execute("select count(*) from model_versions").fetchone() == (0,)


def test_a_mistyped_tracking_uri_is_refused(promoted: Promoted) -> None:
    typo = f"sqlite:///{promoted.tmp / 'mlfow.db'}"
    message = refused(promoted, typo, "holds no registered model")
    assert promoted.decision["registry"] in message  # where the records say it was
    assert ChampionRegistry(promoted.cfg["registry"]["model_name"]).aliases() == {}
    use_registry(promoted.monkeypatch, promoted.uri)  # the real registry is untouched
    assert registry_of(promoted.cfg).aliases() == {"champion": "1"}


def test_another_registry_with_a_v1_of_the_same_name_from_another_run_is_refused(
    promoted: Promoted, mlflow_template_db: Path
) -> None:
    from mlflow import MlflowClient

    name = promoted.cfg["registry"]["model_name"]
    tags = dict(registry_of(promoted.cfg).get_version("1").tags)  # even trained on the same data
    other_db = promoted.tmp / "other" / "mlflow.db"
    other_db.parent.mkdir()
    shutil.copy(mlflow_template_db, other_db)
    other = f"sqlite:///{other_db}"
    client = MlflowClient(other, other)
    run = client.create_run(client.create_experiment("elsewhere"))
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, tags=tags)
    client.set_registered_model_alias(name, "champion", mv.version)

    refused(promoted, other, f"holds a version 1 registered from run {run.info.run_id}, not ")
    assert {k: str(v) for k, v in client.get_registered_model(name).aliases.items()} == {"champion": "1"}
    assert len(client.search_model_versions(f"name = '{name}'")) == 1


def test_new_registry_on_purpose_runs_a_first_cycle_and_the_decision_records_it(
    promoted: Promoted, capsys: pytest.CaptureFixture[str]
) -> None:
    config, ws, tmp_path, monkeypatch = promoted.cfg, promoted.ws, promoted.tmp, promoted.monkeypatch
    name = config["registry"]["model_name"]
    fresh = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}"
    (tmp_path / "new").mkdir()
    use_registry(monkeypatch, fresh)
    with pytest.raises(RegistryError):
        run_snapshot(config)

    assert cli.main(["new-registry", "--model-name", name, "--reason", "   "]) == 5
    assert cli.main(["new-registry", "--model-name", name, "--reason", "disk lost, no backup"]) == 0
    assert "starts a new registry" in " ".join(capsys.readouterr().out.split())
    ack = json.loads((ws / paths.NEW_REGISTRY).read_text())
    assert (ack["registry"], ack["reason"]) == (fresh, "disk lost, no backup")
    assert ack["replaces"][0]["run_id"] == promoted.decision["run_id"]

    out = run_cycle(config)
    assert out["snapshot"]["champion"] is None and out["snapshot"]["new_registry"] == ack
    decision = out["promote"]
    assert (decision["first_cycle"], decision["promoted"], decision["version"]) == (True, True, "1")
    assert decision["new_registry"] == ack and decision["registry"] == fresh
    assert decision["run_id"] != promoted.decision["run_id"]
    assert registry_of(config).aliases() == {"champion": "1"}

    # The records now name the new v1: the acknowledgement matches nothing any more, so the next
    # snapshot runs against the new champion, and losing this registry too is refused again.
    cache_training_data(ws)
    manifest = run_snapshot(config)
    assert manifest["champion"]["version"] == "1" and manifest["new_registry"] is None
    use_registry(monkeypatch, f"sqlite:///{tmp_path / 'new' / 'mlfow.db'}")
    with pytest.raises(RegistryError, match="acknowledges other records or another registry"):
        run_snapshot(config)


def test_new_registry_has_nothing_to_do_when_the_registry_knows_the_champion(
    promoted: Promoted, capsys: pytest.CaptureFixture[str]
) -> None:
    config, ws = promoted.cfg, promoted.ws
    assert cli.main(["new-registry", "-m", config["registry"]["model_name"], "--reason", "just in case"]) == 0
    assert "nothing to do" in " ".join(capsys.readouterr().out.split())
    assert not (ws / paths.NEW_REGISTRY).exists()


def test_a_first_cycle_in_a_fresh_project_still_works_and_records_its_registry(
    cfg: dict,  # noqa: F811
    workspace: Path,  # noqa: F811
    mlflow_uri: str,
) -> None:
    add_weeks(workspace, range(1, 7))
    out = run_cycle(cfg)
    assert out["snapshot"]["champion"] is None and out["snapshot"]["new_registry"] is None
    decision = out["promote"]
    assert (decision["first_cycle"], decision["promoted"], decision["version"]) == (True, True, "1")
    assert decision["registry"] == mlflow_uri and decision["run_id"] == out["retrain"]["run_id"]
