"""Pure unit tests of the promotion rules, gates and their config (no MLflow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from driftloop.config import compose
from driftloop.contracts import DecisionRecord, Gate
from driftloop.errors import ConfigError
from driftloop.promote.config import MetricRule, PromoteConfig
from driftloop.promote.gates import Decision, drift_gates, evaluate_gates, rule_gates
from driftloop.promote.promotion import PromotionOutcome, write_decision
from driftloop.promote.resolution import DriftResolution, ResolutionCheck

ROOT = Path(__file__).resolve().parents[2]


def comp(**metrics) -> dict:
    return {"n_holdout": 200, "confidence": 0.95, "metrics": metrics}


def m(champion, challenger, ci_low=None, ci_high=None, p_value=None, gib=True) -> dict:
    delta = None if champion is None or challenger is None else challenger - champion
    return {
        "champion": champion,
        "challenger": challenger,
        "delta": delta,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_value": p_value,
        "greater_is_better": gib,
    }


def rule(**kw) -> MetricRule:
    return MetricRule.from_dict(kw, "promote.rules[0]")


def cfg(*rules: dict) -> PromoteConfig:
    return PromoteConfig.from_dict({"rules": list(rules)})


PRIMARY = {"metric": "f1_macro", "min_gain": 0.0}
RESOLVED = DriftResolution(
    checks=(
        ResolutionCheck("training_data", True, "ok"),
        ResolutionCheck("output_labels", True, "ok"),
        ResolutionCheck("validation_gap", True, "ok"),
    )
)


# -- min_gain ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("champion", "challenger", "min_gain", "gib", "expected"),
    [
        (0.70, 0.75, 0.05, True, True),  # inclusive boundary (float 0.75-0.70 != 0.05 exactly)
        (0.20, 0.30, 0.10, True, True),  # 0.3-0.2 = 0.09999999999999998: rounding must not fail it
        (0.70, 0.7499, 0.05, True, False),  # just below the gain
        (0.70, 0.70, 0.0, True, True),  # a gain of 0 is applied (MLflow would skip), equal passes
        (0.70, 0.69, 0.0, True, False),  # worse fails with a gain of 0 (MLflow would pass it)
        (0.30, 0.25, 0.05, False, True),  # lower is better: a fall of exactly the gain passes
        (0.30, 0.35, 0.0, False, False),  # lower is better: a rise fails
        (None, 0.80, 0.0, True, False),  # missing champion fails
        (0.70, None, 0.0, True, False),  # missing challenger fails
        (0.70, math.nan, 0.0, True, False),  # NaN counts as missing
    ],
    ids=[
        "boundary",
        "rounding",
        "below",
        "zero-equal",
        "zero-worse",
        "lower-boundary",
        "lower-rise",
        "no-champion",
        "no-challenger",
        "nan",
    ],
)
def test_min_gain_absolute(champion, challenger, min_gain, gib, expected):
    gates = rule_gates(
        comp(f1_macro=m(champion, challenger, gib=gib)), rule(metric="f1_macro", min_gain=min_gain, significant=False)
    )
    assert [g.passed for g in gates] == [expected], gates[0].detail
    assert gates[0].name == "min_gain.f1_macro"


@pytest.mark.parametrize(
    ("champion", "challenger", "expected"),
    [(10.0, 9.5, True), (10.0, 9.51, False), (1000.0, 950.0, True), (0.010, 0.0095, True), (10.0, 10.5, False)],
    ids=["5%-boundary", "4.9%", "same-rule-in-other-units", "small-units", "worse"],
)
def test_min_gain_relative_is_unit_free(champion, challenger, expected):
    # MAE in euros or in thousands of euros: a 5 % relative gain means the same thing.
    gate = rule_gates(
        comp(mae=m(champion, challenger, gib=False)),
        rule(metric="mae", min_gain=0.05, relative=True, significant=False),
    )[0]
    assert gate.passed is expected, gate.detail
    assert gate.evidence["measured"] == pytest.approx((champion - challenger) / champion)


@pytest.mark.parametrize(
    ("ci_low", "ci_high", "gib", "expected"),
    [
        (0.01, 0.1, True, True),
        (0.0, 0.1, True, False),
        (-0.01, 0.1, True, False),
        (None, None, True, False),
        (-0.3, -0.1, False, True),
        (-0.3, 0.0, False, False),
    ],
    ids=["above-0", "touches-0", "spans-0", "missing", "lower-better-below-0", "lower-better-touches"],
)
def test_significant_needs_the_interval_strictly_on_the_improving_side(ci_low, ci_high, gib, expected):
    champion, challenger = (0.70, 0.76) if gib else (1.2, 1.0)
    gate = rule_gates(comp(x=m(champion, challenger, ci_low, ci_high, gib=gib)), rule(metric="x", min_gain=0.0))[0]
    assert gate.passed is expected, gate.detail
    assert "95% paired interval" in gate.detail or ci_low is None


def test_significant_regression_is_no_support_even_with_a_small_p_value():
    # A significant *regression* (p tiny, interval below 0) must never count as support.
    gate = rule_gates(comp(accuracy=m(0.8, 0.7, -0.12, -0.08, p_value=1e-6)), rule(metric="accuracy", min_gain=0.0))[0]
    assert not gate.passed and "p 1e-06" in gate.detail


# -- max_regression and threshold ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("champion", "challenger", "max_regression", "gib", "relative", "expected"),
    [
        (0.70, 0.65, 0.05, True, False, True),  # inclusive
        (0.70, 0.6499, 0.05, True, False, False),
        (0.70, 0.90, 0.0, True, False, True),  # an improvement is never a regression
        (2.0, 2.1, 0.05, False, True, True),  # 5 % relative, lower is better, inclusive
        (2.0, 2.11, 0.05, False, True, False),
        (None, 0.7, 0.05, True, False, False),  # missing fails
    ],
    ids=["boundary", "beyond", "improved", "relative-boundary", "relative-beyond", "missing"],
)
def test_max_regression(champion, challenger, max_regression, gib, relative, expected):
    gate = rule_gates(
        comp(x=m(champion, challenger, gib=gib)), rule(metric="x", max_regression=max_regression, relative=relative)
    )[0]
    assert gate.passed is expected, gate.detail
    assert gate.name == "max_regression.x"


def test_glob_rule_gives_one_gate_per_metric_and_a_missing_match_fails():
    c = comp(recall_a=m(0.7, 0.72), recall_b=m(0.8, 0.7), f1_macro=m(0.7, 0.7))
    gates = rule_gates(c, rule(metric="recall_*", max_regression=0.05))
    assert [(g.name, g.passed) for g in gates] == [
        ("max_regression.recall_a", True),
        ("max_regression.recall_b", False),
    ]
    none = rule_gates(c, rule(metric="precision_*", max_regression=0.05))
    assert [g.passed for g in none] == [False] and "available" in none[0].detail


@pytest.mark.parametrize(
    ("value", "threshold", "gib", "expected"),
    [
        (0.6, 0.6, True, True),
        (0.5999, 0.6, True, False),
        (0.2, 0.2, False, True),
        (0.21, 0.2, False, False),
        (None, 0.6, True, False),
        (math.nan, 0.6, True, False),
    ],
    ids=["boundary", "below", "lower-better-boundary", "lower-better-above", "missing", "nan"],
)
def test_threshold(value, threshold, gib, expected):
    gates = rule_gates(comp(f1_macro=m(None, value, gib=gib)), rule(metric="f1_macro", threshold=threshold))
    assert [g.passed for g in gates] == [expected]


def test_rule_direction_overrides_the_recorded_one():
    c = comp(score=m(0.5, 0.4, gib=True))
    assert not rule_gates(c, rule(metric="score", min_gain=0.0, significant=False))[0].passed
    assert rule_gates(c, rule(metric="score", min_gain=0.0, significant=False, greater_is_better=False))[0].passed


# -- modes ------------------------------------------------------------------------------------------


def test_advisory_rule_is_reported_but_never_blocks_and_off_is_recorded_as_skipped():
    c = comp(f1_macro=m(0.70, 0.80, 0.05, 0.15), accuracy=m(0.8, 0.6))
    config = cfg(
        PRIMARY,
        {
            "metric": "accuracy",
            "max_regression": 0.01,
            "mode": "advisory",
            "reason": "accuracy is not what this product sells",
        },
        {"metric": "f1_macro", "threshold": 0.99, "mode": "off", "reason": "no floor yet"},
    )
    d = evaluate_gates(c, RESOLVED, config, first_cycle=False)
    acc = next(g for g in d.gates if g.name == "max_regression.accuracy")
    floor = next(g for g in d.gates if g.name == "threshold.f1_macro")
    assert d.promoted and not acc.passed and acc.mode == "advisory" and acc.reason.startswith("accuracy is not")
    assert floor.passed and floor.mode == "off" and "no floor yet" in floor.detail
    assert "Advisory, not blocking: max_regression.accuracy" in d.summary
    on_disk = d.to_dict()["gates"]
    assert {g["name"]: g["mode"] for g in on_disk}["max_regression.accuracy"] == "advisory"


def test_advisory_drift_check_does_not_block():
    unresolved = DriftResolution(
        checks=(
            ResolutionCheck("training_data", False, "stars 1.4 vs 1.2", mode="advisory", reason="trend: known"),
            *RESOLVED.checks[1:],
        )
    )
    d = evaluate_gates(comp(f1_macro=m(0.7, 0.8, 0.05, 0.15)), unresolved, cfg(PRIMARY), first_cycle=False)
    assert d.promoted and d.gates[0].mode == "advisory" and d.gates[0].reason == "trend: known"


# -- the whole decision -----------------------------------------------------------------------------

GOOD = comp(
    f1_macro=m(0.70, 0.76, ci_low=0.02, ci_high=0.1, p_value=0.01),
    recall_negative=m(0.7, 0.72),
    recall_positive=m(0.8, 0.79),
)
DEMO_RULES = (
    {"metric": "f1_macro", "min_gain": 0.01},
    {"metric": "recall_*", "max_regression": 0.05},
    {"metric": "f1_macro", "threshold": 0.6},
)


def test_all_gates_pass_promotes_and_records_every_gate():
    d = evaluate_gates(GOOD, RESOLVED, cfg(*DEMO_RULES), first_cycle=False)
    assert d.promoted and not d.first_cycle
    assert [g.name for g in d.gates] == [
        "drift_resolved.training_data",
        "drift_resolved.output_labels",
        "drift_resolved.validation_gap",
        "min_gain.f1_macro",
        "max_regression.recall_negative",
        "max_regression.recall_positive",
        "threshold.f1_macro",
    ]
    assert d.summary.startswith("Promoted")


def test_every_failure_is_collected_not_short_circuited():
    bad = comp(f1_macro=m(0.70, 0.58, ci_low=-0.2, ci_high=-0.05, p_value=0.001), recall_negative=m(0.7, 0.5))
    unresolved = DriftResolution(
        checks=(ResolutionCheck("training_data", False, "stars still drifts"), *RESOLVED.checks[1:])
    )
    d = evaluate_gates(bad, unresolved, cfg(*DEMO_RULES), first_cycle=False)
    assert not d.promoted
    assert {g.name for g in d.failed} == {
        "drift_resolved.training_data",
        "min_gain.f1_macro",
        "max_regression.recall_negative",
        "threshold.f1_macro",
    }
    assert "stars still drifts" in d.summary and d.summary.startswith("Rejected: 4 of")


def test_missing_resolution_fails_drift_gates():
    d = evaluate_gates(GOOD, None, cfg(PRIMARY), first_cycle=False)
    assert not d.promoted
    assert [g.name for g in d.failed] == [
        "drift_resolved.training_data",
        "drift_resolved.output_labels",
        "drift_resolved.validation_gap",
    ]


@pytest.mark.parametrize(("value", "expected"), [(0.65, True), (0.55, False)], ids=["above-floor", "below-floor"])
def test_first_cycle_applies_only_thresholds(value, expected):
    c = comp(f1_macro=m(None, value), recall_negative=m(None, 0.1))
    d = evaluate_gates(c, None, cfg(*DEMO_RULES), first_cycle=True)
    assert d.first_cycle and d.promoted is expected
    assert [g.name for g in d.gates] == ["first_cycle", "threshold.f1_macro"]
    assert "only absolute thresholds" in d.gates[0].detail and "first cycle" in d.summary


def test_a_worse_regressor_fails_and_a_better_one_passes_by_the_recorded_direction():
    worse = comp(rmse=m(1.0, 1.2, 0.1, 0.3, gib=False))
    better = comp(rmse=m(1.2, 1.0, -0.3, -0.1, gib=False))
    config = cfg({"metric": "rmse", "min_gain": 0.0})
    assert not evaluate_gates(worse, RESOLVED, config, first_cycle=False).promoted
    assert evaluate_gates(better, RESOLVED, config, first_cycle=False).promoted


def test_a_drift_resolution_check_is_the_gate_it_becomes():
    assert ResolutionCheck is Gate
    check = ResolutionCheck("training_data", False, "x", mode="advisory", reason="r", evidence={"a": 1})
    gate = drift_gates(DriftResolution((check, *RESOLVED.checks[1:])))[0]
    assert gate.to_dict() == {**check.to_dict(), "name": "drift_resolved.training_data"}
    assert list(gate.to_dict()) == ["name", "passed", "detail", "mode", "reason", "evidence"]


def test_decision_round_trip_and_write(tmp_path):
    d = evaluate_gates(GOOD, RESOLVED, cfg(*DEMO_RULES), first_cycle=False)
    assert Decision.from_dict(d.to_dict()) == d
    out = write_decision(tmp_path / "reports" / "decision.json", d, PromotionOutcome("3", "2", True), "sent")
    on_disk = json.loads((tmp_path / "reports" / "decision.json").read_text())
    assert on_disk == out
    assert on_disk["format"] == DecisionRecord.FORMAT and next(iter(on_disk)) == "format"
    assert DecisionRecord.from_dict(on_disk).to_dict() == on_disk
    assert on_disk["version"] == "3" and on_disk["previous_version"] == "2" and on_disk["promoted"] is True
    gate = next(g for g in on_disk["gates"] if g["name"] == "min_gain.f1_macro")
    assert gate["mode"] == "enforce" and gate["evidence"]["champion"] == 0.70
    assert gate["evidence"]["ci_low"] == 0.02 and gate["evidence"]["value"] == 0.01
    assert not list((tmp_path / "reports").glob("*.tmp"))


# -- config -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_shipped_task_defaults_compose_and_validate(task):
    composed = compose([f"promote={task}", f"compare={task}"], conf_dir=ROOT / "conf")
    config = PromoteConfig.from_dict(composed["promote"])
    assert config.primary_metric == ("f1_macro" if task == "classification" else "rmse")
    assert "model_name" not in composed["promote"]  # the registry group's (conf/registry/)


def test_the_demo_config_carries_the_demo_specifics():
    composed = compose([], conf_dir=ROOT / "conf")
    config = PromoteConfig.from_dict(composed["promote"])
    assert composed["registry"]["model_name"] == "driftloop-sentiment"  # conf/registry/feedback.yaml
    assert [r.label for r in config.rules] == ["min_gain.f1_macro", "max_regression.recall_*", "threshold.f1_macro"]
    assert composed["compare"]["slices"] == ["product_area", "channel"]
    assert compose(["registry=default"], conf_dir=ROOT / "conf")["registry"]["model_name"] == "driftloop-model"


def test_config_accepts_omegaconf():
    from omegaconf import OmegaConf

    mapping = yaml.safe_load((ROOT / "conf" / "promote" / "classification.yaml").read_text())
    assert PromoteConfig.from_dict(OmegaConf.create(mapping)).resolution.validation_gap.alpha == 0.05


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"primary": {"min_delta": 0.1}}, r"promote\.primary is now promote\.rules"),
        ({"guards": []}, r"promote\.guards is now promote\.rules: \[\{metric: 'recall_\*', max_regression"),
        ({"floors": []}, r"promote\.floors is now promote\.rules: \[\{metric: <name>, threshold"),
        ({"support": {}}, r"promote\.support is now promote\.rules\[\]\.significant"),
        (
            {"rules": [PRIMARY], "resolution": {"label_max_tvd": 0.1}},
            r"promote\.resolution\.label_max_tvd is now promote\.resolution\.output_labels\.max_tvd",
        ),
        ({"rules": [PRIMARY], "min_delta": 0.1}, r"unknown key\(s\) \['promote\.min_delta'\]"),
        ({}, r"promote\.rules must be a list"),
        ({"rules": [{"metric": "f1_macro", "threshold": 0.5}]}, r"needs at least one enforced min_gain rule"),
        ({"rules": [{"metric": "f1_macro"}]}, r"promote\.rules\[0\] needs 'metric' and exactly one of"),
        ({"rules": [{"metric": "f1", "min_gain": 0.1, "threshold": 0.5}]}, r"exactly one of"),
        (
            {"rules": [{"metric": "f1", "min_gain": -0.1}]},
            r"promote\.rules\[0\]\.min_gain must be a number >= 0\.0\. Got -0\.1",
        ),
        ({"rules": [{"metric": "f1", "min_gain": True}]}, r"promote\.rules\[0\]\.min_gain must be a number"),
        ({"rules": [PRIMARY, {"metric": "f1", "threshold": 0.5, "relative": True}]}, r"rules\[1\]\.relative"),
        ({"rules": [PRIMARY, {"metric": "f1", "threshold": 0.5, "significant": True}]}, r"rules\[1\]\.significant"),
        ({"rules": [{**PRIMARY, "mode": "maybe"}]}, r"promote\.rules\[0\]\.mode must be one of"),
        (
            {"rules": [PRIMARY], "resolution": {"validation_gap": {"alpha": 1.0}}},
            r"promote\.resolution\.validation_gap\.alpha must be a number > 0\.0 and < 1\.0\. Got 1\.0",
        ),
        (
            {"rules": [PRIMARY], "resolution": {"training_data": {"mode": "warn"}}},
            r"promote\.resolution\.training_data\.mode must be one of \['enforce', 'advisory', 'off'\]",
        ),
        ({"rules": [PRIMARY], "on_reject": "delete"}, r"promote\.on_reject"),
        ({"rules": [PRIMARY], "model_name": "m"}, r"promote\.model_name is now registry\.model_name"),
        ({"rules": [PRIMARY], "alias": "x", "previous_alias": "y"}, r"promote\.alias is now registry\.alias"),
    ],
    ids=[
        "old-primary",
        "old-guards",
        "old-floors",
        "old-support",
        "old-resolution-key",
        "unknown-top",
        "no-rules",
        "no-min-gain",
        "no-kind",
        "two-kinds",
        "negative-gain",
        "bool-gain",
        "relative-threshold",
        "significant-threshold",
        "bad-mode",
        "alpha-1",
        "check-mode",
        "on-reject",
        "old-model-name",
        "old-aliases",
    ],
)
def test_config_errors_name_the_key(mapping, match):
    with pytest.raises(ConfigError, match=match):
        PromoteConfig.from_dict(mapping)


@pytest.mark.parametrize(
    ("ci_low", "relative", "expected"),
    [(0.006, False, True), (0.003, False, False), (0.0072, True, True), (0.0068, True, False)],
    ids=["clears-absolute", "above-0-not-the-gain", "clears-relative", "short-of-relative"],
)
def test_significant_interval_must_clear_the_minimum_gain_itself(ci_low, relative, expected):
    # A real but negligible gain (interval above 0, not above the minimum gain) is not promoted.
    value = 0.01 if relative else 0.005  # relative: 1 % of the champion's 0.70 = 0.007
    gate = rule_gates(
        comp(f1_macro=m(0.70, 0.72, ci_low, 0.04)), rule(metric="f1_macro", min_gain=value, relative=relative)
    )[0]
    assert gate.passed is expected, gate.detail
