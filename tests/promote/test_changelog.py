"""The registry as a changelog: markdown descriptions of versions and of the registered model.

Pure rendering (hand-written expected lines, bounds, redaction), then a real sqlite MLflow
registry with real scikit-learn challengers: promote, reject, promote by hand, roll back, and
read the descriptions back through ``MlflowClient``.
"""

from __future__ import annotations

import logging

import pytest

from driftloop.contracts import Gate
from driftloop.promote.alias_history import AliasMove
from driftloop.promote.changelog import (
    MAX_BODY,
    MAX_DESCRIPTION,
    MOVES_HEADING,
    Headline,
    Lineage,
    ModelChangelog,
    decision_sentence,
    headline_line,
    last_decision_line,
    model_description,
    split_body,
    version_body,
    version_description,
)
from driftloop.promote.config import PromoteConfig
from driftloop.promote.gates import Decision
from driftloop.promote.lineage_tags import build_lineage_tags
from driftloop.promote.promotion import promote
from driftloop.promote.registry import ChampionRegistry

from .conftest import UNRESOLVED, decide

NAME = "sentiment"
AT = "2026-12-01T10:00:00.000+00:00"


def move(seq, frm, to, action="promote", actor="ci", reason="why", at=AT) -> AliasMove:
    return AliasMove(seq, "champion", frm, to, action, actor, reason, at)


# -- pure rendering -------------------------------------------------------------------------------


def test_version_body_reads_as_written():
    gates = (
        Gate("drift_resolved.training_data", True, "closer to the holdout on ['stars']"),
        Gate(
            "min_gain.f1_macro",
            True,
            "f1_macro: challenger 0.7600 vs champion 0.7000: gain +0.0600 >= min_gain 0.01",
            evidence={
                "metric": "f1_macro",
                "champion": 0.70,
                "challenger": 0.76,
                "greater_is_better": True,
                "ci_low": 0.02,
                "ci_high": 0.12,
                "confidence": 0.95,
            },
        ),
        Gate("max_regression.recall_a", False, "regression 0.08 > max_regression 0.05", "advisory", "noisy"),
        Gate("threshold.f1_macro", True, "skipped: not needed", "off", "not needed"),
    )
    decision = Decision(True, False, gates, "Promoted: all 2 enforced gates passed.")
    lineage = Lineage(
        source_run_id="run9",
        cycle_run_id="cyc1",
        git_commit="0123abc",
        training_data_path="data/train/training.parquet",
        training_data_md5="a" * 32,
        holdout_data_md5="b" * 32,
        drifted_columns=("stars", "channel"),
        compared_with="3",
    )
    body = version_body(decision, lineage, Headline.from_gates(gates), note="An experiment run.")
    assert body.splitlines() == [
        "**Decision:** Promoted: all 2 enforced gates passed.",
        "",
        "**Headline:** `f1_macro` (higher is better): champion 0.7000, challenger 0.7600, delta +0.0600 "
        "(95% interval [+0.0200, +0.1200])",
        "",
        "**Gates:**",
        "- passed `drift_resolved.training_data`: closer to the holdout on ['stars']",
        "- passed `min_gain.f1_macro`: f1_macro: challenger 0.7600 vs champion 0.7000: gain +0.0600 >= min_gain 0.01",
        "- failed (advisory: noisy) `max_regression.recall_a`: regression 0.08 > max_regression 0.05",
        "- off `threshold.f1_macro`: skipped: not needed",
        "",
        "**Lineage:**",
        "- cycle run: `cyc1`",
        "- source run: `run9`",
        "- git commit: `0123abc`",
        f"- training data: `data/train/training.parquet`, md5 `{'a' * 32}`",
        f"- holdout: (path not recorded), md5 `{'b' * 32}`",
        "- drifted columns: `stars`, `channel`",
        "- compared against: version 3 (the champion then)",
        "",
        "**Note:** An experiment run.",
    ]


