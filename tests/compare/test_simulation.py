"""Soundness by simulation: the improvement rule tells luck from improvement.

Prediction vectors are simulated directly (no model training): each row's
correctness for champion and challenger is drawn jointly with a chosen accuracy
for each and a chosen correlation between their errors (two models trained on
similar data err on similar rows). A wrong prediction is a uniformly chosen other
class. The rule under test is the production rule of compare_predictions with
primary metric accuracy: gain >= margin AND the 95% paired-bootstrap CI of the
delta excludes 0 (and, in one variant, McNemar's exact p < 0.05).

Margin for this simulation: 0.005 (half a point). At a 5,000-row holdout with
error correlation 0.5, the CI condition alone requires an observed gain of about
1.1 points, so the margin is not what controls false positives; it only guards
against promoting negligible real gains. (The demo config uses 0.01, which passes
too; a margin near the true gain, e.g. 0.02, would cut power to ~50%.)
"""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.compare.comparison import compare_predictions
from driftloop.compare.config import CompareConfig
from driftloop.compare.predict import Predictions

N = 5_000
CLASSES = np.array(["negative", "neutral", "positive"])
BASE = 0.80


def _joint(p0: float, p1: float, rho: float) -> np.ndarray:
    """Cell probabilities (both right, only champion right, only challenger right, both wrong)."""
    both = p0 * p1 + rho * np.sqrt(p0 * (1 - p0) * p1 * (1 - p1))
    return np.array([both, p0 - both, p1 - both, 1 - p0 - p1 + both])


def _trial(rng: np.random.Generator, delta: float, rho: float) -> tuple[np.ndarray, Predictions, Predictions]:
    cells = rng.choice(4, size=N, p=_joint(BASE, BASE + delta, rho))
    champ_ok = (cells == 0) | (cells == 1)
    chall_ok = (cells == 0) | (cells == 2)
    y = rng.integers(0, 3, N)

    def predictions(ok: np.ndarray) -> Predictions:
        wrong = (y + rng.integers(1, 3, N)) % 3  # any other class
        return Predictions(CLASSES[np.where(ok, y, wrong)], None, tuple(CLASSES))

    return CLASSES[y], predictions(chall_ok), predictions(champ_ok)


def _rate(delta: float, trials: int, seed: int, rho: float = 0.5, **cfg) -> tuple[float, np.ndarray]:
    config = CompareConfig.from_dict({"primary_metric": "accuracy", "margin": 0.005, "n_bootstrap": 300,
                                      "seed": seed, **cfg})
    rng = np.random.default_rng(seed)
    decisions, deltas = [], []
    for _ in range(trials):  # a loop over simulated holdouts, not rows
        y, chall, champ = _trial(rng, delta, rho)
        r = compare_predictions(y, chall, champ, config)
        decisions.append(r.improved)
        deltas.append(r.metrics_table["accuracy"].delta)
    return float(np.mean(decisions)), np.array(deltas)


@pytest.mark.parametrize("delta", [0.0, -0.01], ids=["equal", "worse"])
def test_a_not_better_challenger_is_rarely_promoted(delta):
    rate, deltas = _rate(delta, trials=120, seed=11)
    assert rate <= 0.05
    if delta == 0.0:
        # The harness can fail: the naive rule "point delta > 0" promotes about half of
        # these equally good challengers, far above the 5% bound.
        assert np.mean(deltas > 0) > 0.3


@pytest.mark.parametrize("mcnemar", [False, True], ids=["bootstrap", "bootstrap+mcnemar"])
def test_a_challenger_two_points_better_is_usually_promoted(mcnemar):
    rate, deltas = _rate(0.02, trials=80, seed=12, require_mcnemar=mcnemar)
    assert rate >= 0.80
    assert abs(deltas.mean() - 0.02) < 0.003  # the simulation really is 2 points better


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.3, 0.5, 0.7])
def test_error_rates_across_correlations(rho):
    worse, _ = _rate(0.0, trials=600, seed=21, rho=rho)
    better, _ = _rate(0.02, trials=400, seed=22, rho=rho)
    assert worse <= 0.05
    if rho >= 0.5:  # with weakly correlated errors 5,000 rows cannot see 2 points reliably
        assert better >= 0.80
