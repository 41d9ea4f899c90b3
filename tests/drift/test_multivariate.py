"""The domain classifier: its parts against independent implementations, its null by simulation.

The simulations are the point: a classifier two-sample test is only valid when the scores the AUC
is computed on are held out *and* the permutation null matches how they were produced. A control
below shows the natural-looking alternative (cross-fitted scores pooled over folds, permuted as if
independent) failing the same false-alarm bound, so the bound can fail.
"""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference
from driftloop.drift import multivariate as mv

ALPHA = 0.05


def _binomial_bound(p: float, n: int, z: float = 3.0) -> float:
    return p + z * np.sqrt(p * (1 - p) / n)


def _table(n: int, rng: np.random.Generator, corr: float = 0.0, scale5: float = 1.0, n_num: int = 8) -> pd.DataFrame:
    x = rng.normal(size=(n, n_num))
    x[:, 1] = corr * x[:, 0] + np.sqrt(1 - corr**2) * x[:, 1]  # marginals stay N(0, 1)
    x[:, 5] *= scale5
    d = {f"n{i}": x[:, i] for i in range(n_num)}
    d["c0"] = rng.choice(["a", "b", "c"], n)
    d["c1"] = rng.choice(40, n).astype(str)
    return pd.DataFrame(d)


def _kinds(df: pd.DataFrame) -> dict[str, str]:
    return {c: "numeric" if c.startswith("n") else "categorical" for c in df}


def test_average_ranks_match_scipy_rankdata():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 30, 500).astype(float)  # many ties
    np.testing.assert_array_equal(mv.average_ranks(a), stats.rankdata(a))
    b = rng.normal(size=300)
    np.testing.assert_array_equal(mv.average_ranks(b), stats.rankdata(b))


def test_observed_auc_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    s = rng.normal(size=400) + 0.5 * y
    s[::7] = 0.25  # ties across classes
    auc, null = mv.permutation_auc_null(s, y, 50, rng)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert null.shape == (50,)


def test_random_subset_sums_follow_the_exact_subset_distribution():
    """All C(8, 3) = 56 subsets of distinct powers of two have distinct sums: each must come up
    equally often (chi-squared goodness of fit against the enumeration)."""
    values = 2.0 ** np.arange(8)
    sums = mv.random_subset_sums(values, 3, 28_000, np.random.default_rng(12))
    expected = sorted(sum(c) for c in itertools.combinations(values, 3))
    counts = pd.Series(sums).value_counts().reindex(expected, fill_value=0)
    assert counts.index.isin(expected).all() and len(counts) == 56
    assert stats.chisquare(counts.to_numpy()).pvalue > 1e-3


def test_random_subset_sums_redraw_rows_whose_boundary_keys_tie():
    """float32 keys can tie at the k-th smallest (rare for real): such a row would select k + 1
    values, so it must be drawn again. A generator whose first draw ties shows it is."""

    class FirstDrawTies:
        def __init__(self) -> None:
            self.rng, self.calls = np.random.default_rng(0), 0

        def random(self, shape, dtype):
            self.calls += 1
            keys = self.rng.random(shape, dtype=dtype)
            if self.calls == 1:
                keys[0, :] = np.arange(keys.shape[1], dtype=dtype) / 10
                keys[0, 3] = keys[0, 2]  # the 3rd and 4th smallest tie
            return keys

    gen = FirstDrawTies()
    sums = mv.random_subset_sums(np.ones(6), 3, 4, gen)  # type: ignore[arg-type]
    assert gen.calls == 2 and (sums == 3.0).all()


def test_ridge_discriminant_matches_sklearn_ridge():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 6))
    y = (rng.random(300) < 0.4).astype(float)
    w, b = mv.ridge_discriminant(x, y, ridge=0.1)
    ref = Ridge(alpha=0.1 * 300, fit_intercept=True, solver="cholesky").fit(x, y)
    np.testing.assert_allclose(w, ref.coef_, rtol=1e-10, atol=1e-12)
    assert b == pytest.approx(ref.intercept_, abs=1e-12)
    # fitted on two row blocks (views) = fitted on their concatenation
    blocks = (slice(0, 80), slice(150, 260))
    wb, bb = mv.ridge_discriminant(x, y, ridge=0.1, rows=blocks)
    rows = np.r_[0:80, 150:260]
    ref = Ridge(alpha=0.1 * rows.size, fit_intercept=True, solver="cholesky").fit(x[rows], y[rows])
    np.testing.assert_allclose(wb, ref.coef_, rtol=1e-10, atol=1e-12)
    assert bb == pytest.approx(ref.intercept_, abs=1e-12)


