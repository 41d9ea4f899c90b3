"""Registry, promotion and rollback against MLflow on sqlite (real registry, real sklearn models)."""

from __future__ import annotations

import json

import pytest

from driftloop.errors import LockError, RegistryError
from driftloop.promote.gates import Decision, Gate
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
from driftloop.registry_config import RegistryConfig

from .conftest import UNRESOLVED, decide

NAME = "sentiment"


def verdict(promoted: bool, first_cycle: bool = False) -> Decision:
    """A decision made directly (independent of the gate configuration)."""
    gate = Gate("min_gain.f1_macro", promoted, "0.76 - 0.70 = 0.06 >= 0.01" if promoted else "0.705 - 0.70 < 0.01")
    summary = "Promoted: all 1 enforced gates passed." if promoted else "Rejected: 1 of 1 enforced gates failed."
    return Decision(promoted, first_cycle, (gate,), summary)


@pytest.fixture
def registry(client):
    return ChampionRegistry(NAME, client=client)


def tags_for(ch, md5="a" * 32) -> dict:
    return build_lineage_tags(
        git_commit="0123abc",
        training_data_md5=md5,
        training_data_path="data/train/train.parquet",
        holdout_data_md5="b" * 32,
        cycle_run_id=f"cycle-{ch.run_id[:6]}",
        drift_summary={"drifted_columns": ["stars"], "share_drifted": 0.2},
    )


def do_promote(registry, ch, decision, lock, **kw):
    return promote(registry, decision, ch.model_uri, ch.run_id, tags_for(ch), None, lock, **kw)


def seed_champion(registry, challenger_factory, lock):
    """A first-cycle champion (version 1)."""
    ch = challenger_factory(0)
    out = do_promote(registry, ch, verdict(True, first_cycle=True), lock)
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
    assert any(g["name"] == "first_cycle" and "only absolute thresholds" in g["detail"] for g in rec["gates"])


def test_first_cycle_below_floor_registers_nothing(registry, challenger_factory, lock):
    out = do_promote(registry, challenger_factory(0), decide(None, 0.5), lock)
    assert (out.promoted, out.version) == (False, None)
    assert registry.champion() is None
    assert registry.client.search_model_versions(f"name='{NAME}'") == []
    assert "threshold.f1_macro" in registry.last_decision()["summary"]


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
    assert "\n**Decision:** Promoted: all " in registry.get_version("2").description  # see test_changelog.py
    last = registry.history()[-1]
    assert (last.from_version, last.to_version, last.actor, last.action) == ("1", "2", "ci-bot", "promote")
    assert last.reason == decision.summary


