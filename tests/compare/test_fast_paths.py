"""Faster paths of compare that must give the numbers of the slower ones they replaced: ROC/PR curves
drawn from a few thousand points (the CSVs still from the full curve), confusion counts without
crosstab, and DeLong's midranks from one sort instead of three ``rankdata`` calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import precision_recall_curve, roc_curve

from driftloop.compare.auc import _group_midranks
from driftloop.compare.comparison import compare_predictions
from driftloop.compare.config import CompareConfig
from driftloop.compare.plots import _confusion, _drawn, _thin, write_plots
from driftloop.compare.predict import Predictions

CLASSES = ("negative", "neutral", "positive")


def _predictions(n: int, seed: int) -> tuple[np.ndarray, Predictions]:
    rng = np.random.default_rng(seed)
    y = np.asarray(CLASSES)[rng.integers(0, 3, n)]
    logits = rng.normal(size=(n, 3)) + 1.5 * (y[:, None] == np.asarray(CLASSES)[None, :])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, Predictions(np.asarray(CLASSES)[proba.argmax(axis=1)], proba, CLASSES)


def test_drawn_keeps_each_columns_first_last_lowest_and_highest_point():
    rng = np.random.default_rng(0)
    n = 50_000
    x = np.sort(rng.random(n))[::-1]  # decreasing, like PR's recall
    y = np.cumsum(rng.normal(size=n))
    xd, yd = _drawn(x, y, columns=500)
    assert len(xd) <= 4 * 500 < n
    assert (xd[0], yd[0], xd[-1], yd[-1]) == (x[0], y[0], x[-1], y[-1])
    assert np.all(np.diff(xd) <= 0)  # still in the curve's order
    col = ((x - x.min()) * (499 / (x.max() - x.min()))).astype(int)
    col_d = ((xd - x.min()) * (499 / (x.max() - x.min()))).astype(int)
    lowest = pd.Series(y).groupby(col).min()
    highest = pd.Series(y).groupby(col).max()
    assert lowest.equals(pd.Series(yd).groupby(col_d).min())  # the drawn line spans the same heights
    assert highest.equals(pd.Series(yd).groupby(col_d).max())
    short = np.arange(10.0)
    assert _drawn(short, short)[0] is short  # a short curve is drawn as it is


def test_confusion_counts_equal_crosstab():
    y, p = _predictions(5_000, 1)
    expected = pd.crosstab(pd.Categorical(y, CLASSES), pd.Categorical(p.pred, CLASSES), dropna=False).to_numpy()
    assert np.array_equal(_confusion(y, p.pred, CLASSES), expected)
    assert not np.array_equal(_confusion(y, y, CLASSES), expected)


@pytest.mark.parametrize("ties", [False, True])
def test_group_midranks_equal_rankdata(ties):
    rng = np.random.default_rng(2)
    s = rng.integers(0, 7, 20_000) / 6.0 if ties else rng.random(20_000)
    pos = rng.random(20_000) < 0.3
    ranks, own = _group_midranks(s, pos)
    expected_own = np.empty(s.size)
    expected_own[pos], expected_own[~pos] = rankdata(s[pos]), rankdata(s[~pos])
    assert np.array_equal(ranks, rankdata(s))
    assert np.array_equal(own, expected_own)
    s[5] = np.nan  # scipy's NaN policy: every rank NaN
    assert np.isnan(_group_midranks(s, pos)[0]).all()


def test_curve_files_hold_the_full_curves_thinned_points(tmp_path):
    # 12,000 rows: curves longer than the 8,000 drawn points and the 400 written ones.
    y, challenger = _predictions(12_000, 3)
    _, champion = _predictions(12_000, 4)
    result = compare_predictions(y, challenger, champion, CompareConfig(n_bootstrap=50), ids=np.arange(12_000))
    written = {p.name for p in write_plots(result, tmp_path)}
    assert {"roc.png", "precision_recall.png", "confusion.png", "calibration.png", "roc.csv", "pr.csv"} <= written
    roc, pr = [], []
    for name, p in (("champion", champion), ("challenger", challenger)):
        for j, cls in enumerate(CLASSES):
            fpr, tpr, _ = roc_curve(y == cls, p.proba[:, j])
            prec, rec, _ = precision_recall_curve(y == cls, p.proba[:, j])
            assert len(rec) > 8_000
            roc.append(_thin(pd.DataFrame({"model": name, "class": cls, "fpr": fpr, "tpr": tpr})))
            pr.append(_thin(pd.DataFrame({"model": name, "class": cls, "recall": rec, "precision": prec})))
    for frames, file in ((roc, "roc.csv"), (pr, "pr.csv")):
        expected = pd.concat(frames, ignore_index=True).to_csv(index=False)
        assert (tmp_path / file).read_text() == expected