def test_separation_shares_split_the_mean_score_gap_exactly():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(200, 3))
    y = np.r_[np.zeros(100), np.ones(100)]
    z[y == 1, 0] += 1.0
    z[y == 1, 2] *= 1.5
    a = np.array([[0.3, 0.2], [0.2, -0.1]])  # quadratic form on z[:, [1, 2]]
    model = mv.QuadraticDiscriminant(np.array([1.0, 0.5, 0.2]), a, np.array([1, 2]), 6, "primal")
    s = model.scores(z)
    gap = s[y == 1].mean() - s[y == 0].mean()
    dz = z[y == 1].mean(0) - z[y == 0].mean(0)
    c = z[:, [1, 2]]
    dcc = np.einsum("ij,ik->jk", c[y == 1], c[y == 1]) / 100 - np.einsum("ij,ik->jk", c[y == 0], c[y == 0]) / 100
    quad = (a * dcc).sum(axis=1)  # feature j: its square and half of each of its products
    terms = {"a": 1.0 * dz[0], "b": 0.5 * dz[1] + quad[0] + 0.2 * dz[2] + quad[1]}  # z1 and z2 both from "b"
    assert sum(terms.values()) == pytest.approx(gap, abs=1e-12)
    expected = pd.Series(terms).clip(lower=0)
    got = mv.separation_shares(model, z, y, ["a", "b", "b"])
    pd.testing.assert_series_equal(
        got.sort_index(), (expected / expected.sum()).sort_index(), check_names=False, check_index_type=False
    )


def _domain(ref: pd.DataFrame, cur: pd.DataFrame, **overrides) -> dict:
    cfg = DriftConfig.from_dict({"multivariate": {"n_permutations": 200, **overrides}})
    return mv.domain_classifier(ref, cur, _kinds(ref), None, cfg)


def test_deterministic_and_reports_its_sizes():
    rng = np.random.default_rng(4)
    ref, cur = _table(500, rng), _table(500, rng, corr=0.5)
    a, b = _domain(ref, cur), _domain(ref, cur)
    assert a == b
    assert a["n_test"] == 500 and a["n_reference"] == a["n_current"] == 500 and a["n_features"] > 16


def test_false_alarm_rate_within_alpha():
    """No drift: P(p < alpha) stays within alpha plus a 3-sigma binomial margin (a fresh split each trial)."""
    rng = np.random.default_rng(5)
    trials, alarms = 300, 0  # 1,000 trials of this gave a rate of 0.046
    for t in range(trials):
        cfg = DriftConfig.from_dict({"seed": t, "multivariate": {"n_permutations": 200}})
        ref, cur = _table(200, rng), _table(200, rng)
        alarms += mv.domain_classifier(ref, cur, _kinds(ref), None, cfg)["p_value"] < ALPHA
    assert alarms / trials <= _binomial_bound(ALPHA, trials), alarms


def _pooled_cross_fitted_p(ref: pd.DataFrame, cur: pd.DataFrame, rng: np.random.Generator, folds: int = 5) -> float:
    """The tempting shortcut: k-fold held-out scores pooled, then permuted as if independent."""
    fm = mv.build_features(ref, cur, _kinds(ref), None)
    z, keep = mv._standardise(fm.x)
    cont = np.flatnonzero(fm.continuous[keep])
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    fold = np.empty(y.size, dtype=int)
    for side in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == side))
        fold[idx] = np.arange(idx.size) % folds
    scores = np.empty(y.size)
    with threadpool_limits(limits=1, user_api="blas"):  # see multivariate.py: faster single-threaded
        for f in range(folds):
            model = mv.fit_quadratic(z[fold != f], y[fold != f], cont, 0.1)
            scores[fold == f] = model.scores(z[fold == f])
    auc, null = mv.permutation_auc_null(scores, y.astype(int), 200, rng)
    return float((np.sum(null >= auc) + 1) / (null.size + 1))


