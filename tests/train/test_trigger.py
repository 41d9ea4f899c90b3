"""``train.trigger`` (issue 16, item 2): always, on drift, on a performance drop (measured or
estimated), on the champion's age, on the volume of new data; combined with any / all; a cycle that
trains nothing says which trigger stopped it, one that trains says which fired.

Pure: hand-built drift.json and manifest mappings, no MLflow and no files.
"""

from __future__ import annotations

import pytest

from driftloop.contracts import DriftResult, Manifest
from driftloop.errors import ConfigError
from driftloop.train.trigger import (
    Combined,
    Rule,
    TriggerFacts,
    decide,
    evaluate,
    parse_trigger,
    skip_reason,
)
from driftloop.train.windows import WindowConfig

CALM = {"dataset": {"drifted": False, "verdict": "no drift"}}
DRIFTED = {"dataset": {"drifted": True, "verdict": "drift"}}
CONCEPT = {"dataset": {"drifted": False, "verdict": "no drift"}, "concept": {"drifted": True}}
TOO_FEW = {"dataset": {"drifted": False, "verdict": "too few rows"}}


def measured(ref: float, cur: float, metric: str = "accuracy") -> dict:
    """A calm drift.json whose concept check measured ``metric`` on current labels."""
    return {**CALM, "concept": {"metric": metric, "reference": ref, "current": cur, "delta": cur - ref}}


def estimated(ref: float, cur: float) -> dict:
    """A calm drift.json without current labels: CBPE estimated on both windows."""
    return {
        **CALM,
        "concept": None,
        "performance_estimate": {
            "method": "CBPE",
            "current": {"accuracy": cur, "f1_macro": cur - 0.1},
            "reference_check": {
                "accuracy": {"estimated": ref, "realised": ref + 0.05},
                "f1_macro": {"estimated": ref - 0.1, "realised": ref},
            },
        },
    }


def facts(days: float = 3, rows: int = 120) -> TriggerFacts:
    return TriggerFacts("2024-01-01T00:00:00", f"2024-01-{1 + int(days):02d}T00:00:00", rows)


# -- parsing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("on_drift", "on_drift", id="on_drift"),
        pytest.param("always", "always", id="always"),
        pytest.param("champion_age", "champion_age(days=30)", id="name-alone-takes-defaults"),
        pytest.param({"new_rows": {"min": 10}}, "new_rows(min=10)", id="one-trigger-mapping"),
        pytest.param({"new_rows": None}, "new_rows(min=5000)", id="null-params-defaults"),
        pytest.param(
            ["on_drift", {"performance_drop": {"metric": "f1_macro", "min_drop": 0.05}}],
            "any(on_drift, performance_drop(metric=f1_macro, min_drop=0.05))",
            id="list-is-any",
        ),
        pytest.param(
            {"all": ["on_drift", {"any": [{"champion_age": {"days": 7}}, "new_rows"]}]},
            "all(on_drift, any(champion_age(days=7), new_rows(min=5000)))",
            id="nested",
        ),
    ],
)
def test_parse_trigger(value, text):
    assert str(parse_trigger(value)) == text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("on_drfit", "train.trigger must be one of ['always', 'on_drift', ", id="typo"),
        pytest.param(3, "Got 3 instead", id="number"),
        pytest.param([], "train.trigger must be a non-empty list of triggers. Got [] instead.", id="empty-list"),
        pytest.param({"any": "on_drift"}, "train.trigger.any must be a non-empty list", id="any-not-a-list"),
        pytest.param({"sometimes": {}}, "train.trigger names an unknown trigger 'sometimes'", id="unknown-name"),
        pytest.param(
            {"on_drift": {}, "always": {}}, "exactly one key (a trigger, 'any' or 'all'). Got 2 keys", id="two-keys"
        ),
        pytest.param(
            ["on_drift", {"champion_age": {"days": 0}}],
            "train.trigger[1].champion_age.days must be a number > 0. Got 0 instead.",
            id="bad-days-named-by-path",
        ),
        pytest.param(
            {"performance_drop": {"metric": "auc"}},
            "train.trigger.performance_drop.metric must be one of ['accuracy', 'f1_macro']. Got 'auc' instead.",
            id="bad-metric",
        ),
        pytest.param(
            {"new_rows": {"rows": 5}},
            "train.trigger.new_rows has unknown key(s) ['train.trigger.new_rows.rows']; expected some of ['min']",
            id="unknown-key",
        ),
        pytest.param(
            {"all": [{"new_rows": {"min": 0.5}}]},
            "train.trigger.all[0].new_rows.min must be an integer",
            id="not-integer",
        ),
    ],
)
def test_a_bad_trigger_is_refused_naming_the_key(value, message):
    with pytest.raises(ConfigError) as err:
        parse_trigger(value)
    assert message in str(err.value)


