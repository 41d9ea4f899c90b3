"""The one line each stage prints (driftloop.stages.outcome), from the stage's own report."""

from __future__ import annotations

import pytest

from driftloop.stages.outcome import outcome_line

COMPARED = {
    "format": 1,
    "challenger_trained": True,
    "champion_version": "3",
    "metrics": {
        "f1_macro": {"champion": 0.70, "challenger": 0.75, "delta": 0.05, "ci_low": 0.01, "ci_high": 0.09},
        "accuracy": {"champion": 0.8, "challenger": 0.79, "delta": -0.01},
    },
}
DECIDED = {
    "format": 1,
    "promoted": False,
    "summary": "Rejected: 1 of 3 enforced gates failed.",
    "gates": [
        {"name": "min_gain.f1_macro", "passed": False, "detail": "gain 0.001 < 0.005", "mode": "enforce"},
        {"name": "resolution.columns", "passed": False, "detail": "advisory", "mode": "warn"},
        {"name": "threshold.f1_macro", "passed": True, "detail": "ok", "mode": "enforce"},
    ],
}


@pytest.mark.parametrize(
    ("stage", "result", "expected"),
    [
        (
            "snapshot",
            {
                "format": 1,
                "champion": None,
                "reference": {"rows": 10, "source": "training data of m v1"},
                "current": {"rows": 4},
            },
            "10 reference rows (training data of m v1), 4 current rows",
        ),
        ("drift", {"format": 1, "dataset": {"drifted": True}, "drifted_columns": ["a", "b"]}, "DRIFT: a, b"),
        ("drift", {"format": 1, "dataset": {"drifted": False, "verdict": "no drift"}}, "no drift"),
        (
            "retrain",
            {"format": 1, "trained": True, "model": "hgb", "rows": {"train": 120}, "validation_metrics": {"f1": 0.5}},
            "trained hgb on 120 rows (validation: f1 0.500)",
        ),
        (
            "compare",
            COMPARED,
            "challenger against champion v3: f1_macro 0.750 (+0.050 [+0.010, +0.090]); accuracy 0.790 (-0.010)",
        ),
        ("promote", DECIDED, "Rejected: 1 of 3 enforced gates failed. Failed gates: min_gain.f1_macro."),
    ],
    ids=["snapshot", "drift", "no-drift", "retrain", "compare", "promote"],
)
def test_outcome_line(stage, result, expected):
    assert outcome_line(stage, result).startswith(expected)
