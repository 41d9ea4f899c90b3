"""Vectorised, seeded, paired bootstrap of column sums, keyed by row identity.

A resample of ``n`` rows is represented by its count vector ``w`` (how often each
row was drawn); any sum over the resample is then ``w @ X``. Blocks of resamples
become one matrix product, so no index arrays are materialised per metric and no
Python loop runs over rows or resamples (only over blocks of resamples, to bound
memory).

Two schemes draw ``w``:

``poisson`` (default)
    Independent Poisson(1) counts, the large-``n`` limit of multinomial counts
    (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for
    massive data streams"). Metrics are ratios normalised by the resample's total
    weight, so the varying total is harmless. Counts come from a 2^16-entry inverse-CDF
    table looked up with 16 random bits: each probability is within 2^-16 of Poisson(1).
``multinomial``
    The textbook bootstrap: ``n`` indices drawn with replacement, counted with
    ``bincount``. Exact, but counting 10^8 draws costs >1 s on a 100,000-row holdout.

Row identity (``keys``, see :func:`row_keys`). With keys, a Poisson count is a pure
function of (seed, row key, resample index): the 16 bits are a SplitMix64 hash
(Steele, Lea & Flood 2014) of the row's key mixed with a 64-bit stream drawn once from
the Generator, stepped by the resample index. The same row gets the same counts
wherever it sits in the holdout and whichever other rows are present, so permuting the
rows permutes the counts with them and every weighted sum is unchanged. Counts stay
Poisson(1) and independent across rows and resamples (tested: moments, pair
independence, the table's distribution). Only the Poisson scheme is keyed: multinomial
counts of one resample sum to ``n``, so a row's count cannot be a function of that row
alone; callers make it order-free by putting the rows in :func:`row_keys`' canonical
order first (then the counts depend on the row *set*, not its order).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftloop.progress import task

__all__ = ["SCHEMES", "bootstrap_sums", "hash_rows", "percentile_interval", "resample_weights", "row_keys"]

Scheme = Literal["poisson", "multinomial"]
SCHEMES: tuple[str, ...] = ("poisson", "multinomial")
#: Elements of the weight block held at once (~16 MB of float32).
_BLOCK_ELEMENTS = 4_000_000
#: The same for keyed counts (~64 MB of float32), whose values do not depend on the block: every
#: product ``w @ X`` packs all of ``X`` again and synchronises BLAS's threads, so a few wide blocks
#: beat many narrow ones (12 resamples a block at 333,000 rows cost ~7x more per resample than 48 on
#: two busy cores). Memory stays near the narrow blocks': those also held an int64 index and the
#: uint64 hashes of every weight, which the keyed counts now make in cache-sized chunks.
_KEYED_BLOCK_ELEMENTS = 16_000_000
# Poisson(1)'s CDF summed in numpy: the same table as from scipy.stats.poisson.cdf (checked equal),
# without importing scipy.stats (~0.5 s) in every process that only parses a CompareConfig.
_POISSON_CDF = np.cumsum([math.exp(-1.0) / math.factorial(k) for k in range(32)])
_POISSON_TABLE = np.searchsorted(_POISSON_CDF, (np.arange(2**16) + 0.5) / 2**16).astype(
    np.float32
)  # float32 directly: the lookup then yields the weights, no extra cast
# The table's steps: the first 16-bit value mapped to each count 1, 2, ... (the lookup is a count of
# the steps a value reaches).
_POISSON_STEPS = tuple(int(i) for i in np.searchsorted(_POISSON_TABLE, np.arange(1, _POISSON_TABLE.max() + 1)))
# SplitMix64's increment (2^64 / golden ratio) and finaliser multipliers (Stafford's "Mix13").
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
#: Poisson counts per 64-bit hash: four 16-bit table indices.
_PER_WORD = 4
#: Hashes mixed at once by the keyed scheme (~256 KB of uint64: they stay in L2 through the mix).
_CHUNK_HASHES = 32_768


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, in place on a uint64 array (numpy array arithmetic wraps mod 2^64)."""
    t = z >> _S30
    z ^= t
    z *= _M1
    np.right_shift(z, _S27, out=t)
    z ^= t
    z *= _M2
    np.right_shift(z, _S31, out=t)
    z ^= t
    return z


