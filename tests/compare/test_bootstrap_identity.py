"""The keyed Poisson bootstrap made in cache-sized chunks, with threshold counts instead of a table
gather and wider blocks, gives bit for bit the sums of the implementation it replaced (kept below
as the reference: one (n, words) hash array a block, a table lookup, 4 million weights a block)."""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.compare import bootstrap
from driftloop.compare.bootstrap import (
    _GOLDEN,
    _PER_WORD,
    _POISSON_STEPS,
    _POISSON_TABLE,
    _mix,
    bootstrap_sums,
    hash_rows,
    resample_weights,
    row_keys,
)


def _reference_keyed_poisson(state: np.ndarray, start: int, b: int) -> np.ndarray:
    w0, w1 = start // _PER_WORD, -(-(start + b) // _PER_WORD)
    steps = (np.arange(w0, w1, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
    z = _mix(np.add.outer(state, steps))
    counts = _POISSON_TABLE[z.astype("<u8", copy=False).view("<u2").reshape(state.size, -1)]
    off = start - w0 * _PER_WORD
    return counts[:, off : off + b].T


def _reference_sums(columns: np.ndarray, n_boot: int, seed: int, keys: np.ndarray) -> np.ndarray:
    n, p = columns.shape
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, 2**64, dtype=np.uint64)
    state = _mix(np.asarray(keys, dtype=np.uint64) ^ stream)
    block = max(1, min(n_boot, 4_000_000 // max(n, 1)))
    if block < n_boot:
        block = max(_PER_WORD, block - block % _PER_WORD)
    x32 = np.ascontiguousarray(columns, dtype=np.float32)
    out = np.empty((n_boot, p), dtype=np.float64)
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        out[done : done + b] = _reference_keyed_poisson(state, done, b) @ x32
        done += b
    return out


def _columns(n: int, seed: int = 0) -> np.ndarray:
    # Like compare's: one-hot confusion cells (exact in any order) and real-valued loss columns (not).
    rng = np.random.default_rng(seed)
    cells = np.zeros((n, 9))
    cells[np.arange(n), rng.integers(0, 9, n)] = 1.0
    return np.hstack([cells, rng.exponential(size=(n, 2)), rng.uniform(-1, 1, size=(n, 10))] * 2)


def test_the_threshold_count_is_the_table_for_every_16_bit_value():
    u = np.arange(2**16)
    counts = sum((u >= step).astype(np.float32) for step in _POISSON_STEPS)
    assert np.array_equal(counts, _POISSON_TABLE)


@pytest.mark.parametrize("n", [1, 7, 300, 5_000])
def test_keyed_counts_equal_the_reference_in_any_chunking(n, monkeypatch):
    keys = row_keys(hash_rows(np.arange(n)))[1]
    state = _mix(keys ^ np.uint64(0x1234_5678_9ABC_DEF0))
    for chunk in (1, 5, 64, 32_768):  # rows per chunk = chunk // words: one row, ragged, all at once
        monkeypatch.setattr(bootstrap, "_CHUNK_HASHES", chunk)
        for start, b in ((0, 1), (0, 4), (3, 10), (8, 48), (13, 7)):
            assert np.array_equal(bootstrap._keyed_poisson(state, start, b), _reference_keyed_poisson(state, start, b))


@pytest.mark.parametrize(
    ("n", "n_boot"), [(300, 200), (30_000, 1000), (100_000, 500)], ids=["300 rows", "30k rows", "100k rows"]
)
def test_keyed_bootstrap_sums_are_bit_identical_to_the_reference(n, n_boot):
    # 30k rows: the old blocks held 132 resamples, the new ones 532 (other BLAS calls, the same sums).
    # 100k rows: three blocks of 160 share one array, then a ragged one of 20 its own.
    keys = row_keys(hash_rows(np.arange(n) * 7 + 3))[1]
    x = _columns(n)
    new = bootstrap_sums(x, n_boot, np.random.default_rng(11), keys=keys)
    assert np.array_equal(new, _reference_sums(x, n_boot, 11, keys))
    assert not np.array_equal(new, _reference_sums(x, n_boot, 12, keys))  # the comparison can fail


def test_unkeyed_blocks_keep_their_old_size():
    # Without keys the counts follow the generator's stream block by block: the block must not grow.
    w = list(resample_weights(100_000, 100, np.random.default_rng(0)))
    assert [len(b) for b in w] == [40, 40, 20]
