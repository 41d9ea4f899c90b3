"""Registry, promotion and rollback against MLflow on sqlite (real registry, real sklearn models)."""

from __future__ import annotations

import json

import pytest

from driftloop.errors import LockError, RegistryError
from driftloop.promote.config import PromoteConfig
from driftloop.promote.lineage_tags import (
    TAG_CYCLE_RUN_ID,
    TAG_DECISION,
    TAG_DRIFT_SUMMARY,
    TAG_GIT_COMMIT,
    TAG_TRAIN_MD5,
    build_lineage_tags,
)
from driftloop.promote.promotion import promote, promotion_lock, write_decision
from driftloop.promote.registry import ChampionRegistry

from .conftest import UNRESOLVED, decide

NAME = "sentiment"


@pytest.fixture()
def registry(client):
    return ChampionRegistry(NAME, client=client)


@pytest.fixture()
def lock(tmp_path):
    return tmp_path / "locks" / "promote.lock"


def tags_for(ch, md5="a" * 32) -> dict:
    return build_lineage_tags(git_commit="0123abc", training_data_md5=md5, training_data_path="data/train/train.parquet",
                              holdout_data_md5="b" * 32, cycle_run_id=f"cycle-{ch.run_id[:6]}",
                              drift_summary={"drifted_columns": ["stars"], "share_drifted": 0.2})


def do_promote(registry, ch, decision, lock, **kw):
    return promote(registry, decision, ch.model_uri, ch.run_id, tags_for(ch), None, lock, **kw)


def seed_champion(registry, challenger_factory, lock):
    """A first-cycle champion (version 1)."""
    ch = challenger_factory(0)
    out = do_promote(registry, ch, decide(None, 0.7), lock)
    assert out.promoted and out.version == "1"
    return ch


def test_first_cycle_promotes_on_floors_and_decision_says_so(registry, challenger_factory, lock, tmp_path):
    assert registry.champion() is None
    ch = challenger_factory(0)
    decision = decide(None, 0.65)
    out = do_promote(registry, ch, decision, lock)
    assert (out.promoted, out.version, out.previous_version) == (True, "1", None)
    champ = registry.champion()
    assert champ.version == "1" and champ.run_id == ch.run_id and "champion" in champ.aliases
    rec = write_decision(tmp_path / "reports" / "decision.json", decision, out, NAME)
    assert rec["first_cycle"] is True and rec["version"] == "1"
    assert any(g["name"] == "first_cycle" and "only absolute floors" in g["detail"] for g in rec["gates"])


def test_first_cycle_below_floor_registers_nothing(registry, challenger_factory, lock):
    out = do_promote(registry, challenger_factory(0), decide(None, 0.5), lock)
    assert (out.promoted, out.version) == (False, None)
    assert registry.champion() is None
    assert registry.client.search_model_versions(f"name='{NAME}'") == []
    assert "floor.f1_macro" in registry.last_decision()["summary"]


def test_promote_on_improvement_moves_alias_and_tags_lineage(registry, challenger_factory, lock):
    first = seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    decision = decide(0.70, 0.76)
    assert decision.promoted
    out = do_promote(registry, ch, decision, lock, actor="ci-bot")
    assert (out.promoted, out.version, out.previous_version) == (True, "2", "1")
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert registry.previous().run_id == first.run_id
    lineage = registry.lineage("2")
    assert lineage[TAG_GIT_COMMIT] == "0123abc" and lineage[TAG_TRAIN_MD5] == "a" * 32
    assert lineage[TAG_CYCLE_RUN_ID].startswith("cycle-")
    assert lineage[TAG_DRIFT_SUMMARY] == {"drifted_columns": ["stars"], "share_drifted": 0.2}
    assert lineage[TAG_DECISION]["promoted"] is True and lineage["run_id"] == ch.run_id
    assert registry.get_version("2").description == decision.summary
    last = registry.history()[-1]
    assert (last.from_version, last.to_version, last.actor, last.action) == ("1", "2", "ci-bot", "promote")
    assert last.reason == decision.summary


@pytest.mark.parametrize(
    ("kwargs", "failed_gate", "on_reject"),
    [
        ({"champion": 0.70, "challenger": 0.705}, "primary_improves", "skip"),             # below margin
        ({"champion": 0.70, "challenger": 0.76, "ci_low": -0.01}, "improvement_supported", "register_without_alias"),
        ({"champion": 0.70, "challenger": 0.76, "resolution": UNRESOLVED}, "drift_resolved.training_data",
         "register_without_alias"),
        ({"champion": 0.70, "challenger": 0.76, "recall_neg": (0.8, 0.6)}, "guard.recall_negative", "skip"),
    ],
    ids=["no-improvement", "not-supported", "drift-not-resolved", "guard-metric"],
)
def test_rejections_leave_champion_serving(registry, challenger_factory, lock, kwargs, failed_gate, on_reject):
    seed_champion(registry, challenger_factory, lock)
    decision = decide(**kwargs)
    assert not decision.promoted and [g.name for g in decision.failed] == [failed_gate]
    ch = challenger_factory(1)
    out = do_promote(registry, ch, decision, lock, on_reject=on_reject)
    assert not out.promoted and out.previous_version == "1"
    assert registry.aliases() == {"champion": "1"}
    assert len(registry.history()) == 1
    versions = registry.client.search_model_versions(f"name='{NAME}'")
    if on_reject == "skip":
        assert out.version is None and len(versions) == 1
    else:
        assert out.version == "2" and len(versions) == 2
        assert registry.get_version("2").aliases == ()
        assert json.loads(registry.get_version("2").tags[TAG_DECISION])["promoted"] is False
    assert failed_gate in registry.last_decision()["summary"]


