"""The status / rollback / promote / history command functions (sqlite registry, params.yaml in a tmp cwd)."""

from __future__ import annotations

import pytest
import yaml

from driftloop.cli import main
from driftloop.promote.cli import history_command, promote_command, rollback_command, status_command
from driftloop.promote.lineage_tags import build_lineage_tags
from driftloop.promote.promotion import promote, promotion_lock
from driftloop.promote.registry import ChampionRegistry

from .conftest import decide

NAME = "cli-model"


@pytest.fixture
def project(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "registry": {"model_name": NAME},
                "promote": {"lock_path": str(tmp_path / ".driftloop" / "promote.lock")},
            }
        )
    )
    return tmp_path


@pytest.fixture
def two_versions(project, client, challenger_factory):
    reg = ChampionRegistry(NAME, client=client)
    lock = project / ".driftloop" / "promote.lock"
    for seed, (champ, chall) in enumerate([(None, 0.7), (0.7, 0.78)]):
        ch = challenger_factory(seed)
        promote(
            reg,
            decide(champ, chall),
            ch.model_uri,
            ch.run_id,
            build_lineage_tags(git_commit=f"commit{seed}", training_data_md5=f"md5-{seed}"),
            None,
            lock,
            actor="pipeline",
        )
    return reg


def test_status_prints_champion_lineage_and_last_decision(two_versions, capsys):
    assert status_command() == 0
    out = capsys.readouterr().out
    assert "version 2" in out and "commit1" in out and "md5-1" in out
    assert "Last decision: promoted" in out and "min_gain.f1_macro" in out
    assert "Last alias move: #2 promote 1 -> 2 by pipeline" in out


def test_rollback_then_history(two_versions, capsys):
    assert rollback_command(reason="bad on new area", actor="alice") == 0
    assert "champion version 2 -> 1" in capsys.readouterr().out
    assert two_versions.aliases() == {"champion": "1", "previous": "2"}
    assert history_command() == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "│ promote" in line or "│ rollback" in line]
    assert len(rows) == 3 and "rollback" in rows[-1] and "alice" in rows[-1]
    # A second rollback undoes the first.
    assert rollback_command(reason="it was the data, not v2", actor="bob") == 0
    assert "champion version 1 -> 2" in capsys.readouterr().out
    assert two_versions.aliases() == {"champion": "2", "previous": "1"}


def test_manual_promote_is_audited_in_history_and_status(two_versions, capsys):
    assert promote_command("1", reason="v2 misroutes refunds", actor="carol") == 0
    out = capsys.readouterr().out
    assert "champion version 2 -> 1" in out and "driftloop rollback" in out
    assert two_versions.aliases() == {"champion": "1", "previous": "2"}
    assert history_command() == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "│ manual" in line]
    assert len(rows) == 1 and "carol" in rows[0] and "v2 misroutes refunds" in rows[0]
    assert status_command() == 0
    assert "Last alias move: #3 manual 2 -> 1 by carol" in capsys.readouterr().out
    # Already the champion: nothing moves, nothing is recorded.
    assert promote_command("1", reason="again", actor="carol") == 0
    assert "already is champion; nothing moved" in capsys.readouterr().out
    assert len(two_versions.history()) == 3


def test_manual_promote_refuses_an_unknown_version(two_versions, capsys):
    assert promote_command("7", reason="typo", actor="carol") == 5
    err = capsys.readouterr().err
    assert "has no version '7'; its versions are 1, 2" in err
    assert two_versions.aliases() == {"champion": "2", "previous": "1"}
    assert len(two_versions.history()) == 2


def test_manual_promote_waits_for_the_promotion_lock(two_versions, project, capsys):
    (project / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "registry": {"model_name": NAME},
                "promote": {
                    "lock_path": str(project / ".driftloop" / "promote.lock"),
                    "lock_timeout_s": 0.2,
                },
            }
        )
    )
    with promotion_lock(project / ".driftloop" / "promote.lock"):
        assert promote_command("1", reason="while a cycle promotes", actor="carol") == 7
    assert "promote.lock" in capsys.readouterr().err
    assert two_versions.aliases() == {"champion": "2", "previous": "1"}