@pytest.mark.parametrize(
    ("kwargs", "failed_gate", "on_reject"),
    [
        ({"champion": 0.70, "challenger": 0.705}, "min_gain.f1_macro", "skip"),  # below margin
        ({"champion": 0.70, "challenger": 0.76, "ci_low": -0.01}, "min_gain.f1_macro", "register_without_alias"),
        (
            {"champion": 0.70, "challenger": 0.76, "resolution": UNRESOLVED},
            "drift_resolved.training_data",
            "register_without_alias",
        ),
        ({"champion": 0.70, "challenger": 0.76, "recall_neg": (0.8, 0.6)}, "max_regression.recall_negative", "skip"),
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


def test_crash_before_alias_move_keeps_old_champion_and_rerun_completes(
    registry, challenger_factory, lock, monkeypatch
):
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
    with pytest.raises(OSError, match="crash"):
        do_promote(registry, ch, decide(0.70, 0.76), lock)
    assert registry.champion().version == "2" and len(registry.history()) == 1
    monkeypatch.setattr(registry, "_append_history", real)
    do_promote(registry, ch, decide(0.70, 0.76), lock)
    hist = registry.history()
    assert [(m.to_version, m.action) for m in hist] == [("1", "promote"), ("2", "recorded")]


def test_rollback_keeps_the_demoted_version_and_a_second_rollback_undoes_it(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    do_promote(registry, challenger_factory(1), verdict(True), lock)
    do_promote(registry, challenger_factory(2), verdict(True), lock)
    assert registry.aliases() == {"champion": "3", "previous": "2"}
    move = registry.rollback("v3 misclassifies new product area", actor="alice")
    assert (move.from_version, move.to_version, move.action, move.actor) == ("3", "2", "rollback", "alice")
    # The replaced champion stays findable: previous names it.
    assert registry.aliases() == {"champion": "2", "previous": "3"}
    assert json.loads(registry.get_version("3").tags["driftloop.rolled_back"])["reason"].startswith("v3 misclass")
    registry.rollback("the complaints were about something else", actor="bob")
    assert registry.aliases() == {"champion": "3", "previous": "2"}
    hist = registry.history()
    assert [(m.seq, m.action, m.from_version, m.to_version) for m in hist] == [
        (1, "promote", None, "1"),
        (2, "promote", "1", "2"),
        (3, "promote", "2", "3"),
        (4, "rollback", "3", "2"),
        (5, "rollback", "2", "3"),
    ]
    assert all(m.at and m.actor and m.reason for m in hist)
    status = registry.status()
    assert status["champion"]["version"] == "3" and status["previous_version"] == "2"
    assert status["last_move"]["actor"] == "bob"


def test_rollback_after_first_promotion_has_nothing_to_go_back_to(registry, challenger_factory, lock):
    seed_champion(registry, challenger_factory, lock)
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("too far", actor="bob")
    assert registry.aliases() == {"champion": "1"}


def test_manual_promotion_is_audited_and_undone_by_rollback(registry, challenger_factory, lock):
    first = seed_champion(registry, challenger_factory, lock)
    do_promote(registry, challenger_factory(1), verdict(True), lock)
    do_promote(registry, challenger_factory(2), verdict(True), lock)
    move = registry.promote_version(1, reason="v2 and v3 both regress on refunds", actor="carol")
    assert (move.seq, move.action, move.from_version, move.to_version) == (4, "manual", "3", "1")
    assert (move.actor, move.reason, move.run_id) == ("carol", "v2 and v3 both regress on refunds", first.run_id)
    assert move.at
    assert registry.aliases() == {"champion": "1", "previous": "3"}
    assert registry.history()[-1] == move
    registry.rollback("undo the manual move", actor="carol")
    assert registry.aliases() == {"champion": "3", "previous": "1"}
    # Asking for the version that already serves moves and records nothing.
    assert registry.promote_version("3", reason="again", actor="carol") is None
    assert len(registry.history()) == 5


@pytest.mark.parametrize(
    ("version", "reason", "match"),
    [
        ("9", "typo", r"has no version '9'; its versions are 1, 2"),
        ("v2", "typo", r"has no version 'v2'; its versions are 1, 2"),
        ("2", " ", "needs a reason"),
    ],
    ids=["unknown-version", "not-a-number", "empty-reason"],
)
def test_manual_promotion_refuses_bad_input_and_moves_nothing(
    registry, challenger_factory, lock, version, reason, match
):
    seed_champion(registry, challenger_factory, lock)
    do_promote(registry, challenger_factory(1), verdict(True), lock)
    with pytest.raises(RegistryError, match=match):
        registry.promote_version(version, reason=reason, actor="dave")
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert len(registry.history()) == 2


def test_manual_promotion_of_an_unknown_model(registry):
    with pytest.raises(RegistryError, match="does not exist"):
        registry.promote_version(1, reason="first")


def test_record_decision_can_leave_a_missing_model_alone(registry):
    assert registry.record_decision({"summary": "no challenger"}, create=False) is False
    assert registry.client.search_registered_models() == []
    assert registry.record_decision({"summary": "created"}) is True
    assert registry.record_decision({"summary": "no challenger"}, create=False) is True
    assert registry.last_decision() == {"summary": "no challenger"}


def test_rejecting_rerun_after_own_promotion_moves_nothing_and_says_so(registry, challenger_factory, lock, tmp_path):
    """A cycle that promoted its challenger reruns promote (a setting changed) and now rejects it."""
    seed_champion(registry, challenger_factory, lock)
    ch = challenger_factory(1)
    first = do_promote(registry, ch, verdict(True), lock, expected_champion="1")
    assert (first.promoted, first.version) == (True, "2")
    tags_before = registry.get_version("2").tags
    description_before = registry.get_version("2").description
    rejected = verdict(False)
    for on_reject in ("skip", "register_without_alias"):
        again = do_promote(registry, ch, rejected, lock, on_reject=on_reject, expected_champion="1")
        assert (again.promoted, again.version, again.previous_version) == (True, "2", "1")
        assert "already serves" in again.note and "driftloop rollback" in again.note
        assert rejected.summary in again.note
    assert registry.aliases() == {"champion": "2", "previous": "1"}
    assert [m.to_version for m in registry.history()] == ["1", "2"]
    assert len(registry.client.search_model_versions(f"name='{NAME}'")) == 2
    # The version keeps the record of why it was promoted.
    assert registry.get_version("2").tags == tags_before
    assert registry.get_version("2").description == description_before
    # The registry's last decision does not call the serving model rejected.
    last = registry.last_decision()
    assert (last["promoted"], last["version"]) == (True, "2") and "already serves" in last["summary"]
    rec = write_decision(tmp_path / "decision.json", rejected, again, NAME)
    assert (rec["promoted"], rec["version"], rec["previous_version"]) == (True, "2", "1")
    assert rec["summary"].startswith("Version 2, this cycle's challenger, already serves")
    assert [g["passed"] for g in rec["gates"]] == [False]  # the rerun's gates, as evaluated


def test_rollback_without_champion_is_a_registry_error(registry):
    with pytest.raises(RegistryError, match="no 'champion' alias"):
        registry.rollback("nothing there")


def test_second_promoter_gets_lock_error(registry, challenger_factory, lock):
    ch = challenger_factory(0)
    with promotion_lock(lock), pytest.raises(LockError, match=r"promote\.lock"):
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
    cfg = RegistryConfig(alias="prod", previous_alias="prod_prev")
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
