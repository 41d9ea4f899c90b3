"""Pure unit tests of the three drift-resolution checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftloop.errors import DataError
from driftloop.promote.config import PromoteConfig, ResolutionConfig
from driftloop.promote.resolution import (
    assess_drift_resolution,
    check_holdout_vs_validation,
    check_output_matches_labels,
    check_training_data,
)

CLASSES = ("negative", "neutral", "positive")


def drift(**flags) -> dict:
    return {"columns": {c: {"drifted": d, "tests": {}} for c, d in flags.items()}}


@pytest.mark.parametrize(
    ("result", "drifted", "expected", "text"),
    [
        (None, [], True, "no drift to resolve"),
        (drift(stars=False), [], True, "no drift to resolve"),
        (drift(stars=False, channel=True), ["stars"], True, "matches"),  # only drifted columns are read
        (drift(stars=False, channel=True), ["stars", "channel"], False, "still differs"),
        (drift(stars=False), ["stars", "channel"], False, "no training-vs-current result"),
        (None, ["stars"], False, "no training-vs-current drift result"),
    ],
    ids=["no-drift", "no-drift-with-result", "resolved", "still-drifted", "column-missing", "result-missing"],
)
def test_training_data_check(result, drifted, expected, text):
    check = check_training_data(result, drifted)
    assert check.passed is expected and text in check.detail


def labels(counts: dict) -> list:
    return [c for c, n in counts.items() for _ in range(n)]


@pytest.mark.parametrize(
    ("observed", "predicted", "expected"),
    [
        ({"negative": 100, "neutral": 100, "positive": 100}, {"negative": 100, "neutral": 100, "positive": 100}, True),
        # small effect (TVD 0.05 <= 0.10) even though large n would make any test reject
        ({"negative": 3000, "neutral": 3000, "positive": 3000},
         {"negative": 3450, "neutral": 2550, "positive": 3000}, True),
        # a challenger that never predicts "neutral": large effect, significant
        ({"negative": 100, "neutral": 100, "positive": 100}, {"negative": 150, "neutral": 0, "positive": 150}, False),
        # large effect but too few rows to be significant: effect size AND p-value must agree
        ({"negative": 3, "neutral": 3}, {"negative": 5, "neutral": 1}, True),
        # a predicted class never observed (and absent from `classes`) joins the union
        ({"negative": 100, "positive": 100}, {"negative": 50, "positive": 50, "mixed": 100}, False),
    ],
    ids=["identical", "small-effect-large-n", "class-never-predicted", "small-n", "unseen-class"],
)
def test_output_matches_labels(observed, predicted, expected):
    rng = np.random.default_rng(0)
    y, p = np.array(labels(observed)), np.array(labels(predicted))
    rng.shuffle(p)
    check = check_output_matches_labels(y, p, CLASSES, ResolutionConfig())
    assert check.passed is expected, check.detail
    assert set(check.evidence["classes"]) >= set(CLASSES)


def test_output_single_class_is_identical():
    check = check_output_matches_labels(["a"] * 5, ["a"] * 5, [], ResolutionConfig())
    assert check.passed and check.evidence["p_value"] == 1.0 and check.evidence["tvd"] == 0.0


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [([], [], "empty"), (["a", "b"], ["a"], "same holdout rows"), (["a", None], ["a", "b"], "missing")],
    ids=["empty", "length", "missing"],
)
def test_output_check_bad_input_raises(y, p, match):
    with pytest.raises(DataError, match=match):
        check_output_matches_labels(y, p, CLASSES, ResolutionConfig())


@pytest.mark.parametrize(
    ("validation", "holdout", "mode", "gib", "expected"),
    [
        (0.80, 0.75, "abs", True, True),     # exactly the tolerance, inclusive
        (0.80, 0.7499, "abs", True, False),
        (0.70, 0.76, "abs", True, False),    # abs mode: a big gain is a gap too
        (0.70, 0.76, "drop", True, True),    # drop mode: only a fall counts
        (0.80, 0.74, "drop", True, False),
        (0.20, 0.26, "drop", False, False),  # lower is better: a rise is the fall
        (0.20, 0.14, "drop", False, True),
        (None, 0.8, "abs", True, False),     # missing fails
        (0.8, math.nan, "abs", True, False),
    ],
    ids=["abs-boundary", "abs-beyond", "abs-gain", "drop-gain", "drop-beyond", "lower-better-rise",
         "lower-better-fall", "missing", "nan"],
)
def test_holdout_vs_validation(validation, holdout, mode, gib, expected):
    cfg = ResolutionConfig(validation_tolerance=0.05, validation_mode=mode)
    assert check_holdout_vs_validation(validation, holdout, cfg, gib).passed is expected


def test_assess_combines_three_checks_in_order():
    y = labels({"negative": 50, "neutral": 50, "positive": 50})
    r = assess_drift_resolution(drift(stars=False), ["stars"], y, y, CLASSES, 0.8, 0.78, PromoteConfig())
    assert r.passed and [c.name for c in r.checks] == [
        "training_data", "output_matches_labels", "holdout_vs_validation"]
    r2 = assess_drift_resolution(drift(stars=True), ["stars"], y, y, CLASSES, 0.8, 0.6, PromoteConfig())
    assert not r2.passed and [c.passed for c in r2.checks] == [False, True, False]
    assert r2.to_dict()["checks"][0]["evidence"]["still_drifted"] == ["stars"]