def test_rollback_and_manual_promote_wait_for_the_registry_lease(two_versions, project, client, capsys):
    """Another host's promotion holds the registry-wide lease (its own lock file is elsewhere)."""
    from datetime import datetime, timedelta, timezone

    from driftloop.promote import lease

    (project / "params.yaml").write_text(
        yaml.safe_dump(
            {
                "registry": {"model_name": NAME},
                "promote": {"lock_path": str(project / ".driftloop" / "promote.lock"), "lock_timeout_s": 0.3},
            }
        )
    )
    until = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    tags = {
        lease.TAG_HOLDER: "x",
        lease.TAG_LEASE_PID: "99",
        lease.TAG_LEASE_HOST: "host-b",
        lease.TAG_EXPIRES_AT: until,
    }
    client.create_registered_model(lease.lease_name(NAME), tags=tags)
    assert rollback_command(reason="while host-b promotes", actor="carol") == 7
    assert promote_command("1", reason="while host-b promotes", actor="carol") == 7
    err = capsys.readouterr().err
    assert err.count(f"promotion lease '{NAME}.promotion-lock'") == 2 and "host-b" in err
    assert two_versions.aliases() == {"champion": "2", "previous": "1"}
    client.delete_registered_model(lease.lease_name(NAME))  # host-b finished
    assert rollback_command(reason="now", actor="carol") == 0
    assert two_versions.aliases() == {"champion": "1", "previous": "2"}


def test_promote_command_line(two_versions, capsys):
    """`driftloop promote --version N --reason TEXT` through the typer app."""
    assert main(["promote", "--version", "1", "--reason", "hotfix", "--actor", "erin"]) == 0
    assert two_versions.history()[-1].to_dict() | {"at": None} == {
        "seq": 3,
        "alias": "champion",
        "from_version": "2",
        "to_version": "1",
        "action": "manual",
        "actor": "erin",
        "reason": "hotfix",
        "at": None,
        "run_id": two_versions.get_version("1").run_id,
    }
    assert main(["promote", "--version", "12", "--reason", "typo"]) == 5
    assert "has no version '12'" in capsys.readouterr().err
    assert main(["promote", "--version", "2"]) != 0  # --reason is required
    assert two_versions.aliases() == {"champion": "1", "previous": "2"}


def test_status_shows_a_cycle_without_challenger(two_versions, capsys):
    two_versions.record_decision(
        {
            "promoted": False,
            "first_cycle": False,
            "gates": [],
            "challenger_trained": False,
            "run_id": None,
            "version": None,
            "summary": "no drift detected: no challenger this cycle",
        }
    )
    assert status_command() == 0
    out = capsys.readouterr().out
    assert "Last decision: no challenger this cycle" in out and "no drift detected" in out
    assert "rejected" not in out


def test_commands_ignore_the_gate_rules(project, capsys):
    """A rollback must work while a gate rule is being fixed: only the registry keys are read."""
    (project / "params.yaml").write_text(
        yaml.safe_dump({"registry": {"model_name": NAME}, "promote": {"rules": "not a list", "lock_timeout_s": 5}})
    )
    assert status_command() == 0
    (project / "params.yaml").write_text(
        yaml.safe_dump({"registry": {"model_name": NAME}, "promote": {"lock_timeout_s": "x"}})
    )
    assert status_command() == 3
    assert "promote.lock_timeout_s" in capsys.readouterr().err


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


def test_registry_keys_of_an_earlier_version_are_refused_naming_the_registry_group(project, capsys):
    (project / "params.yaml").write_text(yaml.safe_dump({"promote": {"model_name": NAME, "previous_alias": "p"}}))
    assert status_command() == 3
    err = " ".join(capsys.readouterr().err.split())  # rich wraps at 120 columns
    assert "promote.model_name is now registry.model_name" in err
    assert "promote.previous_alias is now registry.previous_alias" in err
    (project / "params.yaml").write_text(yaml.safe_dump({"registry": {"model_name": NAME, "alias": ""}}))
    assert history_command() == 3
    assert "registry.alias must be a non-empty string" in capsys.readouterr().err
    (project / "params.yaml").write_text(yaml.safe_dump({"registry": {"model_nme": NAME}}))
    assert rollback_command(actor="carol") == 3
    assert "registry.model_nme" in capsys.readouterr().err


def test_registry_aliases_come_from_params(project, capsys):
    (project / "params.yaml").write_text(
        yaml.safe_dump({"registry": {"model_name": NAME, "alias": "prod", "previous_alias": "prod_prev"}})
    )
    assert history_command() == 0
    assert f"{NAME}: prod alias history" in capsys.readouterr().out


def test_explicit_model_name_wins(project, capsys):
    # The registry holds no model 'other': the refusal names it, so --model-name was the one read.
    assert history_command(model_name="other") == 5
    assert "no registered model 'other'" in capsys.readouterr().err


def test_an_unknown_model_name_is_an_error_naming_the_models_there(two_versions, capsys):
    """`driftloop status -m typo` exited 0 and said "no promotion yet" (issue 15)."""
    assert status_command(model_name=NAME + "-typo") == 5
    err = capsys.readouterr().err
    assert repr(NAME + "-typo") in err and repr(NAME) in err and "promotion-lock" not in err
    assert history_command(model_name=NAME + "-typo") == 5
    assert status_command(model_name=NAME) == 0  # the real one, given explicitly
