"""KS where the reference is sketched: the reported bounds contain scipy's values, always.

Above ``numeric.exact_max_values`` distinct reference values the reference ECDF is kept on a grid
of ``sketch_size`` order statistics. D on the grid can only be low; ``ks_test`` reports a rigorous
upper bound and the p-value at that bound. These tests hold them against ``scipy.stats.ks_2samp``
on data built to be hard for them (current values packed between two grid points, ties, tiny
current samples, heavy tails) and check that the exact path is still scipy's to the bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftloop.drift import numeric

TOL = 1e-12  # cumulative sums of counts divided by n: rounding only


def _cmp(a: np.ndarray, b: np.ndarray, **kw) -> numeric.NumericComparison:
    ref = numeric.NumericReference.build(a, **kw)
    acc = ref.accumulator()
    for part in np.array_split(b, 3):
        acc.update(part)
    return numeric.NumericComparison(ref, acc)


def _check(a: np.ndarray, b: np.ndarray, sketch_size: int) -> tuple[float, float]:
    """Bounds contain scipy's D and p; returns (true error of D, bound on it)."""
    res = numeric.ks_test(_cmp(a, b, exact_max_values=100, sketch_size=sketch_size), 0.1)
    det = res.details
    sc = stats.ks_2samp(a, b)
    assert not det["exact"] and det["sketch_size"] <= sketch_size
    assert res.statistic - TOL <= sc.statistic <= det["statistic_upper"] + TOL
    assert det["max_error"] == pytest.approx(det["statistic_upper"] - res.statistic, abs=1e-15)
    assert det["max_error"] < 1 / (sketch_size - 1)  # the a-priori bound of an even sketch
    # p decreases in D, and the p-values at both ends are scipy's method at that D
    assert det["p_value_lower"] <= sc.pvalue * (1 + 1e-9) + 1e-300
    assert sc.pvalue <= res.p_value * (1 + 1e-9) + 1e-300
    return sc.statistic - res.statistic, det["max_error"]


def _scenarios(rng: np.random.Generator):
    n = 30_000
    yield "normal, shifted", rng.normal(size=n), rng.normal(0.02, 1, 20_000)
    yield "heavy tails, scaled", rng.standard_t(2, n), 1.1 * rng.standard_t(2, 20_000)
    yield "tiny current sample", rng.normal(size=n), rng.normal(0.3, 1, 30)
    ref = rng.normal(size=n)
    grid = np.sort(ref)[np.unique(np.round(np.linspace(0, n - 1, 256)).astype(int))]
    lo, hi = grid[100], grid[101]  # every current value strictly inside one reference cell
    yield "current packed in one cell", ref, rng.uniform(lo, hi, 5_000)
    mixed = rng.normal(size=n)
    yield "half the current inside one cell", ref, np.r_[rng.uniform(lo, hi, 3_000), mixed[:3_000]]
    ties = np.r_[rng.normal(size=n // 2), rng.integers(0, 5, n // 2).astype(float)]
    yield "ties with the grid values", ties, np.r_[rng.integers(0, 5, 4_000).astype(float), rng.normal(0.1, 1, 4_000)]
    yield "current outside the reference range", rng.uniform(0, 1, n), rng.uniform(0.5, 1.5, 10_000)


@pytest.mark.parametrize("sketch_size", [64, 256, 4096])
def test_sketch_bounds_contain_scipy_values(sketch_size):
    rng = np.random.default_rng(sketch_size)
    for name, a, b in _scenarios(rng):
        err, bound = _check(a, b, sketch_size)
        assert err + TOL >= 0 and err <= bound + TOL, name


def test_sketch_bound_is_reached_by_the_worst_case():
    """The bound is tight: the current sample is the reference itself, except that the values inside
    one cell sit just below its upper grid point. At every grid point the ECDFs agree (D on the grid
    is 0); inside that cell the reference ECDF climbs by the cell's whole share first."""
    rng = np.random.default_rng(1)
    a = rng.normal(size=50_000)
    grid = np.sort(a)[np.unique(np.round(np.linspace(0, a.size - 1, 128)).astype(int))]
    b = a.copy()
    inside = (a > grid[60]) & (a < grid[61])
    b[inside] = np.nextafter(grid[61], -np.inf)
    err, bound = _check(a, b, 128)
    assert err == pytest.approx(inside.mean(), abs=1 / a.size) and err >= 0.99 * bound


def test_random_sketches_many_seeds():
    """60 random pairs (sizes 50 to 60,000, shifts, scale changes) at the default 4,096 points:
    never outside the bounds, and never off by more than the a-priori bound."""
    rng = np.random.default_rng(2)
    worst = 0.0
    for _ in range(60):
        n1, n2 = int(rng.integers(5_000, 60_000)), int(rng.choice([50, 500, 5_000, 60_000]))
        a = rng.normal(size=n1)
        b = rng.normal(rng.choice([0, 0.005, 0.02, 0.1]), rng.choice([1.0, 1.05]), n2)
        err, _ = _check(a, b, 4096)
        worst = max(worst, err)
    assert worst < 1 / 4095


@pytest.mark.parametrize("rounding", [None, 2])
def test_exact_path_is_scipy_and_says_so(rounding):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=15_000), rng.normal(0.03, 1, 12_000)
    if rounding is not None:
        a, b = a.round(rounding), b.round(rounding)
    res = numeric.ks_test(_cmp(a, b), 0.1)
    sc = stats.ks_2samp(a, b)
    assert res.details == {"exact": True}
    assert res.statistic == pytest.approx(sc.statistic, abs=TOL) and res.p_value == pytest.approx(sc.pvalue, abs=1e-9)
    d, upper = numeric.ks_bounds_from_cells(_cmp(a, b).ref.cells, _cmp(a, b).cur.cells)
    assert d == upper  # no reference mass between grid points: nothing to bound


def test_the_report_states_a_sketched_ks_bound_and_an_exact_one_states_none():
    """The HTML report says when KS ran on a sketch, with the bound on D and the p-value at it."""
    import pandas as pd

    from driftloop.drift import DriftConfig, evaluate_drift, render_html, summarize_reference

    rng = np.random.default_rng(3)
    ref, cur = pd.DataFrame({"x": rng.normal(size=5000)}), pd.DataFrame({"x": rng.normal(size=5000)})
    for exact_max, sketched in ((100, True), (20_000, False)):
        cfg = DriftConfig.from_dict(
            {"multivariate": {"enabled": False}, "numeric": {"exact_max_values": exact_max, "sketch_size": 256}}
        )
        rep = evaluate_drift(summarize_reference(ref, {"x": "numeric"}, cfg), cur, cfg)
        details = rep.columns["x"].tests["ks"].details
        html = render_html(rep)
        assert details["exact"] is (not sketched)
        assert ("256-point sketch of the reference" in html) is sketched
        if sketched:
            assert 0 < details["max_error"] < 1 / 255 and "error at most" in html
