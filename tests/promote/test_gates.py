"""Pure unit tests of the promotion gates and their config (no MLflow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from driftloop.errors import ConfigError
from driftloop.promote.config import FloorRule, GuardRule, PrimaryConfig, PromoteConfig, SupportConfig
from driftloop.promote.gates import (
    Decision,
    evaluate_gates,
    floor_gates,
    guard_gates,
    primary_gate,
    support_gate,
)
from driftloop.promote.promotion import PromotionOutcome, write_decision
from driftloop.promote.resolution import DriftResolution, ResolutionCheck

CONF = Path(__file__).resolve().parents[2] / "conf" / "promote" / "default.yaml"


def comp(**metrics) -> dict:
    return {"primary_metric": "f1_macro", "improved": True, "reasons": [], "n_holdout": 200, "metrics": metrics}


def m(champion, challenger, ci_low=None, ci_high=None, p_value=None) -> dict:
    delta = None if champion is None or challenger is None else challenger - champion
    return {"champion": champion, "challenger": challenger, "delta": delta,
            "ci_low": ci_low, "ci_high": ci_high, "p_value": p_value}


RESOLVED = DriftResolution(checks=(
    ResolutionCheck("training_data", True, "ok"),
    ResolutionCheck("output_matches_labels", True, "ok"),
    ResolutionCheck("holdout_vs_validation", True, "ok"),
))


# -- primary ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("champion", "challenger", "min_delta", "gib", "expected"),
    [
        (0.70, 0.75, 0.05, True, True),     # inclusive boundary (float 0.75-0.70 != 0.05 exactly)
        (0.20, 0.30, 0.10, True, True),     # 0.3-0.2 = 0.09999999999999998: rounding must not fail it
        (0.70, 0.7499, 0.05, True, False),  # just below the margin
        (0.70, 0.70, 0.0, True, True),      # margin 0 is applied (MLflow would skip), equal passes
        (0.70, 0.69, 0.0, True, False),     # worse fails with margin 0 (MLflow would pass it)
        (0.30, 0.25, 0.05, False, True),    # lower is better: a fall of exactly the margin passes
        (0.30, 0.35, 0.0, False, False),    # lower is better: a rise fails
        (None, 0.80, 0.0, True, False),     # missing champion fails
        (0.70, None, 0.0, True, False),     # missing challenger fails
        (0.70, math.nan, 0.0, True, False), # NaN counts as missing
    ],
    ids=["boundary", "float-rounding", "below", "zero-margin-equal", "zero-margin-worse",
         "lower-better-boundary", "lower-better-worse", "missing-champion", "missing-challenger", "nan"],
)
def test_primary_gate(champion, challenger, min_delta, gib, expected):
    cfg = PromoteConfig(primary=PrimaryConfig(min_delta=min_delta, greater_is_better=gib))
    gate = primary_gate(comp(f1_macro=m(champion, challenger)), cfg)
    assert gate.name == "primary_improves"
    assert gate.passed is expected, gate.detail


def test_primary_gate_missing_metric_and_configured_metric():
    cfg = PromoteConfig()
    assert not primary_gate(comp(accuracy=m(0.5, 0.9)), cfg).passed  # f1_macro absent
    cfg_acc = PromoteConfig(primary=PrimaryConfig(metric="accuracy", min_delta=0.1))
    assert primary_gate(comp(accuracy=m(0.5, 0.9), f1_macro=m(0.9, 0.5)), cfg_acc).passed
    assert not primary_gate({"metrics": {"f1_macro": m(0.5, 0.9)}}, cfg).passed  # no primary_metric anywhere


# -- support ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("method", "ci_low", "ci_high", "p_value", "gib", "expected"),
    [
        ("ci", 0.01, 0.05, None, True, True),
        ("ci", 0.0, 0.05, None, True, False),        # an interval touching 0 does not support
        ("ci", None, None, 0.001, True, False),      # missing interval fails
        ("p_value", None, None, 0.049, True, True),
        ("p_value", None, None, 0.05, True, False),  # p == alpha is not significant
        ("p_value", None, None, None, True, False),  # missing p fails
        ("ci_or_p_value", -0.01, 0.05, 0.01, True, True),
        ("ci_or_p_value", -0.01, 0.05, 0.20, True, False),
        ("ci_or_p_value", None, None, None, True, False),
        ("ci_and_p_value", 0.01, 0.05, 0.20, True, False),
        ("ci_and_p_value", 0.01, 0.05, 0.01, True, True),
        ("p_value", -0.2, -0.05, 0.001, True, False),  # a significant regression is no support
        ("ci", -0.05, -0.01, None, False, True),     # lower is better: interval wholly below 0
        ("ci", 0.01, 0.05, None, False, False),
        ("none", None, None, None, True, True),
    ],
    ids=["ci", "ci-touches-0", "ci-missing", "p", "p-eq-alpha", "p-missing", "or-p", "or-neither",
         "or-missing", "and-one", "and-both", "p-wrong-direction", "lower-better", "lower-better-wrong-side", "none"],
)
def test_support_gate(method, ci_low, ci_high, p_value, gib, expected):
    cfg = PromoteConfig(support=SupportConfig(method=method, alpha=0.05),
                        primary=PrimaryConfig(greater_is_better=gib))
    # The point change follows the interval's side (an improvement unless the interval says otherwise).
    worse = (ci_high is not None and ci_high < 0) if gib else (ci_low is not None and ci_low > 0)
    champion, challenger = (0.70, 0.75) if gib != worse else (0.75, 0.70)
    gate = support_gate(comp(f1_macro=m(champion, challenger, ci_low, ci_high, p_value)), cfg)
    assert gate.passed is expected, gate.detail


# -- guards -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("champion", "challenger", "max_drop", "gib", "expected"),
    [
        (0.80, 0.75, 0.05, True, True),    # a drop of exactly the tolerance passes
        (0.80, 0.7499, 0.05, True, False),
        (0.80, 0.90, 0.0, True, True),     # improvement
        (0.10, 0.15, 0.05, False, True),   # lower is better: a rise of exactly the tolerance
        (0.10, 0.16, 0.05, False, False),
        (None, 0.90, 0.05, True, False),   # missing champion value fails
        (0.80, None, 0.05, True, False),
    ],
    ids=["boundary", "beyond", "improved", "lower-better-boundary", "lower-better-beyond",
         "missing-champion", "missing-challenger"],
)
def test_guard_gate_single(champion, challenger, max_drop, gib, expected):
    gates = guard_gates(comp(**{"recall_negative": m(champion, challenger)}),
                        GuardRule("recall_negative", max_drop, gib))
    assert [g.passed for g in gates] == [expected], gates


def test_guard_glob_covers_every_class_and_names_the_failing_one():
    c = comp(**{"recall_negative": m(0.8, 0.6), "recall_neutral": m(0.5, 0.55),
                "recall_positive": m(0.9, 0.9), "f1_macro": m(0.6, 0.7)})
    gates = guard_gates(c, GuardRule("recall_*", 0.05))
    assert {g.name: g.passed for g in gates} == {
        "guard.recall_negative": False, "guard.recall_neutral": True, "guard.recall_positive": True}


def test_guard_pattern_matching_nothing_fails():
    gates = guard_gates(comp(f1_macro=m(0.6, 0.7)), GuardRule("recall_*", 0.05))
    assert len(gates) == 1 and not gates[0].passed and "matches" in gates[0].detail


# -- floors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "threshold", "gib", "expected"),
    [
        (0.6, 0.6, True, True),       # inclusive
        (0.5999, 0.6, True, False),
        (0.2, 0.2, False, True),      # lower is better, inclusive
        (0.21, 0.2, False, False),
        (None, 0.6, True, False),     # missing fails
        (math.nan, 0.6, True, False),
    ],
    ids=["boundary", "below", "lower-better-boundary", "lower-better-above", "missing", "nan"],
)
def test_floor_gate(value, threshold, gib, expected):
    gates = floor_gates(comp(f1_macro=m(None, value)), FloorRule("f1_macro", threshold, gib))
    assert [g.passed for g in gates] == [expected], gates


def test_floor_on_absent_metric_fails():
    gates = floor_gates(comp(accuracy=m(None, 0.9)), FloorRule("f1_macro", 0.6))
    assert [g.passed for g in gates] == [False]


# -- the whole decision -----------------------------------------------------------------------------

GOOD = comp(f1_macro=m(0.70, 0.76, ci_low=0.02, ci_high=0.1, p_value=0.01),
            **{"recall_negative": m(0.7, 0.72), "recall_positive": m(0.8, 0.79)})


def test_all_gates_pass_promotes_and_records_every_gate():
    d = evaluate_gates(GOOD, RESOLVED, PromoteConfig(), first_cycle=False)
    assert d.promoted and not d.first_cycle
    names = [g.name for g in d.gates]
    assert names == [
        "drift_resolved.training_data", "drift_resolved.output_matches_labels",
        "drift_resolved.holdout_vs_validation", "primary_improves", "improvement_supported",
        "compare_improved", "guard.recall_negative", "guard.recall_positive", "floor.f1_macro",
    ]
    assert d.summary.startswith("Promoted")


def test_every_failure_is_collected_not_short_circuited():
    bad = comp(f1_macro=m(0.70, 0.58, ci_low=-0.2, ci_high=-0.05, p_value=0.001),
               **{"recall_negative": m(0.7, 0.5)})
    unresolved = DriftResolution(checks=(ResolutionCheck("training_data", False, "stars still drifts"),
                                         *RESOLVED.checks[1:]))
    d = evaluate_gates(bad, unresolved, PromoteConfig(), first_cycle=False)
    assert not d.promoted
    assert {g.name for g in d.failed} == {
        "drift_resolved.training_data", "primary_improves", "improvement_supported",
        "guard.recall_negative", "floor.f1_macro"}
    assert "stars still drifts" in d.summary and d.summary.startswith("Rejected: 5 of")


def test_missing_resolution_fails_drift_gates():
    d = evaluate_gates(GOOD, None, PromoteConfig(), first_cycle=False)
    assert not d.promoted
    assert [g.name for g in d.failed] == [
        "drift_resolved.training_data", "drift_resolved.output_matches_labels",
        "drift_resolved.holdout_vs_validation"]


@pytest.mark.parametrize(("value", "expected"), [(0.65, True), (0.55, False)], ids=["above-floor", "below-floor"])
def test_first_cycle_applies_only_floors(value, expected):
    # No champion values, no interval, no resolution: only the floor decides.
    c = comp(f1_macro=m(None, value), **{"recall_negative": m(None, 0.1)})
    d = evaluate_gates(c, None, PromoteConfig(), first_cycle=True)
    assert d.first_cycle and d.promoted is expected
    assert [g.name for g in d.gates] == ["first_cycle", "floor.f1_macro"]
    assert "skipped" in d.gates[0].detail and "only absolute floors" in d.gates[0].detail
    assert "first cycle" in d.summary


def test_decision_round_trip_and_write(tmp_path):
    d = evaluate_gates(GOOD, RESOLVED, PromoteConfig(), first_cycle=False)
    assert Decision.from_dict(d.to_dict()) == d
    out = write_decision(tmp_path / "reports" / "decision.json", d, PromotionOutcome("3", "2", True), "sent")
    on_disk = json.loads((tmp_path / "reports" / "decision.json").read_text())
    assert on_disk == out
    assert list(on_disk) == ["promoted", "first_cycle", "model_name", "version", "previous_version", "gates",
                             "summary"]
    assert on_disk["version"] == "3" and on_disk["previous_version"] == "2" and on_disk["promoted"] is True
    assert on_disk["gates"][0] == {"name": "drift_resolved.training_data", "passed": True, "detail": "ok"}
    assert not list((tmp_path / "reports").glob("*.tmp"))


# -- config -----------------------------------------------------------------------------------------

def test_default_yaml_matches_dataclass_defaults():
    cfg = PromoteConfig.from_dict(yaml.safe_load(CONF.read_text()))
    assert cfg.guards == (GuardRule("recall_*", 0.05, True),)
    assert cfg.floors == (FloorRule("f1_macro", 0.6, True),)
    assert cfg.primary.min_delta == 0.01 and cfg.support.method == "ci_or_p_value"


def test_config_accepts_omegaconf():
    from omegaconf import OmegaConf

    cfg = PromoteConfig.from_dict(OmegaConf.create(yaml.safe_load(CONF.read_text())))
    assert cfg.resolution.validation_mode == "drop"


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"min_delta": 0.1}, r"promote\.min_delta"),
        ({"primary": {"margin": 0.1}}, r"promote\.primary\.margin"),
        ({"primary": {"min_delta": -0.1}}, r"promote\.primary\.min_delta must be in"),
        ({"primary": {"min_delta": "x"}}, r"promote\.primary\.min_delta must be a number"),
        ({"support": {"method": "bayes"}}, r"promote\.support\.method must be one of"),
        ({"support": {"alpha": 1.0}}, r"promote\.support\.alpha"),
        ({"guards": [{"pattern": "recall_*"}]}, r"promote\.guards\[0\] needs"),
        ({"guards": [{"pattern": "recall_*", "max_drop": 0.1, "tol": 1}]}, r"promote\.guards\[0\]\.tol"),
        ({"floors": {"f1_macro": 0.6}}, r"promote\.floors must be a list"),
        ({"floors": [{"pattern": "f1", "threshold": True}]}, r"promote\.floors\[0\]\.threshold"),
        ({"on_reject": "delete"}, r"promote\.on_reject"),
        ({"resolution": {"validation_mode": "rel"}}, r"promote\.resolution\.validation_mode"),
        ({"alias": "x", "previous_alias": "x"}, r"must differ"),
    ],
    ids=["unknown-top", "unknown-nested", "negative", "not-number", "bad-method", "alpha-1", "guard-missing",
         "guard-unknown", "floors-mapping", "bool-threshold", "on-reject", "mode", "same-alias"],
)
def test_config_errors_name_the_key(mapping, match):
    with pytest.raises(ConfigError, match=match):
        PromoteConfig.from_dict(mapping)


@pytest.mark.parametrize("improved, passed", [(True, True), (False, False), (None, False)],
                         ids=["improved", "not-improved", "missing-verdict"])
def test_compare_verdict_is_a_gate(improved, passed):
    comparison = {**comp(f1_macro=m(0.70, 0.80, ci_low=0.05, ci_high=0.15)), "improved": improved,
                  "reasons": ["because"]}
    decision = evaluate_gates(comparison, RESOLVED, PromoteConfig(guards=(), floors=()), first_cycle=False)
    gate = next(g for g in decision.gates if g.name == "compare_improved")
    assert gate.passed is passed and "because" in gate.detail
    assert decision.promoted is passed


def test_primary_direction_comes_from_compare_json_for_a_loss():
    # rmse is lower-is-better: a challenger with higher error must fail, one with lower error pass.
    worse = {"primary_metric": "rmse", "improved": True, "reasons": [], "metrics": {"rmse": {
        "champion": 1.0, "challenger": 1.2, "ci_low": 0.1, "ci_high": 0.3, "greater_is_better": False}}}
    better = {"primary_metric": "rmse", "improved": True, "reasons": [], "metrics": {"rmse": {
        "champion": 1.2, "challenger": 1.0, "ci_low": -0.3, "ci_high": -0.1, "greater_is_better": False}}}
    cfg = PromoteConfig(guards=(), floors=())
    assert not evaluate_gates(worse, RESOLVED, cfg, first_cycle=False).promoted
    assert evaluate_gates(better, RESOLVED, cfg, first_cycle=False).promoted
