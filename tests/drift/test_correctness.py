"""Statistics against scipy (1e-9) and hand-computed values."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from decimal import Decimal, localcontext

import numpy as np
import pytest
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from driftloop.drift import categorical, numeric
from driftloop.drift._special import stirling_excess
from driftloop.drift.corrections import adjust, benjamini_hochberg
from driftloop.drift.divergence import chi2_sf, js_distance, psi
from driftloop.drift.missing import MissingComparison, missing_test


def _num_cmp(a, b, chunks=3, **kw):
    ref = numeric.NumericReference.build(a, **kw)
    accs = [ref.accumulator().update(part) for part in np.array_split(np.asarray(b, float), chunks)]
    acc = accs[0]
    for other in accs[1:]:
        acc.merge(other)
    return numeric.NumericComparison(ref, acc)


@pytest.mark.parametrize(
    "n1, n2, shift, rounding",
    [
        (40, 55, 0.0, None),
        (300, 200, 0.3, None),
        (2000, 3000, 0.05, 1),
        (9000, 7000, 0.0, 2),
        (15000, 12000, 0.03, None),
        (20000, 20000, 0.0, 0),
    ],
    ids=["tiny", "small-shift", "ties", "exact-boundary", "asymptotic", "heavy-ties"],
)
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


# smirnov_sf against scipy's double-double sum: measured max relative deviation 1.0e-13 over
# n in [2e4, 1e6] x n x^2 in [2.2, 300] (was 8e-10 with betaln's log-binomials, hence the old 2e-9);
# 100x headroom for other platforms' log1p / exp. Past n x^2 ~ 350 the value is subnormal (abs=1e-300).
SMIRNOV_REL = 1e-11


def test_ks_large_n_band_matches_scipy():
    # n1 = n2 = 60,000 -> en = 30,000 and n D^2 in [2.2, 370): the smirnov_sf fast path
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=60_000).round(2), rng.normal(0.03, size=60_000).round(2)
    res = numeric.ks_test(_num_cmp(a, b), 0.1)
    ref = stats.ks_2samp(a, b)
    assert 2.2 <= 30_000 * ref.statistic**2 < 370
    assert res.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert res.p_value == pytest.approx(ref.pvalue, rel=SMIRNOV_REL, abs=1e-300)


@pytest.mark.parametrize("n, nx2", [(20_001, 2.2), (30_000, 369.0), (200_000, 2.2), (200_000, 40.0), (1_000_000, 5.0)])
def test_smirnov_fast_path_matches_scipy_kstwo(n, nx2):
    d = float(np.sqrt(nx2 / n))
    p = numeric._ks_pvalue(d, 2 * n, 2 * n)  # en = n
    assert p == pytest.approx(stats.kstwo.sf(d, n), rel=SMIRNOV_REL, abs=1e-300)


@pytest.mark.parametrize("n, nx2", [(25_000, 100.0), (77_777, 300.0)])
def test_smirnov_sf_matches_scipy_smirnov(n, nx2):
    x = float(np.sqrt(nx2 / n))
    assert numeric.smirnov_sf(n, x) == pytest.approx(special.smirnov(n, x), rel=SMIRNOV_REL)


@pytest.mark.parametrize(
    "n, x",
    [
        (150, 0.004),
        (150, 0.006),
        (150, 0.9),
        (150, 0.999),
        (150, 0.1),  # Ruben-Gambino ends, PelzGood
        (100, 0.0075),
        (100, 0.3),
        (100, 0.6),  # n <= 140: closed form, 2 * smirnov
        (50_000, 0.001),
        (50_000, 0.005),
        (50_000, 0.6),  # Pelz-Good (n x^1.5 > 1.4), x >= 0.5
        (100_001, 0.0005),
        (150_000, 0.002),
        (2_000_000, 0.0005),
        (2_000_000, 0.002),
        (2_000_000, 0.05),
        (1_000, 0.0),
        (1_000, 1.0),
        (1_000, 0.7),
    ],
)
def test_kstwo_sf_without_scipy_stats_is_bit_identical(n, x):
    p = numeric.kstwo_sf(x, n)
    assert p is not None
    assert p == float(stats.kstwo.sf(x, n))


@pytest.mark.parametrize("n1, n2, x", [(20_000, 101, 0.05), (100_000, 100_000, 0.0008)])  # Pomeranz, Durbin
def test_kstwo_sf_defers_to_scipy_where_it_must(n1, n2, x):
    en = int(np.round(n1 * n2 / (n1 + n2)))
    assert numeric.kstwo_sf(x, en) is None
    assert numeric._ks_pvalue(x, n1, n2) == float(stats.kstwo.sf(x, en))


CHI2_DOFS = [1, 2, 3, 4, 5, 10, 11, 50, 51, 200, 1001, 5000]


def _chi2_grid(dof: int) -> np.ndarray:
    """Statistics at p = 1 - 1e-12 .. 1e-300 (placed by scipy's isf), plus tiny ones."""
    p = np.concatenate([1 - np.logspace(-12, -1, 12), np.logspace(-1, -300, 61)])
    return np.concatenate([stats.chi2.isf(p, dof), [5e-324, 1e-300, 1e-12, 1e-3, 0.5, 1.0]])


@pytest.mark.parametrize("dof", CHI2_DOFS)
def test_chi2_sf_matches_scipy(dof):
    # chi2_sf is the A&S 26.4.4 / 26.4.5 closed form in numpy, not scipy's chdtrc: equal to rounding,
    # not bit for bit. Measured max relative deviation where scipy's p > 1e-290: 1.7e-13 for dof <= 200,
    # 7.6e-13 at dof = 1001 and 3.7e-12 at dof = 5000, there nearly all scipy's own (against 40-digit
    # mpmath: chi2_sf within 2.4e-13 for every dof here, scipy off by 7.6e-13 at 1001 and 3.6e-12 at
    # 5000), hence 5e-12 at 5000 and the exact check below. Below 1e-290: within 5e-302 absolute.
    x = _chi2_grid(dof)
    ref = stats.chi2.sf(x, dof)
    got = np.array([chi2_sf(v, dof) for v in x])
    big = ref > 1e-290
    assert np.max(np.abs(got[big] / ref[big] - 1)) <= (1e-12 if dof <= 1001 else 5e-12)
    assert np.all(np.abs(got[~big] - ref[~big]) <= 1e-300)


def _even_chi2_sf_exact(x: float, dof: int) -> Decimal:
    """``e^-y sum_{i < dof/2} y^i / i!`` (A&S 26.4.4) in 60-digit decimal arithmetic, y = x / 2."""
    with localcontext() as ctx:
        ctx.prec = 60
        y = Decimal(x) / 2
        term, total = Decimal(1), Decimal(1)
        for i in range(1, dof // 2):
            term = term * y / i
            total += term
        return total * (-y).exp()


@pytest.mark.parametrize("dof", [1000, 5000])
def test_chi2_sf_large_dof_against_exact_sum(dof):
    # where scipy's igamc is itself off by up to 3.6e-12; measured max relative error 3.1e-13
    x = stats.chi2.isf(np.logspace(-1, -290, 30), dof)
    rel = [abs(Decimal(chi2_sf(v, dof)) / _even_chi2_sf_exact(v, dof) - 1) for v in x]
    assert max(rel) <= Decimal("1e-12")


def test_chi2_sf_edge_values_and_dof_validation():
    for dof in (1, 2, 7, 5000):
        for x in (0.0, -1.0, -np.inf, np.inf, np.nan):
            np.testing.assert_equal(chi2_sf(x, dof), float(stats.chi2.sf(x, dof)))
    assert chi2_sf(3.0, 4.0) == chi2_sf(3.0, np.int64(4)) == chi2_sf(np.float64(3.0), 4)
    for bad in (2.5, 0, -3, np.nan, "3"):
        with pytest.raises(ValueError, match="dof"):
            chi2_sf(1.0, bad)


def test_stirling_excess_matches_lgamma():
    k = np.array([0.0, 0.5, 1.0, 2.0, 9.5, 10.0, 10.5, 255.0, 256.0, 1e3 + 0.5, 475_000.0, 1e6])
    lgamma = np.array([math.lgamma(v + 1) for v in k])
    lead = np.where(k > 0, k * np.log(np.where(k > 0, k, 1.0)), 0.0) - k
    assert np.allclose(stirling_excess(k) + lead, lgamma, rtol=1e-14, atol=1e-14)
    assert [stirling_excess(float(v)) for v in k] == pytest.approx(stirling_excess(k).tolist(), rel=1e-15)


def test_univariate_evaluation_does_not_import_scipy_stats():
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from driftloop.drift import evaluate_drift, summarize_reference\n"
        "from driftloop.drift.config import DriftConfig\n"
        "rng = np.random.default_rng(0)\n"
        "df = pd.DataFrame({'x': rng.normal(size=30_000).round(1), 'c': rng.choice(list('abc'), 30_000)})\n"
        "s = summarize_reference(df, {'x': 'numeric', 'c': 'categorical'})\n"
        "from dataclasses import replace\n"
        "cfg = DriftConfig()\n"
        "cfg = replace(cfg, multivariate=replace(cfg.multivariate, enabled=False))\n"
        "evaluate_drift(s, df.sample(frac=1, random_state=1), cfg)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_univariate_p_values_do_not_import_scipy():
    # chi2_sf, smirnov_sf and the common kstwo_sf branches are numpy: importing scipy.special cost
    # ~0.25 s of a one-second evaluation at 100k rows. The KS statistic of x lands in smirnov_sf's band
    # (en = 30,000), the missing-rate test of m takes the chi2 branch (not Fisher), c runs chi2.
    code = textwrap.dedent("""
        import sys, numpy as np, pandas as pd
        from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference
        rng = np.random.default_rng(0)
        n = 60_000

        def frame(shift, missing):
            m = rng.normal(size=n)
            m[rng.random(n) < missing] = np.nan
            return pd.DataFrame({"x": rng.normal(shift, size=n).round(2),
                                 "c": rng.choice(list("abcd"), n, p=[.4, .3, .2, .1]), "m": m})

        kinds = {"x": "numeric", "c": "categorical", "m": "numeric"}
        cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
        rep = evaluate_drift(summarize_reference(frame(0.0, 0.05), kinds, cfg), frame(0.05, 0.06), cfg)
        d = rep.columns["x"].tests["ks"].statistic
        print(2.2 <= 30_000 * d * d < 370, rep.columns["m"].tests["missing"].details["method"],
              rep.columns["c"].tests["chi2"].p_value is not None)
        print(sorted(m for m in sys.modules if m == "scipy" or m.startswith("scipy.")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[-2] == "True chi2 True"
    assert lines[-1] == "[]"


def test_ks_sketch_is_within_documented_bound():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=50_000), rng.normal(0.05, 1.2, size=30_000)
    res = numeric.ks_test(_num_cmp(a, b, exact_max_values=1000, sketch_size=512), 0.1)
    d = stats.ks_2samp(a, b).statistic
    assert not res.details["exact"]
    assert res.statistic - 1e-12 <= d <= res.details["statistic_upper"] + 1e-12  # tests/drift/test_ks_exactness.py
    assert res.details["max_error"] < 1 / 511


@pytest.mark.parametrize("scale", [1.0, 1e300, 1e-300], ids=["unit", "1e300", "1e-300"])
def test_moments_and_wasserstein_do_not_overflow(scale):
    """Squaring values near 1e300 overflowed the reference standard deviation to inf, and the
    Wasserstein statistic (divided by it) read 0; it must be the same number at any scale."""
    rng = np.random.default_rng(6)
    a, b = rng.integers(-20, 20, 3000).astype(float), rng.integers(-15, 30, 2000).astype(float)  # W1 exact on cells
    with np.errstate(all="raise"):
        res = numeric.wasserstein_test(_num_cmp(a * scale, b * scale), 0.1)
        ref = numeric.NumericReference.build(a * scale)
    assert ref.std == pytest.approx(a.std() * scale, rel=1e-12) and ref.mean == pytest.approx(
        a.mean() * scale, rel=1e-12
    )
    assert res.statistic == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=1e-9)


def test_wasserstein_stays_finite_at_the_float_limit():
    """Values near 1e307: cell sums of thousands of them overflow; their mass then sits on the cell's
    grid point, so the statistic is approximate (here within 1%) but finite, never 0 or NaN."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=3000), rng.normal(0.5, 1, 3000)
    with np.errstate(over="ignore"):
        res = numeric.wasserstein_test(_num_cmp(a * 1e307, b * 1e307), 0.1)
    assert res.statistic == pytest.approx(stats.wasserstein_distance(a, b) / a.std(), rel=0.01)


def test_wasserstein_matches_scipy_on_integer_data():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 20, 5000), rng.integers(2, 25, 4000)
    res = numeric.wasserstein_test(_num_cmp(a, b), 0.1)
    assert res.statistic * a.std() == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_chi2_matches_scipy_contingency():
    rng = np.random.default_rng(4)
    a = rng.choice(list("abcde"), 3000, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    b = np.concatenate([rng.choice(list("abcdf"), 2000, p=[0.25, 0.3, 0.2, 0.15, 0.1]), ["g", "g"]])
    ref = categorical.CategoricalReference.build(a)
    cmp = categorical.CategoricalComparison(ref, ref.accumulator().update(b[:1000]).update(b[1000:]))
    res = categorical.chi2_test(cmp, 0.1)
    levels = sorted(set(a) | set(b))
    table = np.array([[np.sum(a == lv) for lv in levels], [np.sum(b == lv) for lv in levels]])
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
    assert adjust([*p, None], "bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.8, None])
    assert adjust([None], "bh") == [None]


def test_missing_rate_test():
    res = missing_test(MissingComparison(50, 1000, 150, 1000), 0.02)
    _, p, *_ = stats.chi2_contingency([[50, 950], [150, 850]], correction=False)
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
    b = np.concatenate(
        [
            rng.normal(0.3, 2, 7_000),
            ref.grid[[0, 3, 3, -1]],
            [np.nan] * 9,
            [np.inf] * 4,
            [-np.inf] * 2,
            [ref.grid[0] - 1, ref.grid[-1] + 1],
        ]
    )
    rng.shuffle(b)
    acc = ref.accumulator().update(b)
    finite = b[np.isfinite(b)]
    c = numeric.cell_index(ref.grid, finite)
    np.testing.assert_array_equal(acc.cells, np.bincount(c, minlength=acc.cells.size))
    np.testing.assert_allclose(
        acc.cell_sums, np.bincount(c, weights=finite, minlength=acc.cells.size), rtol=1e-12, atol=1e-9
    )
    assert (acc.n_total, acc.n_missing, acc.n_inf) == (b.size, 15, 6)
