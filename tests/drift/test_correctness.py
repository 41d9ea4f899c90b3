"""Statistics against scipy (1e-9) and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from driftloop.drift import categorical, numeric
from driftloop.drift.corrections import adjust, benjamini_hochberg
from driftloop.drift.divergence import js_distance, psi
from driftloop.drift.missing import MissingComparison, missing_test


def _num_cmp(a, b, chunks=3, **kw):
    ref = numeric.NumericReference.build(a, **kw)
    accs = [ref.accumulator().update(part) for part in np.array_split(np.asarray(b, float), chunks)]
    acc = accs[0]
    for other in accs[1:]:
        acc.merge(other)
    return numeric.NumericComparison(ref, acc)


@pytest.mark.parametrize("n1, n2, shift, rounding", [
    (40, 55, 0.0, None), (300, 200, 0.3, None), (2000, 3000, 0.05, 1), (9000, 7000, 0.0, 2),
    (15000, 12000, 0.03, None), (20000, 20000, 0.0, 0),
], ids=["tiny", "small-shift", "ties", "exact-boundary", "asymptotic", "heavy-ties"])
def test_ks_matches_scipy(n1, n2, shift, rounding):
    rng = np.random.default_rng(n1 + n2)
    a, b = rng.normal(size=n1), rng.normal(shift, size=n2)
    if rounding is not None:
        a, b = a.round(rounding), b.round(rounding)
    res = numeric.ks_test(_num_cmp(a, b), 0.1)
    ref = stats.ks_2samp(a, b)
    assert res.details["exact"]
    assert res.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, abs=1e-9)


def test_ks_large_n_band_matches_scipy():
    # n1 = n2 = 60,000 -> en = 30,000 and n D^2 in [2.2, 370): the smirnov_sf fast path
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60_000).round(2), rng.normal(0.03, size=60_000).round(2)
    res = numeric.ks_test(_num_cmp(a, b), 0.1)
    ref = stats.ks_2samp(a, b)
    assert 2.2 <= 30_000 * ref.statistic ** 2 < 370
    assert res.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=2e-9, abs=1e-9)


@pytest.mark.parametrize("n, nx2", [(20_001, 2.2), (30_000, 369.0), (200_000, 2.2), (200_000, 40.0),
                                    (1_000_000, 5.0)])
def test_smirnov_fast_path_matches_scipy_kstwo(n, nx2):
    d = float(np.sqrt(nx2 / n))
    p = numeric._ks_pvalue(d, 2 * n, 2 * n)  # en = n
    assert p == pytest.approx(stats.kstwo.sf(d, n), rel=2e-9, abs=1e-300)


@pytest.mark.parametrize("n, x", [
    (150, 0.004), (150, 0.006), (150, 0.9), (150, 0.999), (150, 0.1),  # Ruben-Gambino ends, PelzGood
    (100, 0.0075), (100, 0.3), (100, 0.6),  # n <= 140: closed form, 2 * smirnov
    (50_000, 0.001), (50_000, 0.005), (50_000, 0.6),  # Pelz-Good (n x^1.5 > 1.4), x >= 0.5
    (100_001, 0.0005), (150_000, 0.002), (2_000_000, 0.0005), (2_000_000, 0.002), (2_000_000, 0.05),
    (1_000, 0.0), (1_000, 1.0), (1_000, 0.7),
])
def test_kstwo_sf_without_scipy_stats_is_bit_identical(n, x):
    p = numeric.kstwo_sf(x, n)
    assert p is not None
    assert p == float(stats.kstwo.sf(x, n))


@pytest.mark.parametrize("n1, n2, x", [(20_000, 101, 0.05), (100_000, 100_000, 0.0008)])  # Pomeranz, Durbin
def test_kstwo_sf_defers_to_scipy_where_it_must(n1, n2, x):
    en = int(np.round(n1 * n2 / (n1 + n2)))
    assert numeric.kstwo_sf(x, en) is None
    assert numeric._ks_pvalue(x, n1, n2) == float(stats.kstwo.sf(x, en))


def test_chi2_sf_equals_scipy():
    from driftloop.drift.divergence import chi2_sf

    for x2, dof in [(0.0, 1), (3.84, 1), (1e-3, 5), (40.0, 7), (1e4, 3), (float("inf"), 2)]:
        assert chi2_sf(x2, dof) == float(stats.chi2.sf(x2, dof))


def test_univariate_evaluation_does_not_import_scipy_stats():
    import subprocess
    import sys

    code = ("import sys, numpy as np, pandas as pd\n"
            "from driftloop.drift import evaluate_drift, summarize_reference\n"
            "from driftloop.drift.config import DriftConfig\n"
            "rng = np.random.default_rng(0)\n"
            "df = pd.DataFrame({'x': rng.normal(size=30_000).round(1), 'c': rng.choice(list('abc'), 30_000)})\n"
            "s = summarize_reference(df, {'x': 'numeric', 'c': 'categorical'})\n"
            "from dataclasses import replace\n"
            "cfg = DriftConfig()\n"
            "cfg = replace(cfg, multivariate=replace(cfg.multivariate, enabled=False))\n"
            "evaluate_drift(s, df.sample(frac=1, random_state=1), cfg)\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_ks_sketch_is_within_documented_bound():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50_000), rng.normal(0.05, 1.2, size=30_000)
    res = numeric.ks_test(_num_cmp(a, b, exact_max_values=1000, sketch_size=512), 0.1)
    d = stats.ks_2samp(a, b).statistic
    assert not res.details["exact"]
    assert d - 1 / 512 - 1e-12 <= res.statistic <= d + 1e-12


def test_wasserstein_matches_scipy_on_integer_data():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 20, 5000), rng.integers(2, 25, 4000)
    res = numeric.wasserstein_test(_num_cmp(a, b), 0.1)
    assert res.statistic * a.std() == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_chi2_matches_scipy_contingency():
    rng = np.random.default_rng(4)
    a = rng.choice(list("abcde"), 3000, p=[.3, .3, .2, .1, .1])
    b = np.concatenate([rng.choice(list("abcdf"), 2000, p=[.25, .3, .2, .15, .1]), ["g", "g"]])
    ref = categorical.CategoricalReference.build(a)
    cmp = categorical.CategoricalComparison(ref, ref.accumulator().update(b[:1000]).update(b[1000:]))
    res = categorical.chi2_test(cmp, 0.1)
    levels = sorted(set(a) | set(b))
    table = np.array([[np.sum(a == l) for l in levels], [np.sum(b == l) for l in levels]])
    x2, p, dof, _ = stats.chi2_contingency(table, correction=False)
    assert res.details["chi2"] == pytest.approx(x2, abs=1e-9)
    assert res.p_value == pytest.approx(p, abs=1e-9)
    assert res.details["dof"] == dof
    assert res.statistic == pytest.approx(np.sqrt(x2 / table.sum()), abs=1e-12)
    assert res.details["unseen"] == {"g": 2, "f": int(np.sum(b == "f"))} or set(res.details["unseen"]) == {"f", "g"}
    assert res.details["vanished"] == {"e": int(np.sum(a == "e"))}


def test_two_unseen_categories_do_not_give_p_zero():
    a = np.array(["x"] * 500 + ["y"] * 500)
    b = np.array(["x"] * 499 + ["y"] * 499 + ["new1", "new2"])
    ref = categorical.CategoricalReference.build(a)
    res = categorical.chi2_test(categorical.CategoricalComparison(ref, ref.accumulator().update(b)), 0.1)
    assert res.p_value > 0.1


def test_psi_hand_computed():
    r, c = np.array([10, 20, 30, 0]), np.array([20, 20, 20, 10])
    p = (r + 0.5) / (60 + 2.0)
    q = (c + 0.5) / (70 + 2.0)
    assert psi(r, c) == pytest.approx(float(np.sum((q - p) * np.log(q / p))), abs=1e-12)
    # worked by hand: 50/50 vs 60/40 -> p = (.5, .5), q = (60.5, 40.5) / 101 = (.599010, .400990);
    # PSI = .099010 * (ln 1.198020 - ln .801980) = .099010 * .401314 = .039737 (0.040547 without pseudocounts)
    p2, q2 = np.array([50.5, 50.5]) / 101, np.array([60.5, 40.5]) / 101
    assert psi([50, 50], [60, 40]) == pytest.approx(0.039737, abs=1e-6)
    assert psi([50, 50], [60, 40], pseudocount=0.0) == pytest.approx(0.1 * np.log(1.2 / 0.8), abs=1e-12)
    assert psi([50, 50], [60, 40]) == pytest.approx(float(np.sum((q2 - p2) * np.log(q2 / p2))), abs=1e-12)


def test_js_hand_computed_and_base_2():
    # p = (1/2, 1/2, 0), q = (0, 1/2, 1/2): m = (1/4, 1/2, 1/4); JSD = 1/2 bit; distance sqrt(1/2)
    assert js_distance([1, 1, 0], [0, 1, 1]) == pytest.approx(np.sqrt(0.5), abs=1e-12)
    assert js_distance([3, 0], [0, 7]) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    p, q = rng.integers(0, 50, 12), rng.integers(0, 50, 12)
    assert js_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), abs=1e-12)


def test_numeric_binned_stats_use_reference_quantile_bins_and_overflow():
    a = np.arange(100.0)  # deciles: edges 0,10,...,90
    cmp = _num_cmp(a, np.r_[np.arange(100.0), [-5.0, 500.0]])
    r, c = cmp.binned()
    assert r.tolist() == [0] + [10] * 10 + [0]
    assert c.tolist() == [1] + [10] * 10 + [1]
    assert numeric.psi_test(cmp, 0.1).statistic == pytest.approx(psi(r, c), abs=1e-12)
    assert numeric.js_test(cmp, 0.1).statistic == pytest.approx(jensenshannon(r, c, base=2), abs=1e-12)


def test_benjamini_hochberg_and_bonferroni_hand_values():
    p = [0.01, 0.04, 0.03, 0.2]
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.04, 0.0533333, 0.0533333, 0.2], abs=1e-6)
    assert adjust(p + [None], "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.8, None])
    assert adjust([None], "bh") == [None]


def test_missing_rate_test():
    res = missing_test(MissingComparison(50, 1000, 150, 1000), 0.02)
    x2, p, *_ = stats.chi2_contingency([[50, 950], [150, 850]], correction=False)
    assert res.statistic == pytest.approx(0.1) and res.p_value == pytest.approx(p, abs=1e-12)
    small = missing_test(MissingComparison(0, 100, 3, 100), 0.02)
    assert small.details["method"] == "fisher"
    assert small.p_value == pytest.approx(stats.fisher_exact([[0, 100], [3, 97]])[1])
    assert missing_test(MissingComparison(0, 10, 0, 10), 0.02).p_value == 1.0


@pytest.mark.parametrize("sketch", [False, True], ids=["exact-grid", "sketch-grid"])
def test_sorted_cells_match_per_value_binning(sketch):
    """The sort-based accumulator gives the cells of cell_index + bincount, and the same missing counts."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=30_000) if sketch else rng.integers(0, 40, 5_000).astype(float)
    ref = numeric.NumericReference.build(a, sketch_size=512)
    assert ref.exact is not sketch
    b = np.concatenate([rng.normal(0.3, 2, 7_000), ref.grid[[0, 3, 3, -1]], [np.nan] * 9, [np.inf] * 4,
                        [-np.inf] * 2, [ref.grid[0] - 1, ref.grid[-1] + 1]])
    rng.shuffle(b)
    acc = ref.accumulator().update(b)
    finite = b[np.isfinite(b)]
    c = numeric.cell_index(ref.grid, finite)
    np.testing.assert_array_equal(acc.cells, np.bincount(c, minlength=acc.cells.size))
    np.testing.assert_allclose(acc.cell_sums, np.bincount(c, weights=finite, minlength=acc.cells.size),
                               rtol=1e-12, atol=1e-9)
    assert (acc.n_total, acc.n_missing, acc.n_inf) == (b.size, 15, 6)