def test_the_train_group_validates_its_trigger():
    assert WindowConfig.from_dict({"trigger": ["on_drift", "new_rows"]}).trigger == ["on_drift", "new_rows"]
    assert WindowConfig.from_dict({}).trigger == "on_drift"
    with pytest.raises(ConfigError, match=r"train\.trigger\.champion_age\.days must be a number > 0"):
        WindowConfig.from_dict({"trigger": {"champion_age": {"days": -1}}})


def test_defaults_are_written_once():
    assert parse_trigger("performance_drop") == Rule("performance_drop", (("metric", "accuracy"), ("min_drop", 0.03)))
    assert parse_trigger(["always"]) == Combined("any", (Rule("always"),))


# -- the facts from the manifest ----------------------------------------------------------------------


def test_facts_from_a_manifest_count_current_and_skipped_rows():
    data = {
        "champion": {"name": "m", "version": "1", "alias": "champion"},
        "reference": {"rows": 500, "start": "2024-01-01T00:00:00", "end": "2024-01-28T00:00:00"},
        "current": {"rows": 300, "start": "2024-02-01T00:00:00", "end": "2024-02-14T00:00:00"},
        "skipped": {"rows": 40},
    }
    expected = TriggerFacts("2024-01-28T00:00:00", "2024-02-14T00:00:00", 340)
    assert TriggerFacts.from_manifest(data) == expected
    assert TriggerFacts.from_manifest(Manifest.from_dict(data)) == expected
    assert TriggerFacts.from_manifest(None) == TriggerFacts()


# -- evaluation: each trigger ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "drift", "facts_", "fired", "detail"),
    [
        pytest.param("always", CALM, facts(), True, "retrains every cycle", id="always"),
        pytest.param("on_drift", DRIFTED, facts(), True, "drift detected", id="on_drift-dataset"),
        pytest.param("on_drift", CONCEPT, facts(), True, "concept drift detected", id="on_drift-concept"),
        pytest.param("on_drift", CALM, facts(), False, "no drift detected", id="on_drift-calm"),
        pytest.param("on_drift", TOO_FEW, facts(), False, "too few current rows", id="on_drift-too-few"),
        pytest.param(
            {"performance_drop": {"min_drop": 0.05}},
            measured(0.90, 0.80),
            facts(),
            True,
            "accuracy measured on current labels 0.800 vs 0.900 on reference: drop 0.100 >= 0.05",
            id="drop-measured-fires",
        ),
        pytest.param(
            {"performance_drop": {"min_drop": 0.05}},
            measured(0.90, 0.88),
            facts(),
            False,
            "accuracy measured on current labels 0.880 vs 0.900 on reference: drop 0.020 < 0.05",
            id="drop-measured-small",
        ),
        pytest.param(
            {"performance_drop": {"min_drop": 0.05}},
            estimated(0.85, 0.70),
            facts(),
            True,
            "accuracy estimated without labels (CBPE) 0.700 on current vs 0.850 estimated on reference: drop 0.150",
            id="drop-estimated-fires",
        ),
        pytest.param(
            {"performance_drop": {"metric": "f1_macro", "min_drop": 0.05}},
            {**estimated(0.85, 0.84), "concept": measured(0.9, 0.5)["concept"]},
            facts(),
            False,
            "f1_macro estimated without labels (CBPE) 0.740 on current vs 0.750 estimated on reference: drop 0.010",
            id="drop-other-metric-measured-falls-back-to-estimate",
        ),
        pytest.param(
            "performance_drop",
            CALM,
            facts(),
            False,
            "accuracy neither measured on current labels nor estimated (no champion probabilities): cannot tell",
            id="drop-cannot-tell",
        ),
        pytest.param({"champion_age": {"days": 30}}, CALM, facts(days=3), False, "3 days < 30", id="age-young"),
        pytest.param({"champion_age": {"days": 7}}, CALM, facts(days=14), True, "14 days >= 7", id="age-old"),
        pytest.param(
            {"champion_age": {"days": 7}},
            CALM,
            TriggerFacts(None, "2024-01-04T00:00:00", 10),
            False,
            "no champion training data end or no current rows: cannot tell",
            id="age-unknown",
        ),
        pytest.param(
            {"champion_age": {"days": 1}},
            CALM,
            TriggerFacts("2024-01-01T00:00:00.000000001+00:00", "2024-01-03T00:00:00.000000001+00:00", 1),
            True,
            "2 days >= 1",
            id="age-nanosecond-timestamps",
        ),
        pytest.param({"new_rows": {"min": 100}}, CALM, facts(rows=120), True, "120 rows >= 100", id="rows-enough"),
        pytest.param({"new_rows": {"min": 5000}}, CALM, facts(rows=120), False, "120 rows < 5000", id="rows-few"),
        pytest.param("new_rows", CALM, TriggerFacts(), False, "counts no current rows: cannot tell", id="rows-unknown"),
    ],
)
def test_each_trigger(trigger, drift, facts_, fired, detail):
    verdict = evaluate(parse_trigger(trigger), DriftResult.from_dict(drift), facts_)
    (check,) = verdict.checks
    assert (verdict.fire, check.fired) == (fired, fired)
    assert detail in check.detail