def test_control_pooled_cross_fitting_fails_the_same_bound():
    """Each fold's model is fitted on the other folds' labels, so the pooled AUC varies ~sqrt(2)x more
    than the permutation null assumes: false alarms ~3x alpha (0.145 in 200 trials). The bound above can fail."""
    rng = np.random.default_rng(6)
    trials = 300
    alarms = sum(_pooled_cross_fitted_p(_table(200, rng), _table(200, rng), rng) < ALPHA for _ in range(trials))
    assert alarms / trials > _binomial_bound(ALPHA, trials), alarms


def test_power_against_a_correlation_change_no_column_test_sees():
    """Marginals identical, correlation 0 -> 0.6: univariate tests stay quiet, the classifier flags it
    and names the two columns."""
    rng = np.random.default_rng(7)
    cfg = DriftConfig.from_dict({"multivariate": {"n_permutations": 200}})
    trials, hits, quiet = 20, 0, 0
    for _ in range(trials):
        ref, cur = _table(2000, rng), _table(2000, rng, corr=0.6)
        rep = evaluate_drift(summarize_reference(ref, _kinds(ref), cfg), cur, cfg)
        quiet += rep.drifted_columns == []
        m = rep.multivariate
        hits += m["drifted"] and {f["column"] for f in m["top_features"][:2]} == {"n0", "n1"}
    assert hits / trials >= 0.9 and quiet / trials >= 0.9, (hits, quiet)


def test_variance_change_is_flagged_and_attributed():
    rng = np.random.default_rng(8)
    res = _domain(_table(2000, rng), _table(2000, rng, scale5=1.5))
    assert res["drifted"] and res["top_features"][0]["column"] == "n5"


def test_degenerate_inputs_have_defined_outcomes():
    ref = pd.DataFrame({"x": np.ones(100), "c": ["a"] * 100})
    res = mv.domain_classifier(ref, ref.copy(), {"x": "numeric", "c": "categorical"}, None, DriftConfig())
    assert not res["drifted"] and res["n_features"] == 0 and res["auc"] == 0.5 and res["top_features"] == []
    few = mv.domain_classifier(ref.iloc[:5], ref.iloc[:5], {"x": "numeric"}, None, DriftConfig())
    assert few == {"drifted": False, "note": "too few rows for the domain classifier (need 20 per side)"}
    nan = pd.DataFrame({"x": np.r_[np.full(50, np.nan), np.arange(50.0)], "c": [None] * 100})
    res = mv.domain_classifier(
        nan, nan.iloc[::-1].reset_index(drop=True), {"x": "numeric", "c": "categorical"}, None, DriftConfig()
    )
    assert 0.0 <= res["auc"] <= 1.0 and 0.0 < res["p_value"] <= 1.0


def test_one_extreme_value_does_not_hide_a_shift():
    """A single 1e3 in the reference used to squeeze the column after standardising (power 1.0 -> 0.0
    in review); winsorising at pooled quantiles keeps the shift visible. (Power ~0.92 here: 0.94 in
    200 trials; 40 trials with >= 30 hits fail by chance with probability ~1e-3.)"""
    rng = np.random.default_rng(10)
    hits = 0
    for t in range(40):
        ref = pd.DataFrame({"x": rng.normal(size=1000), "z": rng.normal(size=1000)})
        cur = pd.DataFrame({"x": rng.normal(0.3, size=1000), "z": rng.normal(size=1000)})
        ref.loc[0, "x"] = 1e3
        cfg = DriftConfig.from_dict({"seed": t, "multivariate": {"n_permutations": 200}})
        res = mv.domain_classifier(ref, cur, {"x": "numeric", "z": "numeric"}, None, cfg)
        hits += res["drifted"] and res["top_features"][0]["column"] == "x"
    assert hits >= 30, hits


@pytest.mark.parametrize("scale", [1e-13, 1e160], ids=["tiny", "huge"])
def test_scale_of_a_column_does_not_matter(scale):
    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"x": rng.normal(size=1000) * scale})
    cur = pd.DataFrame({"x": rng.normal(1.0, size=1000) * scale})
    res = mv.domain_classifier(ref, cur, {"x": "numeric"}, None, DriftConfig())
    assert res["drifted"] and res["auc"] > 0.7


