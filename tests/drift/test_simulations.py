"""Monte-Carlo checks of the decision rule. Fixed seeds; bounds that a broken rule would fail.

* False alarms: 25 columns (20 numeric with 5% NaN, 5 categorical), no drift. With effect
  thresholds at 0 the verdict rests on the corrected p-values alone; "dataset drifted" = any column
  drifted (the dataset rule; the classifier is off here, so the columns get all of alpha). BH keeps
  that family-wise rate at <= alpha under the global null, so the observed rate must stay below
  alpha + 3 binomial standard errors. Without a correction it would be ~0.9.
* Power: a 0.1 SD mean shift in one of 6 columns (5% NaN) at n = 20,000 per side, default config.
* The seed case: new product jargon is flagged and named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference

from .conftest import KINDS, make_demo

ALPHA = 0.05


def _table(n: int, rng: np.random.Generator, n_num: int = 20, n_cat: int = 5, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(size=(n, n_num))
    x[:, 0] += shift
    x[rng.random((n, n_num)) < 0.05] = np.nan
    cols = {f"n{i}": x[:, i] for i in range(n_num)}
    for j in range(n_cat):
        k = 3 + 3 * j
        cols[f"c{j}"] = rng.choice(k, n, p=np.arange(1, k + 1) / (k * (k + 1) / 2)).astype(str)
    return pd.DataFrame(cols)


def _kinds(df: pd.DataFrame) -> dict[str, str]:
    return {c: "numeric" if c.startswith("n") else "categorical" for c in df.columns}


def _binomial_bound(p: float, trials: int) -> float:
    return p + 3 * np.sqrt(p * (1 - p) / trials)


@pytest.mark.parametrize(
    "correction, trials, check_default",
    [
        ("bh", 120, False),
        pytest.param("bonferroni", 150, True, marks=pytest.mark.slow),
        pytest.param("bh", 400, True, marks=pytest.mark.slow),
    ],
    ids=["bh", "bonferroni-slow", "bh-400-slow"],
)
def test_false_alarm_rate_within_alpha(correction, trials, check_default):
    zero = dict.fromkeys(("ks", "wasserstein", "psi", "js"), 0.0)
    pure_p = DriftConfig.from_dict(
        {
            "alpha": ALPHA,
            "correction": correction,
            "multivariate": {"enabled": False},
            "missing": {"threshold": 0.0},
            "numeric": {"thresholds": zero},
            "categorical": {"thresholds": {"chi2": 0.0, "psi": 0.0, "js": 0.0}},
        }
    )
    default = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    rng = np.random.default_rng(20240101)
    alarms = default_alarms = 0
    for _ in range(trials):
        ref, cur = _table(1000, rng), _table(1000, rng)
        s = summarize_reference(ref, _kinds(ref), pure_p)
        alarms += evaluate_drift(s, cur, pure_p).drifted
        if check_default:
            default_alarms += evaluate_drift(s, cur, default).drifted
    assert alarms / trials <= _binomial_bound(ALPHA, trials), alarms
    assert default_alarms / trials <= _binomial_bound(ALPHA, trials), default_alarms


def test_uncorrected_rule_would_fail_the_same_bound():
    """Sanity check that the simulation can fail: without correction, false alarms are frequent."""
    cfg = DriftConfig.from_dict(
        {
            "correction": "none",
            "multivariate": {"enabled": False},
            "missing": {"threshold": 0.0},
            "numeric": {"thresholds": {"ks": 0, "wasserstein": 0, "psi": 0, "js": 0}},
            "categorical": {"thresholds": {"chi2": 0, "psi": 0, "js": 0}},
        }
    )
    rng = np.random.default_rng(7)
    trials = 30
    alarms = sum(
        evaluate_drift(summarize_reference(r, _kinds(r), cfg), c, cfg).drifted
        for r, c in ((_table(1000, rng), _table(1000, rng)) for _ in range(trials))
    )
    assert alarms / trials > _binomial_bound(ALPHA, trials)


def test_power_for_a_tenth_sd_shift_at_20k():
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    rng = np.random.default_rng(99)
    trials, hits = 50, 0
    for _ in range(trials):
        ref, cur = _table(20_000, rng, n_num=5, n_cat=1), _table(20_000, rng, n_num=5, n_cat=1, shift=0.1)
        rep = evaluate_drift(summarize_reference(ref, _kinds(ref), cfg), cur, cfg)
        hits += "n0" in rep.drifted_columns
    assert hits / trials >= 0.9, hits


def test_tiny_shift_at_large_n_is_not_flagged():
    """At n = 200k a 0.01 SD shift is 'significant' but below every effect threshold."""
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"x": rng.normal(size=200_000)})
    cur = pd.DataFrame({"x": rng.normal(0.02, size=200_000)})
    rep = evaluate_drift(summarize_reference(ref, {"x": "numeric"}, cfg), cur, cfg)
    assert rep.columns["x"].tests["ks"].p_adjusted < 1e-3 and not rep.drifted


def test_seed_case_new_jargon_is_flagged_and_listed():
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    flagged, quiet = 0, 0
    for seed in range(8):
        ref = make_demo(3000, seed=100 + seed)
        s = summarize_reference(ref, KINDS, cfg)
        rep = evaluate_drift(s, make_demo(3000, seed=200 + seed, drift=True), cfg)
        col = rep.to_dict()["columns"]["comment"]
        new = {t["term"] for t in col["terms"]["new"]}
        flagged += col["drifted"] and col["tests"]["oov_rate"]["drifted"] and {"copilot", "glitchy", "sync"} <= new
        quiet += not evaluate_drift(s, make_demo(3000, seed=300 + seed), cfg).drifted
    assert flagged == 8 and quiet == 8
