"""Metrics agree with sklearn; McNemar with scipy's binomtest; DeLong with sklearn's AUC."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn import metrics as skm

from driftloop.compare.auc import delong_paired, macro_auc
from driftloop.compare.bootstrap import _POISSON_TABLE, bootstrap_sums, resample_weights
from driftloop.compare.mcnemar import mcnemar_exact
from driftloop.compare.metrics import (
    ClassificationLayout,
    classification_columns,
    classification_from_sums,
    regression_columns,
    regression_from_sums,
)


def _fake(n, k, seed, skill=1.5):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += skill
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, proba.argmax(1), proba


@pytest.mark.parametrize("k", [2, 3, 5])
def test_classification_metrics_match_sklearn(k):
    y, pred, proba = _fake(700, k, seed=k)
    pred[:7] = (pred[:7] + 1) % k  # some predictions differ from argmax proba
    classes = tuple(f"c{i}" for i in range(k))
    layout = ClassificationLayout(classes, tuple(range(k)), True)
    w = np.random.default_rng(0).poisson(1.0, len(y)).astype(float)  # a resample's counts = sample weights
    for weight in (None, w):
        X = classification_columns(y, pred, proba, layout)
        got = classification_from_sums(X.sum(0) if weight is None else weight @ X, layout)
        kw = {"sample_weight": weight}
        assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred, **kw))
        assert got["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro", **kw))
        prec = skm.precision_score(y, pred, average=None, zero_division=0, **kw)
        rec = skm.recall_score(y, pred, average=None, zero_division=0, **kw)
        for i, c in enumerate(classes):
            assert got[f"precision_{c}"] == pytest.approx(prec[i])
            assert got[f"recall_{c}"] == pytest.approx(rec[i])
        assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=range(k), **kw))
        assert got["brier_score"] == pytest.approx(
            skm.brier_score_loss(y, proba if k > 2 else proba[:, 1], labels=range(k), **kw)
        )
    # ECE by its definition: sum over 10 confidence bins of |mean conf - accuracy| * share.
    conf, top = proba.max(1), proba.argmax(1)
    bins = np.minimum((conf * 10).astype(int), 9)
    ece = sum(
        abs(conf[bins == b].mean() - (top == y)[bins == b].mean()) * (bins == b).mean()
        for b in range(10)
        if (bins == b).any()
    )
    got = classification_from_sums(classification_columns(y, pred, proba, layout).sum(0), layout)
    assert got["ece"] == pytest.approx(ece)


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 500)
    pred = y + rng.normal(0, 1, 500)
    w = rng.poisson(1.0, 500).astype(float)
    for weight in (None, w):
        X = regression_columns(y, pred)
        got = regression_from_sums(X.sum(0) if weight is None else weight @ X)
        assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred, sample_weight=weight))
        assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred, sample_weight=weight))
        assert got["r2"] == pytest.approx(skm.r2_score(y, pred, sample_weight=weight))


@pytest.mark.parametrize("k", [2, 3])
def test_macro_auc_matches_sklearn(k):
    y, _, proba = _fake(400, k, seed=10 + k, skill=0.8)
    proba = np.round(proba, 2)  # ties
    proba[:, -1] = 1 - proba[:, :-1].sum(1)  # sklearn wants rows summing to 1
    expected = skm.roc_auc_score(y, proba[:, 1]) if k == 2 else skm.roc_auc_score(y, proba, multi_class="ovr")
    assert macro_auc(y, proba) == pytest.approx(expected)


def test_delong_matches_the_classic_binary_formula_and_sklearn():
    y, _, p0 = _fake(300, 2, seed=3, skill=0.7)
    _, _, p1 = _fake(300, 2, seed=4, skill=0.7)
    p1 = 0.5 * p1 + 0.5 * np.eye(2)[y] * 0.5 + 0.25  # a better, correlated-ish model
    t = delong_paired(y, p0, p1)
    assert t.delta == pytest.approx(skm.roc_auc_score(y, p1[:, 1]) - skm.roc_auc_score(y, p0[:, 1]))
    # DeLong (1988): var = S10/m + S01/n with placement-value covariances.
    pos, neg = p0[y == 1, 1], p0[y == 0, 1]
    pos1, neg1 = p1[y == 1, 1], p1[y == 0, 1]

    def placements(a_pos, a_neg):
        cmp = (a_pos[:, None] > a_neg[None, :]) + 0.5 * (a_pos[:, None] == a_neg[None, :])
        return cmp.mean(1), cmp.mean(0)

    v10_0, v01_0 = placements(pos, neg)
    v10_1, v01_1 = placements(pos1, neg1)
    m, n = len(pos), len(neg)
    var = np.var(v10_1 - v10_0) / m + np.var(v01_1 - v01_0) / n
    assert t.se == pytest.approx(np.sqrt(var), rel=1e-9)


@pytest.mark.parametrize("b, c", [(0, 0), (3, 9), (40, 41), (10, 30), (200, 150), (0, 7)])
def test_mcnemar_matches_binomtest(b, c):
    champ = np.r_[np.ones(b, bool), np.zeros(c, bool), np.ones(50, bool)]
    chall = np.r_[np.zeros(b, bool), np.ones(c, bool), np.ones(50, bool)]
    r = mcnemar_exact(champ, chall)
    assert (r.champion_only, r.challenger_only) == (b, c)
    expected = 1.0 if b + c == 0 else binomtest(min(b, c), b + c, 0.5).pvalue
    assert r.p_value == pytest.approx(expected, rel=1e-12)


def test_poisson_table_has_the_poisson_moments():
    u = _POISSON_TABLE.astype(float)  # every 16-bit value equally likely
    assert u.mean() == pytest.approx(1.0, abs=1e-3)
    assert u.var() == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("scheme", ["poisson", "multinomial"])
def test_bootstrap_is_seeded_and_has_the_right_spread(scheme):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (2000, 1))
    a = bootstrap_sums(x, 500, np.random.default_rng(1), scheme)
    b = bootstrap_sums(x, 500, np.random.default_rng(1), scheme)
    assert np.array_equal(a, b)
    means = a[:, 0] / (
        2000
        if scheme == "multinomial"
        else np.concatenate(list(resample_weights(2000, 500, np.random.default_rng(1), scheme))).sum(1)
    )
    # The bootstrap SD of a mean is sd/sqrt(n) (within Monte-Carlo error of 500 resamples).
    assert means.std() == pytest.approx(x.std() / np.sqrt(2000), rel=0.12)
    if scheme == "multinomial":
        w = np.concatenate(list(resample_weights(2000, 50, np.random.default_rng(2), scheme)))
        assert (w.sum(1) == 2000).all()