@pytest.mark.parametrize("sizes", [(20, 20), (20, 2000)])
def test_tiny_test_share_still_holds_out_a_row_per_side(sizes):
    rng = np.random.default_rng(12)
    ref, cur = _table(sizes[0], rng), _table(sizes[1], rng)
    res = _domain(ref, cur, test_share=0.02)
    assert (
        np.isfinite(res["auc"])
        and res["n_test"] >= 2
        and all(np.isfinite(f["importance"]) for f in res["top_features"])
    )


def test_integer_levels_seen_as_floats_are_the_same_levels():
    """An int column with one NaN arrives as floats: 1 and 1.0 must be one level, not drift."""
    rng = np.random.default_rng(13)
    ref = pd.DataFrame({"c": rng.integers(0, 5, 3000)})
    cur = pd.DataFrame({"c": rng.integers(0, 5, 3000).astype(float)})
    cur.loc[0, "c"] = np.nan
    cfg = DriftConfig.from_dict({"multivariate": {"n_permutations": 200}})
    rep = evaluate_drift(summarize_reference(ref, {"c": "categorical"}, cfg), cur, cfg)
    col = rep.to_dict()["columns"]["c"]
    assert not col["drifted"] and col["levels"]["n_unseen"] == 0 and col["tests"]["chi2"]["p_value"] > 1e-3
    assert not rep.multivariate["drifted"]