def test_a_failed_gate_appears_with_its_sentence_and_names_the_rejection():
    decision = decide(0.70, 0.76, resolution=UNRESOLVED)
    assert not decision.promoted
    body = version_body(decision, Lineage(compared_with="1"), Headline.from_gates(decision.gates))
    lines = body.splitlines()
    assert lines[0] == "**Decision:** Not promoted: 1 of 6 enforced gates failed: `drift_resolved.training_data`."
    failed = next(g for g in decision.gates if g.name == "drift_resolved.training_data")
    assert f"- **FAILED** `drift_resolved.training_data`: {failed.detail}" in lines
    # The headline comes from the min_gain gate's evidence, with its paired interval.
    assert lines[2] == (
        "**Headline:** `f1_macro` (higher is better): champion 0.7000, challenger 0.7600, delta +0.0600 "
        "(95% interval [+0.0200, +0.1200])"
    )


def test_decision_not_acted_on_does_not_read_as_promoted():
    gate = Gate("threshold.f1_macro", True, "ok")
    assert decision_sentence(Decision(False, False, (gate,), "Promoted: all 1 enforced gates passed.")) == (
        "Not promoted, although all 1 enforced gates passed: the alias was not moved."
    )
    assert decision_sentence(Decision(False, True, (), "no challenger was trained")) == "no challenger was trained"


def test_headline_prefers_the_primary_gain_and_knows_lower_is_better():
    floor = Gate("threshold.f1_macro", True, "ok", evidence={"metric": "f1_macro", "challenger": 0.8})
    loss = Gate(
        "min_gain.log_loss",
        True,
        "ok",
        evidence={"metric": "log_loss", "champion": 0.5, "challenger": 0.4, "greater_is_better": False},
    )
    assert Headline.from_gates([floor, loss]).metric == "log_loss"
    assert headline_line(Headline.from_gates([floor, loss])) == (
        "`log_loss` (lower is better): champion 0.5000, challenger 0.4000, delta -0.1000 (interval not recorded)"
    )
    assert Headline.from_gates([Gate("first_cycle", True, "no champion")]) is None


def test_version_description_status_follows_the_moves():
    moves = [move(1, None, "1"), move(2, "1", "2", actor="ci-bot"), move(3, "2", "1", "rollback", "alice", "bad v2")]
    aliases = {"champion": "1", "previous": "2"}
    v2 = version_description("2", "**Decision:** Promoted.", moves, aliases)
    assert v2.splitlines() == [
        f"**Now:** not serving: rolled back at {AT} by alice (version 1 serves instead). "
        "It holds `previous`: `driftloop rollback` restores it.",
        "",
        "**Decision:** Promoted.",
        "",
        MOVES_HEADING,
        f"- {AT}: rolled back by alice (version 1 serves again): bad v2",
        f"- {AT}: promoted to `champion` by a cycle, replacing version 1 (by ci-bot)",
    ]
    v1 = version_description("1", "", moves, aliases)
    assert v1.splitlines()[0] == f"**Now:** serving as `champion` since {AT} (restored by a rollback by alice)."
    assert v1.splitlines()[2] == MOVES_HEADING  # no body: the status, then the moves
    # Re-rendering keeps the registration-time body and regenerates the rest.
    assert split_body(v2) == "**Decision:** Promoted."
    manual = move(4, "1", "2", "manual", "carol", "v1 is worse")
    again = version_description("2", split_body(v2), [*moves, manual], {"champion": "2", "previous": "1"})
    assert again.splitlines()[0] == f"**Now:** serving as `champion` since {AT} (promoted by hand by carol)."
    assert again.count("**Decision:** Promoted.") == 1
    assert f"- {AT}: promoted to `champion` by hand by carol: v1 is worse" in again.splitlines()


def test_last_decision_line_names_what_the_cycle_did():
    assert last_decision_line(None) == "**Last decision:** none recorded yet."
    none_trained = {"promoted": False, "challenger_trained": False, "summary": "no drift: nothing to retrain"}
    assert last_decision_line(none_trained) == (
        "**Last decision**: no challenger was trained. no drift: nothing to retrain"
    )
    # A record cut at the tag limit reads back as its text only: no verdict is made up for it.
    assert last_decision_line({"summary": '{"promoted": tr...[truncated]'}) == (
        '**Last decision**: {"promoted": tr...[truncated]'
    )