def hash_rows(*columns: Any) -> np.ndarray:
    """A 64-bit hash of each row's values (never of its position).

    Parameters
    ----------
    *columns : array-like
        Aligned 1-D columns (any dtype: ids, labels, predictions) or 2-D arrays (one row per
        row, e.g. class probabilities). Hashing is pandas' ``hash_pandas_object`` (SipHash of
        strings with a fixed key, a bijective mix of numbers), so it is the same in every process.

    Returns
    -------
    numpy.ndarray of uint64, one per row

    Examples
    --------
    >>> bool(hash_rows(["a", "b"])[0] == hash_rows(["b", "a"])[1])
    True
    """
    parts: dict[str, Any] = {}
    for i, col in enumerate(columns):
        if isinstance(col, pd.Series):  # keeps extension dtypes (Int64, string); its index is ignored
            parts[str(i)] = col.reset_index(drop=True)
            continue
        arr = np.asarray(col)
        if arr.ndim == 2:
            for j in range(arr.shape[1]):  # a loop over columns, not rows
                parts[f"{i}.{j}"] = arr[:, j]
        else:
            parts[str(i)] = arr
    frame = pd.DataFrame(parts)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def row_keys(
    identity: np.ndarray, tiebreak: np.ndarray | Callable[[], np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical row order and one bootstrap key per row, from each row's identity hash.

    Rows are sorted by identity (then by ``tiebreak``); rows sharing an identity get keys
    ``identity + rank * golden`` by their rank in that order. With the row contents as
    ``tiebreak``, rows that still tie are identical, so which of them gets which key changes
    no weighted sum: the result depends on the rows, never on their order.

    Parameters
    ----------
    identity : numpy.ndarray of uint64
        E.g. :func:`hash_rows` of the id column, or of the rows' contents when there is none.
    tiebreak : numpy.ndarray of uint64 or a callable returning one, optional
        Orders rows of equal identity (a callable is only evaluated when identities repeat).

    Returns
    -------
    order : numpy.ndarray of int
        ``rows[order]`` is the canonical order.
    keys : numpy.ndarray of uint64
        The key of each row in canonical order (distinct unless 64-bit hashes collide).
    """
    ident = np.asarray(identity, dtype=np.uint64)
    order = np.argsort(ident, kind="stable")
    s = ident[order]
    if s.size > 1 and (s[1:] == s[:-1]).any():
        if tiebreak is not None:
            tb = np.asarray(tiebreak() if callable(tiebreak) else tiebreak, dtype=np.uint64)
            order = np.lexsort((tb, ident))
            s = ident[order]
        idx = np.arange(s.size)
        first = np.maximum.accumulate(np.where(np.r_[True, s[1:] != s[:-1]], idx, 0))
        s = s + (idx - first).astype(np.uint64) * _GOLDEN
    return order, s


def _keyed_poisson(state: np.ndarray, start: int, b: int, buffers: dict | None = None) -> np.ndarray:
    """Poisson(1) counts of resamples ``start .. start+b-1`` for rows with mixed keys ``state``.

    Resample ``r`` of a row reads 16 bits (chunk ``r % 4``) of ``mix(state + (r // 4 + 1) * golden)``:
    SplitMix64's stream seeded by the row's state, so a count depends on (seed, key, r) only.
    Returns a (b, n) view of an (n, b) array: a row's four counts from one hash are adjacent, so
    the table lookup reads and writes contiguously, and ``w @ X`` hands BLAS a transposed operand
    (no copy).

    The hashes are made in chunks of rows small enough to stay in the CPU cache (the mixing makes
    seven passes over them): every count is element-wise, so chunking changes no count, only how
    often the passes go to main memory (half the time at 333,000 rows).
    """
    w0, w1 = start // _PER_WORD, -(-(start + b) // _PER_WORD)
    steps = (np.arange(w0, w1, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
    n, words = state.size, w1 - w0
    # With ``buffers`` (bootstrap_sums, which is done with a block before it asks for the next) the
    # counts of every block of one shape go to the same array: a fresh 64 MB each block cost the
    # kernel's page faults and zeroing on every write (about a third of the time making counts).
    shape = (n, words * _PER_WORD)
    counts = None if buffers is None else buffers.get(shape)
    if counts is None:
        if buffers is not None:
            buffers.clear()  # the last, shorter block replaces the array instead of joining it
        counts = np.empty(shape, dtype=np.float32)
        if buffers is not None:
            buffers[shape] = counts
    rows = max(1, _CHUNK_HASHES // max(words, 1))
    z_buf = np.empty(min(n, rows) * words, dtype=np.uint64)
    acc_buf = np.empty(min(n, rows) * words * _PER_WORD, dtype=np.uint8)
    hit_buf = np.empty(acc_buf.size, dtype=bool)
    for lo in range(0, n, rows):  # a loop over chunks of rows, not rows
        hi = min(n, lo + rows)
        z = z_buf[: (hi - lo) * words].reshape(hi - lo, words)
        np.add.outer(state[lo:hi], steps, out=z)
        _mix(z)
        # Little-endian chunks, so the counts are the same on every platform.
        bits = z.astype("<u8", copy=False).view("<u2").reshape(hi - lo, -1)
        # The table lookup as a count of the thresholds reached (table[u] = #{k: u >= first index of
        # k}, the table being non-decreasing): a few comparisons of 16-bit values in cache, ~2x
        # faster than gathering through a 256 KB table.
        acc = acc_buf[: bits.size].reshape(bits.shape)
        hit = hit_buf[: bits.size].reshape(bits.shape)
        np.greater_equal(bits, _POISSON_STEPS[0], out=hit)
        np.copyto(acc, hit.view(np.uint8))
        for step in _POISSON_STEPS[1:]:  # a loop over the table's 8 steps, not rows
            np.greater_equal(bits, step, out=hit)
            acc += hit.view(np.uint8)
        np.copyto(counts[lo:hi], acc, casting="unsafe")
    off = start - w0 * _PER_WORD
    return counts[:, off : off + b].T


def resample_weights(
    n: int,
    n_boot: int,
    rng: np.random.Generator,
    scheme: Scheme = "poisson",
    block: int | None = None,
    keys: np.ndarray | None = None,
) -> Iterator[np.ndarray]:
    """Yield blocks of resample count vectors, shape (b, n) float32, ``n_boot`` rows in all.

    Parameters
    ----------
    n : int
        Rows in the sample.
    n_boot : int
        Resamples to draw.
    rng : numpy.random.Generator
        The only source of randomness (no global seeding). With ``keys`` one 64-bit stream
        value is drawn from it.
    scheme : {"poisson", "multinomial"}
    block : int, optional
        Resamples per block; by default sized to about 4 million weights (16 million with
        ``keys``). With ``keys`` the counts do not depend on it.
    keys : numpy.ndarray of uint64, optional
        One key per row (:func:`row_keys`), Poisson only: each count is then a function of
        (the stream drawn from ``rng``, the row's key, the resample index), not of the row's
        position. Without keys the counts follow row positions.

    Raises
    ------
    ValueError
        An unknown scheme, keys with the multinomial scheme, or ``len(keys) != n``.
    """
    return _blocks(n, n_boot, rng, scheme, block, keys, None)


def _blocks(
    n: int,
    n_boot: int,
    rng: np.random.Generator,
    scheme: Scheme,
    block: int | None,
    keys: np.ndarray | None,
    buffers: dict | None,
) -> Iterator[np.ndarray]:
    """:func:`resample_weights`; with ``buffers``, keyed blocks of one shape share one array, so a
    block is only valid until the next is asked for (what :func:`bootstrap_sums` needs)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}. Got {scheme!r} instead.")
    state = None
    if keys is not None:
        if scheme != "poisson":
            raise ValueError(
                "keys apply to the 'poisson' scheme only: multinomial counts of a resample sum to n, "
                "so a row's count cannot depend on that row alone. Put the rows in row_keys' "
                "canonical order instead."
            )
        if len(keys) != n:
            raise ValueError(f"keys must hold one key per row ({n}). Got {len(keys)} instead.")
        stream = rng.integers(0, 2**64, dtype=np.uint64)
        state = _mix(np.asarray(keys, dtype=np.uint64) ^ stream)
    # Unkeyed counts follow the generator's stream block by block, so their block size stays fixed.
    budget = _BLOCK_ELEMENTS if state is None else _KEYED_BLOCK_ELEMENTS
    block = block or max(1, min(n_boot, budget // max(n, 1)))
    if state is not None and block < n_boot:
        block = max(_PER_WORD, block - block % _PER_WORD)  # whole hash words per block
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        if state is not None:
            w = _keyed_poisson(state, done, b, buffers)
        elif scheme == "poisson":
            # 16 random bits per weight, straight from the bit generator (random_raw is ~5x faster
            # than Generator.bytes), mapped through the Poisson(1) inverse-CDF table.
            words = rng.bit_generator.random_raw(-(-b * n // 4))
            bits = words.view(np.uint16)[: b * n]
            w = _POISSON_TABLE[bits].reshape(b, n)
        else:
            idx = rng.integers(0, n, size=(b, n), dtype=np.int64)
            idx += (np.arange(b, dtype=np.int64) * n)[:, None]
            w = np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float32)
        done += b
        yield w
        del w  # the next block is made without this one held here (one block of memory, not two)


def bootstrap_sums(
    columns: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    scheme: Scheme = "poisson",
    keys: np.ndarray | None = None,
) -> np.ndarray:
    """Weighted column sums of every resample.

    Parameters
    ----------
    columns : numpy.ndarray, shape (n, p)
        Per-row columns (both models side by side, so each resample is paired).
    n_boot : int
    rng : numpy.random.Generator
    scheme : {"poisson", "multinomial"}
    keys : numpy.ndarray of uint64, optional
        Row keys (Poisson only): the counts follow row identity, not position
        (see :func:`resample_weights`).

    Returns
    -------
    numpy.ndarray, shape (n_boot, p), float64

    Examples
    --------
    A column of ones sums to each resample's size (about n on average under Poisson weights):

    >>> X = np.column_stack([np.ones(50), np.arange(50.0)])
    >>> sums = bootstrap_sums(X, 1000, np.random.default_rng(0))
    >>> sums.shape, round(float(sums[:, 0].mean()))
    ((1000, 2), 50)
    """
    n, p = columns.shape
    # float32 halves memory traffic in the product; sums of <= 10^6 terms keep ~6
    # significant digits, far below bootstrap noise. Confusion counts stay exact (< 2^24).
    x32 = np.ascontiguousarray(columns, dtype=np.float32)
    out = np.empty((n_boot, p), dtype=np.float64)
    row = 0
    # A bar over the resamples on a terminal (driftloop.console installs it); a no-op elsewhere.
    with task(n_boot, "bootstrap", "resample") as advance:
        for w in _blocks(n, n_boot, rng, scheme, None, keys, {}):  # each block used before the next
            out[row : row + len(w)] = w @ x32
            row += len(w)
            advance(len(w))
            del w  # nor held here while the generator makes the next
    return out


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval over resamples, ignoring undefined (NaN) resamples."""
    alpha = (1 - confidence) / 2
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)