def test_one_long_level_costs_no_more_than_a_short_one():
    """Ties between top levels are broken by name; sorting the names as a fixed-width numpy string
    array made it n_levels x the longest name (a 100k-character value among 500 levels: ~200 MB)."""
    rng = np.random.default_rng(12)
    levels = np.array([f"l{i}" for i in range(500)] + ["x" * 100_000], dtype=object)
    ref = pd.DataFrame({"c": levels[rng.integers(0, 501, 1000)]})
    cur = pd.DataFrame({"c": levels[rng.integers(0, 501, 1000)]})
    tracemalloc.start()
    try:
        mv.domain_classifier(
            ref, cur, {"c": "categorical"}, None, DriftConfig.from_dict({"multivariate": {"n_permutations": 50}})
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30e6, peak


def test_top_levels_do_not_depend_on_side_order_for_names_numpy_would_equate():
    """numpy strings drop trailing NULs, so "a" and "a\x00" tied; Python strings keep them apart."""
    a = pd.Series(["a"] * 30 + ["a\x00"] * 30 + ["b"] * 30)
    b = pd.Series(["a\x00"] * 30 + ["a"] * 30 + ["b"] * 30)
    first, second = mv._top_level_indicators(a, b), mv._top_level_indicators(b, a)
    np.testing.assert_array_equal(first[:90], second[90:])  # the same rows get the same columns


def test_permutation_memory_is_bounded_whatever_the_held_out_size():
    """Permutations are drawn in blocks sized to the data: 100 x 100,000 keys would be ~170 MB."""
    rng = np.random.default_rng(13)
    scores, y = rng.normal(size=100_000), (rng.random(100_000) < 0.5).astype(np.int64)
    tracemalloc.start()
    try:
        mv.permutation_auc_null(scores, y, 100, rng)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30e6, peak


# ---------------------------------------------------------------- column order, row order, any pair
def _wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion."""
    from driftloop.drift.unseen import wilson_interval as _library_wilson  # the one implementation

    if n <= 0:
        return 0.0, 1.0
    return _library_wilson(hits, n, z)


def _mixed(n: int, rng: np.random.Generator) -> pd.DataFrame:
    df = _table(n, rng)
    df.loc[rng.random(n) < 0.1, "n3"] = np.nan  # a missing indicator
    df.loc[rng.random(n) < 0.05, "c0"] = None
    df.iloc[: n // 10] = df.iloc[n // 10 : 2 * (n // 10)].to_numpy()  # 10% duplicated rows
    return df


@pytest.mark.parametrize(
    "columns, rows",
    [("reversed", "same"), ("same", "shuffled"), ("shuffled", "shuffled")],
    ids=["columns-reversed", "rows-shuffled", "both-shuffled"],
)
def test_same_rows_and_columns_in_any_order_give_identical_results(columns, rows):
    rng = np.random.default_rng(20)
    ref, cur = _mixed(600, rng), _mixed(500, rng)
    cur["n0"] += 0.2
    cols = list(ref.columns)
    cols = cols[::-1] if columns == "reversed" else list(rng.permutation(cols)) if columns == "shuffled" else cols
    ref2, cur2 = ref[cols], cur[cols]
    if rows == "shuffled":
        ref2 = ref2.sample(frac=1, random_state=1).reset_index(drop=True)
        cur2 = cur2.sample(frac=1, random_state=2).reset_index(drop=True)
    kinds2 = {c: _kinds(ref)[c] for c in cols}
    assert _domain(ref2, cur2) == _domain(ref, cur)  # every number, bit for bit, and the feature ranking
    assert mv.domain_classifier(ref2, cur2, kinds2, None, DriftConfig.from_dict({"seed": 1})) == mv.domain_classifier(
        ref, cur, _kinds(ref), None, DriftConfig.from_dict({"seed": 1})
    )
    assert (
        _domain(ref, cur)["auc"]
        != mv.domain_classifier(
            ref, cur, _kinds(ref), None, DriftConfig.from_dict({"seed": 1, "multivariate": {"n_permutations": 200}})
        )["auc"]
    )


def test_row_keys_follow_rows_not_positions_and_split_duplicates_uniformly():
    """Keys are a function of the row, the seed and the side; the k-th copy of a row gets its own
    key. Held out = the 4 smallest keys of 8 rows, three of them identical: over seeds, the number
    of copies held out must be hypergeometric (5, 30, 30, 5) / 70, as for a uniform random split."""
    rng = np.random.default_rng(21)
    x = rng.normal(size=(8, 3))
    x[1] = x[2] = x[0]
    perm = rng.permutation(8)
    assert sorted(mv.row_keys(x, 7, 0)) == sorted(mv.row_keys(x[perm], 7, 0))
    assert np.unique(mv.row_keys(x, 7, 0)).size == 8
    assert not np.intersect1d(mv.row_keys(x, 7, 0), mv.row_keys(x, 7, 1)).size  # sides unrelated
    counts = np.zeros(4, dtype=int)
    for seed in range(7000):
        counts[np.sum(np.argsort(mv.row_keys(x, seed, 0))[:4] < 3)] += 1
    assert stats.chisquare(counts, np.array([5, 30, 30, 5]) / 70 * counts.sum()).pvalue > 1e-3, counts


@pytest.mark.parametrize("g", [1.0, 0.3, 0.0], ids=["all-pairs", "pairs-weighted", "no-pairs"])
def test_primal_and_dual_solvers_fit_the_same_discriminant(g):
    """Explicit quadratic features with ridge (checked against sklearn) = the kernel form."""
    rng = np.random.default_rng(22)
    z = rng.normal(size=(300, 7))
    y = (rng.random(300) < 0.5).astype(float)
    cont = np.array([0, 2, 3, 5, 6])
    rows = (slice(0, 120), slice(180, 300))
    primal = mv.fit_quadratic(z, y, cont, 0.1, rows=rows, pair_weight=g, solver="primal")
    dual = mv.fit_quadratic(z, y, cont, 0.1, rows=rows, pair_weight=g, solver="dual")
    np.testing.assert_allclose(dual.linear, primal.linear, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dual.quadratic, primal.quadratic, rtol=1e-8, atol=1e-12)
    train = np.r_[0:120, 180:300]
    phi = mv.quadratic_features(z[train], cont, g)
    assert phi.shape[1] == primal.n_features == dual.n_features == 7 + 5 + (10 if g else 0)
    c = z[train][:, cont]
    k = z[train] @ z[train].T + 0.5 * (g * (c @ c.T) ** 2 + (1 - g) * (c * c) @ (c * c).T)
    np.testing.assert_allclose(phi @ phi.T, k, rtol=1e-12, atol=1e-12)  # the kernel of the features
    ref = Ridge(alpha=0.1 * train.size, solver="cholesky").fit(phi, y[train])
    gap = primal.scores(z[train]) - phi @ ref.coef_
    np.testing.assert_allclose(gap - gap.mean(), 0.0, atol=1e-10)  # equal up to the intercept


def test_pairs_share_a_fixed_weight_beyond_max_interactions():
    assert mv.pair_weight(20, 20) == mv.pair_weight(5, 20) == 1.0
    assert mv.pair_weight(200, 20) == pytest.approx(190 / 19_900)  # 200 columns' pairs weigh as 20's
    assert mv.pair_weight(3, 0) == 0.0 and mv.pair_weight(1, 0) == 1.0  # no pairs either way
    assert mv.choose_solver(2000, 120, 20) == "primal" and mv.choose_solver(2000, 120, 60) == "dual"


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_a_correlation_change_is_seen_wherever_its_pair_sits(position):
    """22 numeric + 3 categorical columns, correlation 0 -> 0.6 between one pair, marginals unchanged.
    Products of the first 20 continuous features only (before): 20/20 with the pair first, 0/20 last.
    Now every pair enters: the verdict must be "drifted" in >= 19 of 20 replicates (95% Wilson lower
    bound >= 0.76) at every position."""
    rng = np.random.default_rng(23)
    a = {"first": 0, "middle": 10, "last": 20}[position]
    kinds = {**{f"x{k:02d}": "numeric" for k in range(22)}, **{f"c{k}": "categorical" for k in range(3)}}

    def frame(rho: float) -> pd.DataFrame:
        x = rng.normal(size=(2000, 22))
        x[:, a + 1] = rho * x[:, a] + np.sqrt(1 - rho**2) * x[:, a + 1]
        d = {f"x{k:02d}": x[:, k] for k in range(22)}
        d.update({f"c{k}": rng.choice(levels, 2000).astype(str) for k, levels in enumerate((3, 10, 30))})
        return pd.DataFrame(d)

    hits = named = 0
    for t in range(20):
        cfg = DriftConfig.from_dict({"seed": t, "multivariate": {"n_permutations": 200}})
        res = mv.domain_classifier(frame(0.0), frame(0.6), kinds, None, cfg)
        hits += res["drifted"]
        named += {f["column"] for f in res["top_features"][:2]} == {f"x{a:02d}", f"x{a + 1:02d}"}
    assert _wilson(hits, 20)[0] >= 0.76 and named >= 18, (hits, named)


def test_false_alarm_rate_within_alpha_on_a_wide_table_kernel_solver():
    """40 numeric + 2 categorical columns at 150 rows per side: 860 quadratic features for 150
    training rows, so the kernel (dual) form is the one fitted; no drift, P(p < alpha) <= alpha + 3 sigma."""
    rng = np.random.default_rng(24)
    kinds = {**{f"n{k}": "numeric" for k in range(40)}, "c0": "categorical", "c1": "categorical"}

    def frame() -> pd.DataFrame:
        d = {f"n{k}": rng.standard_t(5, 150) for k in range(40)}
        return pd.DataFrame(d | {"c0": rng.choice(list("abc"), 150), "c1": rng.choice(12, 150).astype(str)})

    trials, alarms = 300, 0
    for t in range(trials):
        cfg = DriftConfig.from_dict({"seed": t, "multivariate": {"n_permutations": 200}})
        res = mv.domain_classifier(frame(), frame(), kinds, None, cfg)
        assert res["solver"] == "dual"
        alarms += res["p_value"] < ALPHA
    assert alarms / trials <= _binomial_bound(ALPHA, trials), alarms


def test_a_wide_table_costs_the_kernel_form_not_its_features():
    """200 numeric columns: 20,300 explicit quadratic features, which the kernel form never builds;
    their products together weigh as 20 columns' do, so one column's variance change still shows."""
    rng = np.random.default_rng(25)
    cols = {f"n{k:03d}": "numeric" for k in range(200)}
    ref = pd.DataFrame(rng.normal(size=(2000, 200)), columns=list(cols))
    x = rng.normal(size=(2000, 200))
    x[:, 150] *= 2.0
    cur = pd.DataFrame(x, columns=list(cols))
    tracemalloc.start()
    try:
        res = mv.domain_classifier(
            ref, cur, cols, None, DriftConfig.from_dict({"multivariate": {"n_permutations": 200}})
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res["solver"] == "dual" and res["n_features"] == 200 + 200 * 201 // 2
    assert res["drifted"] and res["top_features"][0]["column"] == "n150"
    assert peak < 100e6, peak