def test_model_description_is_a_table_newest_first():
    moves = [move(1, None, "1"), move(2, "1", "2", reason="Promoted: all 5 enforced gates passed.")]
    moves.append(move(3, "2", "1", "rollback", "alice", "v2 | v3 broke refunds\non mobile"))
    last = {
        "promoted": False,
        "version": None,
        "run_id": "r9",
        "summary": "Rejected.",
        "gates": [{"name": "min_gain.f1_macro", "passed": False, "detail": "gain too small"}],
    }
    text = model_description(
        ModelChangelog(NAME, "champion", "previous", {"champion": "1", "previous": "2"}, moves, last)
    )
    lines = text.splitlines()
    assert lines[:8] == [
        "### sentiment: the `champion` alias and why it moved",
        "`champion`: version 1 · `previous`: version 2",
        "",
        "**Last decision**: rejected, not registered (run `r9`). Not promoted: 1 of 1 enforced gates failed: "
        "`min_gain.f1_macro`.",
        "",
        "#### Alias history (newest first)",
        "| # | when (UTC) | alias | version | previous version | action | who | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    assert lines[8:11] == [
        f"| 3 | {AT} | champion | 1 | 2 | rollback | alice | v2 \\| v3 broke refunds on mobile |",
        f"| 2 | {AT} | champion | 2 | 1 | promoted by a cycle | ci | Promoted: all 5 enforced gates passed. |",
        f"| 1 | {AT} | champion | 1 | - | promoted by a cycle | ci | why |",
    ]


def test_long_history_is_cut_to_mlflows_limit_with_a_count_of_what_was_left_out():
    moves = [move(i, str(i - 1) if i > 1 else None, str(i), reason="r" * 300) for i in range(1, 201)]
    text = model_description(ModelChangelog(NAME, "champion", "previous", {"champion": "200"}, moves))
    assert len(text) <= MAX_DESCRIPTION
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| #")]
    assert rows[0].startswith("| 200 |") and rows[-1].startswith(f"| {201 - len(rows)} |")
    assert f"_{200 - len(rows)} older moves not shown: `driftloop history` lists them all._" in text
    assert 10 < len(rows) < 200
    assert text.splitlines()[-1].startswith("Written by driftloop")  # the footer survives the cut

    v = version_description("7", "x" * 10_000, [move(i, "7", "7", "manual", reason="y" * 300) for i in range(60)], {})
    assert len(v) <= MAX_DESCRIPTION and "older moves (`driftloop history`)" in v


def test_many_gates_keep_the_failed_ones_and_count_the_rest():
    gates = tuple(Gate(f"max_regression.recall_{i}", True, "regression 0 <= 0.05 " + "z" * 200) for i in range(60))
    gates += (Gate("min_gain.f1_macro", False, "gain +0.0010 < min_gain 0.01"),)
    body = version_body(Decision(False, False, gates, "Rejected."), Lineage())
    assert len(body) <= MAX_BODY
    assert "- **FAILED** `min_gain.f1_macro`: gain +0.0010 < min_gain 0.01" in body.splitlines()
    shown = sum(1 for line in body.splitlines() if line.startswith("- passed "))
    assert f"- … {60 - shown} more gates (see the cycle run's decision.json)" in body.splitlines()
    assert 0 < shown < 60