# -- decisions: combined, and what they record -------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "drift", "facts_", "train", "said"),
    [
        pytest.param(
            ["on_drift", {"champion_age": {"days": 7}}],
            CALM,
            facts(days=14),
            True,
            "champion_age: 14 days >= 7",
            id="any-calm-but-old-champion",
        ),
        pytest.param(
            ["on_drift", {"champion_age": {"days": 30}}],
            CALM,
            facts(days=3),
            False,
            "no trigger fired against m v1's training data (train.trigger any(on_drift, champion_age(days=30))): "
            "on_drift: no drift detected; champion_age: 3 days < 30: no challenger this cycle",
            id="any-nothing-fires",
        ),
        pytest.param(
            ["on_drift", {"new_rows": {"min": 100}}, {"champion_age": {"days": 7}}],
            DRIFTED,
            facts(days=14, rows=120),
            True,
            "on_drift: drift detected; new_rows: 120 rows >= 100; champion_age: 14 days >= 7",
            id="any-names-every-trigger-that-fired",
        ),
        pytest.param(
            {"all": ["on_drift", {"new_rows": {"min": 1000}}]},
            DRIFTED,
            facts(rows=120),
            False,
            "not every trigger fired against m v1's training data (train.trigger all(on_drift, new_rows(min=1000))): "
            "new_rows: 120 rows < 1000: no challenger this cycle",
            id="all-one-missing",
        ),
        pytest.param(
            {"all": ["on_drift", {"new_rows": {"min": 100}}]},
            DRIFTED,
            facts(rows=120),
            True,
            "on_drift: drift detected; new_rows: 120 rows >= 100",
            id="all-fire",
        ),
        pytest.param(
            {"all": ["on_drift", "new_rows"]},
            CALM,
            facts(rows=120),
            False,
            "no trigger fired against m v1's training data (train.trigger all(on_drift, new_rows(min=5000))): "
            "on_drift: no drift detected; new_rows: 120 rows < 5000",
            id="all-none",
        ),
        pytest.param(
            {"any": [{"all": ["on_drift", {"new_rows": {"min": 100}}]}, {"performance_drop": {"min_drop": 0.05}}]},
            measured(0.9, 0.8),
            facts(rows=50),
            True,
            "performance_drop: accuracy measured",
            id="nested-any-of-all",
        ),
        pytest.param(
            "on_drift",
            CALM,
            facts(),
            False,
            "no drift detected against m v1's training data and train.trigger is on_drift: no challenger this cycle",
            id="on_drift-message-as-before",
        ),
    ],
)
def test_decide(trigger, drift, facts_, train, said):
    decision = decide(drift, trigger, "m v1", facts_)
    assert decision.train is train
    assert decision.trigger == str(parse_trigger(trigger))
    if train:
        assert decision.reason is None and said in decision.fired_by
    else:
        assert decision.fired_by is None and said in decision.reason
        assert skip_reason(drift, trigger, "m v1", facts_) == decision.reason


def test_a_first_cycle_always_trains_and_says_so():
    decision = decide(CALM, {"champion_age": {"days": 1000}}, None, TriggerFacts())
    assert (decision.train, decision.fired_by, decision.reason) == (True, "first cycle (no champion)", None)


def test_a_first_cycle_still_refuses_a_bad_trigger():
    with pytest.raises(ConfigError, match=r"train\.trigger names an unknown trigger"):
        decide(CALM, {"weekly": {}}, None)


def test_triggers_that_need_the_manifest_cannot_fire_without_it():
    decision = decide(CALM, ["champion_age", "new_rows"], "m v1")
    assert not decision.train
    assert "champion_age: no champion training data end" in decision.reason
    assert "new_rows: the manifest counts no current rows" in decision.reason


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-01T00:00:00+00:00", "2024-01-31T00:00:00"),  # the champion's end zone-aware, current naive
        ("2024-01-01T00:00:00", "2024-01-31T00:00:00+00:00"),  # and the other way
        ("2024-01-01T01:00:00+01:00", "2024-01-31T00:00:00.000000001"),  # an offset, nanoseconds
    ],
    ids=["aware-naive", "naive-aware", "offset-nanoseconds"],
)
def test_champion_age_reads_a_naive_time_as_utc_beside_a_zone_aware_one(start, end):
    """The snapshot writes naive UTC times; a champion recorded with an offset (or a current window
    with one) is still 30 days apart from it, not a TypeError that fails the cycle."""
    from driftloop.train.trigger import TriggerFacts, champion_age

    check = champion_age(TriggerFacts(start, end), 30)
    assert check.fired and str(check).startswith("champion_age: 30 days >=")
    assert not champion_age(TriggerFacts(start, end), 30.01).fired
