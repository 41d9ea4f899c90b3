"""The status / rollback / history command functions (sqlite registry, params.yaml in a tmp cwd)."""

from __future__ import annotations

import pytest
import yaml

from driftloop.promote.cli import history_command, rollback_command, status_command
from driftloop.promote.lineage_tags import build_lineage_tags
from driftloop.promote.promotion import promote
from driftloop.promote.registry import ChampionRegistry

from .conftest import decide

NAME = "cli-model"


@pytest.fixture()
def project(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(
        {"promote": {"model_name": NAME, "lock_path": str(tmp_path / ".driftloop" / "promote.lock")}}))
    return tmp_path


@pytest.fixture()
def two_versions(project, client, challenger_factory):
    reg = ChampionRegistry(NAME, client=client)
    lock = project / ".driftloop" / "promote.lock"
    for seed, (champ, chall) in enumerate([(None, 0.7), (0.7, 0.78)]):
        ch = challenger_factory(seed)
        promote(reg, decide(champ, chall), ch.model_uri, ch.run_id,
                build_lineage_tags(git_commit=f"commit{seed}", training_data_md5=f"md5-{seed}"), None, lock,
                actor="pipeline")
    return reg


def test_status_prints_champion_lineage_and_last_decision(two_versions, capsys):
    assert status_command() == 0
    out = capsys.readouterr().out
    assert "version 2" in out and "commit1" in out and "md5-1" in out
    assert "Last decision: promoted" in out and "primary_improves" in out
    assert "Last alias move: #2 promote 1 -> 2 by pipeline" in out


def test_rollback_then_history(two_versions, capsys):
    assert rollback_command(reason="bad on new area", actor="alice") == 0
    assert "champion version 2 -> 1" in capsys.readouterr().out
    assert two_versions.aliases() == {"champion": "1"}
    assert history_command() == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "│ promote" in line or "│ rollback" in line]
    assert len(rows) == 3 and "rollback" in rows[-1] and "alice" in rows[-1]
    # Nothing left to roll back to: a RegistryError and its exit code.
    assert rollback_command(reason="again", actor="alice") == 5
    assert "nothing to roll back to" in capsys.readouterr().err


def test_status_without_champion(project, capsys):
    assert status_command() == 0
    assert "none (no promotion yet" in capsys.readouterr().out


def test_missing_model_name_is_a_config_error(tmp_path, monkeypatch, mlflow_uri, capsys):
    monkeypatch.chdir(tmp_path)  # no params.yaml
    assert status_command() == 3
    assert "--model-name" in capsys.readouterr().err
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"promote": {"model_nme": "x"}}))
    assert history_command() == 3
    assert "promote.model_nme" in capsys.readouterr().err


def test_explicit_model_name_wins(project, capsys):
    assert history_command(model_name="other") == 0
    out = capsys.readouterr().out
    assert "other: champion alias history" in out and "No alias moves recorded." in out