def test_credentials_never_reach_a_description(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-secret-98765")
    lineage = Lineage(training_data_path="s3://alice:hunter22@bucket/train.parquet", compared_with=None)
    gate = Gate("threshold.f1_macro", True, "ok")
    body = version_body(Decision(True, True, (gate,), "Promoted."), lineage, note="token tok-secret-98765 used")
    assert "hunter22" not in body and "tok-secret-98765" not in body
    assert "- training data: `s3://alice:***@bucket/train.parquet`" in body.splitlines()
    text = model_description(
        ModelChangelog(NAME, "champion", "previous", {}, [move(1, None, "1", reason="see http://bob:pw123456@host/x")])
    )
    assert "pw123456" not in text and "http://bob:***@host/x" in text


# -- a real registry --------------------------------------------------------------------------------

SIGNIFICANT = PromoteConfig.from_dict(
    {
        "rules": [
            {"metric": "f1_macro", "min_gain": 0.01, "significant": True},
            {"metric": "recall_*", "max_regression": 0.05},
            {"metric": "f1_macro", "threshold": 0.6},
        ]
    }
)


@pytest.fixture
def registry(client):
    return ChampionRegistry(NAME, client=client)


def tags_for(ch) -> dict:
    return build_lineage_tags(
        git_commit="0123abc",
        training_data_md5="a" * 32,
        training_data_path="data/train/training.parquet",
        holdout_data_md5="b" * 32,
        holdout_data_path="data/snapshot/holdout.parquet",
        cycle_run_id="cycle-run-1",
        drift_summary={"drifted": True, "share_drifted": 0.25, "columns": ["stars"]},
    )


def run_promote(registry, ch, decision, lock, **kw):
    return promote(registry, decision, ch.model_uri, ch.run_id, tags_for(ch), decision.summary, lock, **kw)


def described(client, version=None) -> list[str]:
    """The description MLflow holds, as lines (read back with a client of its own)."""
    if version is None:
        return client.get_registered_model(NAME).description.splitlines()
    return client.get_model_version(NAME, str(version)).description.splitlines()


def test_promotion_and_rollback_write_the_changelog(registry, client, challenger_factory, lock):
    first = challenger_factory(0)
    run_promote(registry, first, decide(None, 0.70, cfg=SIGNIFICANT), lock, actor="ci-bot")
    ch = challenger_factory(1)
    decision = decide(0.70, 0.76, cfg=SIGNIFICANT)
    assert decision.promoted
    out = run_promote(registry, ch, decision, lock, actor="ci-bot", expected_champion="1")
    at = out.move.at
    gain = next(g for g in decision.gates if g.name == "min_gain.f1_macro")

    v2 = described(client, 2)
    assert v2[:5] == [
        f"**Now:** serving as `champion` since {at} (promoted by a cycle).",
        "",
        f"**Decision:** Promoted: all {len(decision.gates)} enforced gates passed.",
        "",
        "**Headline:** `f1_macro` (higher is better): champion 0.7000, challenger 0.7600, delta +0.0600 "
        "(95% interval [+0.0200, +0.1200])",
    ]
    assert f"- passed `min_gain.f1_macro`: {gain.detail}" in v2
    i = v2.index("**Lineage:**")
    assert v2[i + 1 : i + 8] == [
        "- cycle run: `cycle-run-1`",
        f"- source run: `{ch.run_id}`",
        "- git commit: `0123abc`",
        f"- training data: `data/train/training.parquet`, md5 `{'a' * 32}`",
        f"- holdout: `data/snapshot/holdout.parquet`, md5 `{'b' * 32}`",
        "- drifted columns: `stars`",
        "- compared against: version 1 (the champion then)",
    ]
    assert v2[-2:] == [MOVES_HEADING, f"- {at}: promoted to `champion` by a cycle, replacing version 1 (by ci-bot)"]
    assert described(client, 1)[0] == (
        f"**Now:** not serving: replaced by version 2 at {at}. It holds `previous`: `driftloop rollback` restores it."
    )
    assert "- compared against: none (first cycle)" in described(client, 1)
    model = described(client)
    assert model[1] == "`champion`: version 2 · `previous`: version 1"
    assert model[3] == (
        f"**Last decision**: promoted version 2 (run `{ch.run_id}`). "
        f"Promoted: all {len(decision.gates)} enforced gates passed."
    )
    assert model[8].startswith(f"| 2 | {at} | champion | 2 | 1 | promoted by a cycle | ci-bot | Promoted: ")
    assert model[9].startswith(f"| 1 | {registry.history()[0].at} | champion | 1 | - | promoted by a cycle | ci-bot | ")

    back = registry.rollback("v2 misclassifies refunds", actor="alice")
    v2 = described(client, 2)
    assert v2[0] == (
        f"**Now:** not serving: rolled back at {back.at} by alice (version 1 serves instead). "
        "It holds `previous`: `driftloop rollback` restores it."
    )
    assert v2[-3:] == [
        MOVES_HEADING,
        f"- {back.at}: rolled back by alice (version 1 serves again): v2 misclassifies refunds",
        f"- {at}: promoted to `champion` by a cycle, replacing version 1 (by ci-bot)",
    ]
    # Its decision at registration is kept: it was promoted then, it is rolled back now.
    assert v2[2] == f"**Decision:** Promoted: all {len(decision.gates)} enforced gates passed."
    assert (
        described(client, 1)[0] == f"**Now:** serving as `champion` since {back.at} (restored by a rollback by alice)."
    )
    model = described(client)
    assert model[1] == "`champion`: version 1 · `previous`: version 2"
    assert model[8] == f"| 3 | {back.at} | champion | 1 | 2 | rollback | alice | v2 misclassifies refunds |"
    assert len([line for line in model if line.startswith("| ") and not line.startswith("| #")]) == 3


def test_rejections_and_a_manual_promotion_read_right(registry, client, challenger_factory, lock):
    run_promote(registry, challenger_factory(0), decide(None, 0.70), lock)
    rejected = decide(0.70, 0.76, resolution=UNRESOLVED)
    ch = challenger_factory(1)
    out = run_promote(registry, ch, rejected, lock, on_reject="register_without_alias")
    assert (out.promoted, out.version) == (False, "2")
    v2 = described(client, 2)
    assert v2[0] == "**Now:** not serving: it has never held `champion`."
    assert v2[2] == "**Decision:** Not promoted: 1 of 6 enforced gates failed: `drift_resolved.training_data`."
    failed = rejected.failed[0]
    assert f"- **FAILED** `drift_resolved.training_data`: {failed.detail}" in v2
    assert MOVES_HEADING not in v2
    model = described(client)
    assert model[3] == (
        f"**Last decision**: rejected, version 2 registered without an alias (run `{ch.run_id}`). "
        "Not promoted: 1 of 6 enforced gates failed: `drift_resolved.training_data`."
    )
    # A rejection that registers nothing is in the model's description too (its last decision).
    skipped = challenger_factory(2)
    run_promote(registry, skipped, decide(0.70, 0.705), lock, on_reject="skip")
    assert described(client)[3] == (
        f"**Last decision**: rejected, not registered (run `{skipped.run_id}`). "
        "Not promoted: 1 of 6 enforced gates failed: `min_gain.f1_macro`."
    )

    manual = registry.promote_version(2, reason="v1 fails on the new product area", actor="carol")
    v2 = described(client, 2)
    assert v2[0] == f"**Now:** serving as `champion` since {manual.at} (promoted by hand by carol)."
    assert v2[2].startswith("**Decision:** Not promoted: ")  # why it was not promoted then stays
    assert v2[-2:] == [
        MOVES_HEADING,
        f"- {manual.at}: promoted to `champion` by hand by carol: v1 fails on the new product area",
    ]
    assert described(client, 1)[0].startswith(f"**Now:** not serving: replaced by version 2 at {manual.at}.")
    assert described(client)[8] == (
        f"| 2 | {manual.at} | champion | 2 | 1 | promoted by hand | carol | v1 fails on the new product area |"
    )


def test_a_failed_description_write_leaves_the_move_and_is_repaired_later(
    registry, client, challenger_factory, lock, monkeypatch, caplog
):
    from mlflow.exceptions import MlflowException

    run_promote(registry, challenger_factory(0), decide(None, 0.70), lock)
    run_promote(registry, challenger_factory(1), decide(0.70, 0.76), lock)
    before = client.get_registered_model(NAME).description
    real = registry.client.update_registered_model

    def refuse(*args, **kwargs):  # a registry that refuses the write (e.g. a column too narrow)
        raise MlflowException("value too long for type character varying(5000)")

    monkeypatch.setattr(registry.client, "update_registered_model", refuse)
    with caplog.at_level(logging.WARNING, logger="driftloop.promote.registry"):
        back = registry.rollback("v2 is worse", actor="alice")
    # The move happened and is recorded; only the markdown is stale, and the log says so.
    assert registry.aliases() == {"champion": "1", "previous": "2"}
    assert registry.history()[-1] == back
    assert client.get_registered_model(NAME).description == before
    assert "changelog of registered model 'sentiment' was not updated" in caplog.text
    assert "value too long" in caplog.text
    monkeypatch.setattr(registry.client, "update_registered_model", real)
    assert registry.refresh_changelog() is True
    assert described(client)[8] == f"| 3 | {back.at} | champion | 1 | 2 | rollback | alice | v2 is worse |"
