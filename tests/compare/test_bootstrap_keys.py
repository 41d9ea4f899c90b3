"""Identity-keyed Poisson bootstrap: a count is a function of (seed, row key, resample index),
and the counts keep the Poisson(1) scheme's properties (mean 1, variance 1, independent across
rows and resamples)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftloop.compare.bootstrap import _POISSON_TABLE, bootstrap_sums, hash_rows, resample_weights, row_keys

_MASK = 2**64 - 1


def _mix(z: int) -> int:
    """SplitMix64's finaliser on a Python int (the reference the vectorised code must match)."""
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & _MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _reference_count(seed: int, key: int, r: int) -> float:
    stream = int(np.random.default_rng(seed).integers(0, 2**64, dtype=np.uint64))
    state = _mix(key ^ stream)
    word = _mix((state + (r // 4 + 1) * 0x9E3779B97F4A7C15) & _MASK)
    return float(_POISSON_TABLE[(word >> (16 * (r % 4))) & 0xFFFF])


def _weights(keys: np.ndarray, n_boot: int, seed: int = 0, block: int | None = None) -> np.ndarray:
    return np.vstack(
        list(resample_weights(len(keys), n_boot, np.random.default_rng(seed), "poisson", block, keys=keys))
    )


def _keys(n: int, kind: str = "int") -> np.ndarray:
    ids = np.arange(n) if kind == "int" else np.array([f"customer-{i:07d}" for i in range(n)])
    return row_keys(hash_rows(ids))[1]


@pytest.mark.parametrize("block", [None, 1, 3, 4, 7], ids=lambda b: f"block={b}")
def test_a_count_is_a_function_of_seed_key_and_resample_index(block):
    keys = _keys(50)
    w = _weights(keys, 23, seed=7, block=block)
    rng = np.random.default_rng(0)
    for i, r in zip(rng.integers(0, 50, 40), rng.integers(0, 23, 40), strict=True):  # a loop over sampled cells
        assert w[r, i] == _reference_count(7, int(keys[i]), int(r))


def test_counts_follow_the_rows_not_their_positions_or_neighbours():
    keys = _keys(500)
    w = _weights(keys, 64)
    perm = np.random.default_rng(1).permutation(500)
    assert np.array_equal(_weights(keys[perm], 64), w[:, perm])
    subset = np.sort(np.random.default_rng(2).choice(500, 120, replace=False))
    assert np.array_equal(_weights(keys[subset], 64), w[:, subset])  # other rows do not matter
    assert not np.array_equal(_weights(keys, 64, seed=1), w)  # another seed, other resamples
    x = np.random.default_rng(3).normal(size=(500, 2))
    # The same sums up to float32 rounding (compare sorts rows canonically, so there they are bitwise equal).
    assert np.allclose(
        bootstrap_sums(x[perm], 64, np.random.default_rng(0), keys=keys[perm]),
        bootstrap_sums(x, 64, np.random.default_rng(0), keys=keys),
        rtol=1e-5,
        atol=1e-4,
    )


@pytest.mark.parametrize("kind", ["int", "str"])
def test_counts_are_poisson_1(kind):
    w = _weights(_keys(4000, kind), 500).ravel().astype(np.float64)  # 2 million counts
    se = 1 / np.sqrt(w.size)
    assert abs(w.mean() - 1) < 5 * se  # Poisson(1): mean 1, sd 1
    assert abs(w.var() - 1) < 5 * np.sqrt(2 + 1) * se  # var of (X-1)^2 is mu4 - 1 = 3 for Poisson(1)
    # The whole distribution: chi-squared against Poisson(1), counts >= 5 pooled.
    observed = np.bincount(np.minimum(w.astype(int), 5), minlength=6)
    p = stats.poisson.pmf(np.arange(6), 1.0)
    p[5] = stats.poisson.sf(4, 1.0)
    assert stats.chisquare(observed, p * w.size).pvalue > 1e-3


@pytest.mark.parametrize("kind", ["int", "str"])
def test_counts_are_independent_across_resamples(kind):
    # Every pair of resamples, including the four that share one 64-bit hash word.
    w = _weights(_keys(20_000, kind), 64).astype(np.float64)
    c = np.corrcoef(w)[np.triu_indices(64, 1)]
    assert np.abs(c).max() < 5 / np.sqrt(20_000)
    assert abs(c.mean()) < 5 / np.sqrt(20_000 * c.size)


@pytest.mark.parametrize("kind", ["int", "str"])
def test_counts_are_independent_across_rows(kind):
    # Neighbouring ids (0, 1, 2, ...) and neighbours in the canonical order.
    w = _weights(_keys(200, kind), 3000).astype(np.float64)
    c = np.corrcoef(w.T)[np.triu_indices(200, 1)]
    assert np.abs(c).max() < 5.5 / np.sqrt(3000)
    assert abs(c.mean()) < 5 / np.sqrt(3000 * c.size)
    # Joint distribution of a row's and its neighbour's count: a chi-squared test of independence.
    a, b = np.minimum(w[:, :-1], 3).astype(int).ravel(), np.minimum(w[:, 1:], 3).astype(int).ravel()
    table = np.zeros((4, 4))
    np.add.at(table, (a, b), 1)
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_bootstrap_spread_of_a_mean_is_right_with_keys():
    x = np.random.default_rng(5).normal(0, 1, (2000, 1))
    keys = _keys(2000, "str")
    sums = bootstrap_sums(np.hstack([x, np.ones_like(x)]), 800, np.random.default_rng(1), keys=keys)
    means = sums[:, 0] / sums[:, 1]
    assert means.std() == pytest.approx(x.std() / np.sqrt(2000), rel=0.1)


def test_repeated_ids_get_distinct_keys_and_identical_rows_may_swap():
    ids = np.array(["a", "b", "a", "c", "a"])
    content = hash_rows(np.array([1, 2, 3, 4, 3]))
    order, keys = row_keys(hash_rows(ids), content)
    assert len(set(keys.tolist())) == 5
    perm = np.array([4, 3, 2, 1, 0])
    order_p, keys_p = row_keys(hash_rows(ids[perm]), content[perm])
    assert np.array_equal(keys_p, keys)
    # The rows in canonical order are the same rows (rows 2 and 4 are identical: either may come first).
    assert np.array_equal(content[perm][order_p], content[order])


def test_keys_need_the_poisson_scheme_and_one_per_row():
    with pytest.raises(ValueError, match="poisson"):
        next(resample_weights(3, 10, np.random.default_rng(0), "multinomial", keys=_keys(3)))
    with pytest.raises(ValueError, match=r"one key per row \(4\)"):
        next(resample_weights(4, 10, np.random.default_rng(0), keys=_keys(3)))