def test_rerun_same_challenger_creates_no_second_version(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    first = do_promote(registry, ch, decide(0.70, 0.76), lock)
    again = do_promote(registry, ch, decide(0.70, 0.76), lock)
    assert first.version == again.version == "2"
    assert len(registry.client.search_model_versions(f"name='{NAME}'")) == 2
    assert [m.to_version for m in registry.history()] == ["1", "2"]  # no second move recorded
    assert registry.aliases() == {"champion": "2", "previous": "1"}


def test_crash_before_alias_move_keeps_old_champion_and_rerun_completes(registry, challenger_factory, lock,
                                                                         monkeypatch):
    seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    real = registry.client.set_registered_model_alias

    def crash_on_champion(name, alias, version):
        if alias == "champion":
            raise ConnectionError("simulated crash just before the champion alias moves")
        return real(name, alias, version)

    monkeypatch.setattr(registry.client, "set_registered_model_alias", crash_on_champion)
    with pytest.raises(ConnectionError):
        do_promote(registry, ch, decide(0.70, 0.76), lock)
    assert registry.champion().version == "1"  # the old champion keeps serving
    monkeypatch.setattr(registry.client, "set_registered_model_alias", real)
    out = do_promote(registry, ch, decide(0.70, 0.76), lock)
    assert (out.version, out.previous_version) == ("2", "1")
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert len(registry.client.search_model_versions(f"name='{NAME}'")) == 2


def test_crash_after_alias_move_is_recorded_on_rerun(registry, challenger_factory, lock, monkeypatch):
    seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    real = registry._append_history
    monkeypatch.setattr(registry, "_append_history", lambda move: (_ for _ in ()).throw(OSError("crash")))
    with pytest.raises(OSError):
        do_promote(registry, ch, decide(0.70, 0.76), lock)
    assert registry.champion().version == "2" and len(registry.history()) == 1
    monkeypatch.setattr(registry, "_append_history", real)
    do_promote(registry, ch, decide(0.70, 0.76), lock)
    hist = registry.history()
    assert [(m.to_version, m.action) for m in hist] == [("1", "promote"), ("2", "recorded")]


def test_rollback_walks_back_and_records_who_when_why(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    do_promote(registry, challenger_factory(1), decide(0.70, 0.76), lock)
    do_promote(registry, challenger_factory(2), decide(0.76, 0.80), lock)
    assert registry.aliases() == {"champion": "3", "previous": "2"}
    move = registry.rollback("v3 misclassifies new product area", actor="alice")
    assert (move.from_version, move.to_version, move.action, move.actor) == ("3", "2", "rollback", "alice")
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert json.loads(registry.get_version("3").tags["driftloop.rolled_back"])["reason"].startswith("v3 misclass")
    registry.rollback("again", actor="bob")
    assert registry.aliases() == {"champion": "1"}
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("too far", actor="bob")
    hist = registry.history()
    assert [(m.seq, m.action, m.from_version, m.to_version) for m in hist] == [
        (1, "promote", None, "1"), (2, "promote", "1", "2"), (3, "promote", "2", "3"),
        (4, "rollback", "3", "2"), (5, "rollback", "2", "1")]
    assert all(m.at and m.actor and m.reason for m in hist)
    status = registry.status()
    assert status["champion"]["version"] == "1" and status["last_move"]["actor"] == "bob"


def test_rollback_without_champion_is_a_registry_error(registry):
    with pytest.raises(RegistryError, match="no 'champion' alias"):
        registry.rollback("nothing there")


def test_second_promoter_gets_lock_error(registry, challenger_factory, lock):
    ch = challenger_factory(0)
    with promotion_lock(lock):
        with pytest.raises(LockError, match="promote.lock"):
            do_promote(registry, ch, decide(None, 0.7), lock, lock_timeout_s=0.2)
    assert registry.champion() is None
    assert do_promote(registry, ch, decide(None, 0.7), lock).promoted  # released again


def test_runs_uri_resolves_to_the_logged_model(registry, challenger_factory, lock):
    ch = challenger_factory(0)
    out = promote(registry, decide(None, 0.7), f"runs:/{ch.run_id}/model", ch.run_id, {}, "first", lock)
    # MLflow 3 keeps log_model output as a LoggedModel, not under the run's artifacts.
    assert registry.get_version(out.version).source == ch.model_uri.rstrip("/")
    assert ch.model_uri.startswith("models:/m-")


def test_unknown_version_cannot_become_champion(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    with pytest.raises(RegistryError, match="get version 9"):
        registry.move_champion("9", reason="typo")
    assert registry.champion().version == "1"


def test_config_aliases_are_used(client, challenger_factory, lock):
    cfg = PromoteConfig(alias="prod", previous_alias="prod_prev")
    reg = ChampionRegistry(NAME, client=client, alias=cfg.alias, previous_alias=cfg.previous_alias)
    do_promote(reg, challenger_factory(0), decide(None, 0.7), lock)
    do_promote(reg, challenger_factory(1), decide(0.7, 0.8), lock)
    assert reg.aliases() == {"prod": "2", "prod_prev": "1"}


def test_stale_decision_is_refused(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    # This cycle compared against "no champion" (first cycle), but version 1 was promoted meanwhile.
    with pytest.raises(RegistryError, match="stale"):
        do_promote(registry, ch, decide(None, 0.9), lock, expected_champion=None)
    assert registry.aliases() == {"champion": "1"}
    assert len(registry.client.search_model_versions(f"name='{NAME}'")) == 1
    assert do_promote(registry, ch, decide(0.7, 0.9), lock, expected_champion="1").version == "2"
