"""bench/bench_power.py stays runnable and its generators produce what its table claims."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "bench_power.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_power", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shares", [(1 / 3, 1 / 3, 1 / 3), (0.6, 0.3, 0.1)], ids=["balanced", "imbalanced"])
@pytest.mark.parametrize("disagreement", [0.10, 0.26, 0.35])
def test_classification_generator_hits_its_disagreement_and_f1_gain(bench, shares, disagreement):
    from sklearn.metrics import f1_score

    p1 = bench.challenger_accuracy(shares, "f1_macro", 0.02)
    y, chall, champ = bench.classification_holdout(np.random.default_rng(0), 300_000, shares, p1, disagreement)
    assert np.mean(chall.pred != champ.pred) == pytest.approx(disagreement, abs=0.003)
    gain = f1_score(y, chall.pred, average="macro") - f1_score(y, champ.pred, average="macro")
    assert gain == pytest.approx(0.02, abs=0.003)
    assert np.mean(champ.pred == y) == pytest.approx(bench.BASE_ACCURACY, abs=0.003)


@pytest.mark.parametrize("errors", ["normal", "t5"])
def test_regression_generator_hits_its_correlation_and_rmse_gain(bench, errors):
    y, chall, champ = bench.regression_holdout(np.random.default_rng(1), 400_000, errors, 0.9, 0.02)
    e1, e0 = chall.pred - y, champ.pred - y
    assert np.corrcoef(e1, e0)[0, 1] == pytest.approx(0.9, abs=0.005)
    assert np.sqrt(np.mean(e1**2) / np.mean(e0**2)) == pytest.approx(0.98, abs=0.005)


def test_a_cell_runs_through_compare_and_promote(bench):
    assert bench.shipped_rule("classification")["significant"] and bench.shipped_rule("regression")["relative"]
    variants = ((0.95, 0.005), (0.90, 0.005), (0.95, 0.0))
    out = bench.run_cell(bench.Cell("balanced", 1000, 0.2, "better", 2, variants, 0.02, 0))
    assert set(out["promoted"]) == {(m, v) for m in ("accuracy", "f1_macro") for v in variants}
    assert all(0 <= k <= 2 for k in out["promoted"].values())
    # On the same holdouts a wider interval or a smaller margin never refuses what the other promotes.
    assert out["promoted"][("f1_macro", (0.90, 0.005))] >= out["promoted"][("f1_macro", (0.95, 0.005))]
    assert out["promoted"][("f1_macro", (0.95, 0.0))] >= out["promoted"][("f1_macro", (0.95, 0.005))]
    assert bench.wilson(0, 10)[0] == 0 and bench.wilson(10, 10)[1] == pytest.approx(1)
    assert bench.wilson(8, 10) == pytest.approx((0.490, 0.943), abs=1e-3)  # Wilson (1927), z = 1.96
