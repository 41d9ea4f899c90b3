"""Unit tests of the three drift-resolution checks, with hand-computed and independent values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from driftloop.drift import DriftConfig
from driftloop.errors import DataError
from driftloop.promote.config import OutputLabelsCheck, PromoteConfig, ValidationGapCheck
from driftloop.promote.resolution import (
    ResolutionInputs,
    assess_drift_resolution,
    check_output_labels_classification,
    check_output_labels_regression,
    check_training_data,
    check_validation_gap,
    column_effect,
)

PRIMARY = {"metric": "f1_macro", "min_gain": 0.0}


def col(drifted: bool, effect: float) -> dict:
    """A drift.json column whose deciding test has statistic/threshold = effect."""
    return {"drifted": drifted, "decide_on": ["psi"], "tests": {"psi": {"statistic": effect * 0.1, "threshold": 0.1}}}


def report(**columns) -> dict:
    return {"columns": columns}


# -- check 1 -----------------------------------------------------------------------------------------


def test_column_effect_is_the_largest_deciding_ratio():
    column = {
        "decide_on": ["psi", "js"],
        "tests": {
            "psi": {"statistic": 0.3, "threshold": 0.1},
            "js": {"statistic": 0.05, "threshold": 0.1},
            "ks": {"statistic": 0.9, "threshold": 0.1},
        },
    }
    assert column_effect(column) == pytest.approx(3.0)  # ks is not deciding
    assert column_effect({"decide_on": ["psi"], "tests": {"psi": {"statistic": None, "threshold": 0.1}}}) is None


@pytest.mark.parametrize(
    ("champion", "challenger", "drifted", "expected", "text"),
    [
        (None, None, [], True, "no drift to resolve"),
        # a trend: the challenger still drifts from the newer holdout, but less than the champion
        (report(x=col(True, 4.0)), report(x=col(True, 1.5)), ["x"], True, "closer"),
        # a stale challenger: as far from the holdout as the champion
        (report(x=col(True, 4.0)), report(x=col(True, 4.0)), ["x"], False, "not closer"),
        (report(x=col(True, 4.0)), report(x=col(True, 5.0)), ["x"], False, "x 5.00 vs 4.00"),
        # closer by noise only (3 % smaller) is not closer; 10 % smaller is (inclusive)
        (report(x=col(True, 4.0)), report(x=col(True, 3.88)), ["x"], False, "not closer"),
        (report(x=col(True, 4.0)), report(x=col(True, 3.6)), ["x"], True, "closer"),
        # no drift at all against the holdout resolves a column whatever the effect
        (report(x=col(True, 0.5)), report(x=col(False, 0.9)), ["x"], True, "closer"),
        # only drifted columns are read; a missing one fails
        (report(x=col(True, 4.0)), report(x=col(True, 1.0), y=col(True, 9.0)), ["x"], True, "x 1.00 vs 4.00"),
        (report(x=col(True, 4.0)), report(y=col(False, 0.1)), ["x"], False, "no training-vs-holdout result"),
        # no champion training data to compare with: only "no drift at all" resolves
        (None, report(x=col(True, 1.0)), ["x"], False, "not closer"),
    ],
    ids=[
        "no-drift",
        "trend-closer",
        "stale-equal",
        "further",
        "noise-closer",
        "boundary-closer",
        "no-drift-vs-holdout",
        "only-drifted-read",
        "missing-column",
        "no-champion-data",
    ],
)
def test_training_data_check(champion, challenger, drifted, expected, text):
    check = check_training_data(champion, challenger, drifted)
    assert check.passed is expected and text in check.detail, check.detail


# -- check 2, classification -------------------------------------------------------------------------


def labels(counts: dict) -> np.ndarray:
    return np.array([c for c, n in counts.items() for _ in range(n)])


@pytest.mark.parametrize(
    ("observed", "predicted", "champion", "expected"),
    [
        ({"a": 100, "b": 100, "c": 100}, {"a": 100, "b": 100, "c": 100}, None, True),
        # small effect (TVD 0.05 <= 0.10) even though large n makes the test reject
        ({"a": 3000, "b": 3000, "c": 3000}, {"a": 3450, "b": 2550, "c": 3000}, None, True),
        # never predicts "b": large effect, significant
        ({"a": 100, "b": 100, "c": 100}, {"a": 150, "b": 0, "c": 150}, None, False),
        # ... but the champion predicted "a" for everything: closer than the champion passes
        ({"a": 100, "b": 100, "c": 100}, {"a": 150, "b": 0, "c": 150}, {"a": 300}, True),
        # ... and a champion as far off does not make it pass
        ({"a": 100, "b": 100, "c": 100}, {"a": 150, "b": 0, "c": 150}, {"a": 150, "b": 0, "c": 150}, False),
        # large effect but too few rows to be significant: effect size AND p-value must agree
        ({"a": 3, "b": 3}, {"a": 5, "b": 1}, None, True),
        # a predicted class never observed joins the union
        ({"a": 100, "b": 100}, {"a": 50, "b": 50, "z": 100}, None, False),
    ],
    ids=[
        "identical",
        "small-effect-large-n",
        "class-never-predicted",
        "better-than-champion",
        "as-bad-as-champion",
        "small-n",
        "unseen-class",
    ],
)
def test_output_labels_classification(observed, predicted, champion, expected):
    rng = np.random.default_rng(0)
    y, p = labels(observed), labels(predicted)
    rng.shuffle(p)
    cp = None if champion is None else labels(champion)
    check = check_output_labels_classification(y, p, cp, OutputLabelsCheck())
    assert check.passed is expected, check.detail
    # TVD by hand: half the L1 distance between the two share vectors
    classes = sorted(set(y) | set(p))
    shares = lambda v: np.array([np.mean(v == c) for c in classes])  # noqa: E731
    assert check.evidence["tvd"] == pytest.approx(0.5 * np.abs(shares(y) - shares(p)).sum())


def test_output_labels_p_value_is_scipys_contingency_test():
    y, p = labels({"a": 60, "b": 40}), labels({"a": 80, "b": 20})
    check = check_output_labels_classification(y, p, None, OutputLabelsCheck())
    expected = stats.chi2_contingency(np.array([[80, 20], [60, 40]]))
    assert check.evidence["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)


def test_output_labels_compare_one_and_1_as_one_class():
    check = check_output_labels_classification(
        np.array([1, 0, 1, 0]), np.array(["1", "0", "1", "0"]), None, OutputLabelsCheck()
    )
    assert check.passed and check.evidence["tvd"] == 0.0


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [([], [], "no labels"), (["a", "b"], ["a"], "same holdout rows"), (["a", None], ["a", "b"], "missing")],
    ids=["empty", "length", "missing"],
)
def test_output_labels_bad_input_raises(y, p, match):
    with pytest.raises(DataError, match=match):
        check_output_labels_classification(y, p, None, OutputLabelsCheck())


# -- check 2, regression -----------------------------------------------------------------------------


def test_regression_fit_numbers_match_hand_and_scipy():
    rng = np.random.default_rng(1)
    y = rng.normal(100.0, 20.0, 2000)
    pred = 0.8 * y + 25.0 + rng.normal(0, 5, 2000)
    check = check_output_labels_regression(y, pred, None, OutputLabelsCheck())
    sd = np.std(y, ddof=1)
    assert check.evidence["bias_over_sd"] == pytest.approx(abs(np.mean(y - pred)) / sd, rel=1e-12)
    assert check.evidence["distance_over_sd"] == pytest.approx(stats.wasserstein_distance(pred, y) / sd, rel=1e-9)


@pytest.mark.parametrize(
    ("shift", "champion_shift", "expected"),
    [(0.0, None, True), (0.5, None, False), (0.5, 1.0, True), (0.5, 0.5, True), (0.5, 0.3, False)],
    ids=["unbiased", "biased", "less-biased-than-champion", "as-biased-as-champion", "more-biased"],
)
def test_regression_bias_within_tolerance_or_no_worse_than_the_champion(shift, champion_shift, expected):
    # A level shift in euros: a stale regressor predicts the old level (bias in sd units).
    rng = np.random.default_rng(2)
    y = rng.normal(1000.0, 100.0, 3000)
    fitted = y + rng.normal(0, 30, 3000)  # a good fit, W1 small
    sd = np.std(y, ddof=1)
    pred = fitted - shift * sd
    champ = None if champion_shift is None else fitted - champion_shift * sd
    check = check_output_labels_regression(y, pred, champ, OutputLabelsCheck())
    assert check.passed is expected, check.detail


def test_regression_output_check_is_unit_free():
    rng = np.random.default_rng(3)
    y = rng.normal(10.0, 2.0, 500)
    pred = y + rng.normal(0.3, 1.0, 500)
    a = check_output_labels_regression(y, pred, None, OutputLabelsCheck())
    b = check_output_labels_regression(y * 1000, pred * 1000, None, OutputLabelsCheck())
    assert a.evidence["bias_over_sd"] == pytest.approx(b.evidence["bias_over_sd"])
    assert a.evidence["distance_over_sd"] == pytest.approx(b.evidence["distance_over_sd"])


def test_regression_bad_input_raises():
    with pytest.raises(DataError, match="constant"):
        check_output_labels_regression([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], None, OutputLabelsCheck())
    with pytest.raises(DataError, match="missing or infinite"):
        check_output_labels_regression([1.0, np.nan], [1.0, 2.0], None, OutputLabelsCheck())


# -- check 3 -----------------------------------------------------------------------------------------


def entry(holdout, se=0.01):
    return {"challenger": holdout, "challenger_se": se}


@pytest.mark.parametrize(
    ("validation", "holdout", "se", "gib", "expected"),
    [
        (0.80, 0.70, 0.01, True, False),  # 12.5 % drop, z ~ 7: significant and material
        (0.80, 0.75, 0.01, True, True),  # 6.25 %: significant but within 10 %
        (0.80, 0.70, 0.08, True, True),  # material but not significant (tiny holdout)
        (0.70, 0.80, 0.01, True, True),  # better on the holdout never fails
        (10.0, 12.0, 0.2, False, False),  # lower is better: 20 % rise of an error
        (10.0, 8.0, 0.2, False, True),
        (None, 0.8, 0.01, True, False),  # missing fails
        (0.8, math.nan, 0.01, True, False),
        (0.80, 0.70, None, True, False),  # no standard error: the size alone decides
    ],
    ids=[
        "significant-material",
        "significant-small",
        "material-noisy",
        "better",
        "loss-rise",
        "loss-fall",
        "missing-validation",
        "nan-holdout",
        "no-se",
    ],
)
def test_validation_gap(validation, holdout, se, gib, expected):
    check = check_validation_gap("m", validation, entry(holdout, se), 1000, 1000, gib, ValidationGapCheck())
    assert check.passed is expected, check.detail


@pytest.mark.parametrize(
    ("champion_validation", "champion_holdout", "expected"),
    [
        (32.0, 55.0, True),  # the champion dropped 72 %: a 19 % drop keeps up far better
        (32.0, 38.0, False),  # the champion dropped 18.75 %: as stale as the champion
        (32.0, 37.0, False),  # 15.6 %: 19 % is not >= 10 % smaller
        (None, 55.0, False),
    ],  # unknown champion validation: the plain rule
    ids=["champion-dropped-more", "champion-dropped-as-much", "champion-dropped-a-bit-less", "unknown"],
)
def test_validation_gap_is_judged_against_the_champions_own_drop(champion_validation, champion_holdout, expected):
    # The rising-price stream: rmse 32.74 on validation, 38.87 on the newer holdout (+18.7 %, significant).
    holdout = {"challenger": 38.87, "challenger_se": 1.0, "champion": champion_holdout}
    check = check_validation_gap("rmse", 32.74, holdout, 600, 600, False, ValidationGapCheck(), champion_validation)
    assert check.passed is expected, check.detail
    if champion_validation is not None:
        assert check.evidence["champion_relative_drop"] == pytest.approx((champion_holdout - 32.0) / 32.0)


def test_validation_gap_p_value_by_hand():
    # se = 0.01 * sqrt(1 + 2000/500) = 0.02236; drop 0.05 -> z = 2.236; one-sided p = sf(z)
    check = check_validation_gap("f1", 0.80, entry(0.75, 0.01), 2000, 500, True, ValidationGapCheck())
    se = 0.01 * math.sqrt(1 + 2000 / 500)
    assert check.evidence["se"] == pytest.approx(se)
    assert check.evidence["p_value"] == pytest.approx(stats.norm.sf(0.05 / se), rel=1e-12)


# -- all three, on real frames -----------------------------------------------------------------------


def _inputs(task: str, challenger_shift: float, rng: np.random.Generator) -> ResolutionInputs:
    n = 2000
    holdout = pd.DataFrame({"x": rng.normal(3.0, 1.0, n)})
    champion = pd.DataFrame({"x": rng.normal(0.0, 1.0, n)})
    challenger = pd.DataFrame({"x": rng.normal(challenger_shift, 1.0, n)})
    y = rng.integers(0, 2, n).astype(str) if task == "classification" else rng.normal(0, 1, n)
    return ResolutionInputs(
        task=task,
        drifted_columns=("x",),
        column_kinds={"x": "numeric"},
        champion_training=champion,
        challenger_training=challenger,
        holdout=holdout,
        labels=y,
        challenger_predictions=y,
        champion_predictions=y,
        validation_metric=0.8,
        n_validation=500,
        drift_config=DriftConfig(),
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_assess_runs_the_drift_tests_and_respects_modes(task):
    rng = np.random.default_rng(4)
    comparison = {
        "n_holdout": 2000,
        "metrics": {"f1_macro": {"challenger": 0.79, "challenger_se": 0.01, "greater_is_better": True}},
    }
    cfg = PromoteConfig.from_dict({"rules": [PRIMARY]})
    fresh = assess_drift_resolution(_inputs(task, 2.5, rng), comparison, cfg)
    assert fresh.passed and [c.name for c in fresh.checks] == ["training_data", "output_labels", "validation_gap"]
    cols = fresh.to_dict()["checks"][0]["evidence"]["columns"]["x"]
    assert cols["challenger_effect"] < cols["champion_effect"]

    stale = assess_drift_resolution(_inputs(task, 0.0, rng), comparison, cfg)
    assert not stale.passed and not stale.check("training_data").passed

    advisory = PromoteConfig.from_dict(
        {
            "rules": [PRIMARY],
            "resolution": {
                "training_data": {"mode": "advisory", "reason": "a known trend"},
                "validation_gap": {"mode": "off"},
            },
        }
    )
    r = assess_drift_resolution(_inputs(task, 0.0, rng), comparison, advisory)
    assert r.passed and r.check("training_data").mode == "advisory" and not r.check("training_data").passed
    assert r.check("training_data").reason == "a known trend"
    assert r.check("validation_gap").mode == "off" and "skipped" in r.check("validation_gap").detail
