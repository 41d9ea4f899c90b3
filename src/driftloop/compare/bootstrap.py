"""Vectorised, seeded, paired bootstrap of column sums.

A resample of ``n`` rows is represented by its count vector ``w`` (how often each
row was drawn); any sum over the resample is then ``w @ X``. Blocks of resamples
become one matrix product, so no index arrays are materialised per metric and no
Python loop runs over rows or resamples (only over blocks of resamples, to bound
memory).

Two schemes draw ``w``:

``multinomial``
    The textbook bootstrap: ``n`` indices drawn with replacement, counted with
    ``bincount``. Exact, but counting 10^8 draws costs >1 s on a 100,000-row holdout.
``poisson`` (default)
    Independent Poisson(1) counts, the large-``n`` limit of multinomial counts
    (Hanley & MacGibbon 2006; Chamandy et al. 2012, "Estimating uncertainty for
    massive data streams"). Metrics are ratios normalised by the resample's total
    weight, so the varying total is harmless. Counts come from a 2^16-entry inverse-CDF
    table looked up with 16 random bits per row: each probability is within 2^-16 of
    Poisson(1), and it is ~4x faster than ``bincount``.
"""

from __future__ import annotations

from typing import Iterator, Literal

import numpy as np
from scipy.stats import poisson

__all__ = ["SCHEMES", "resample_weights", "bootstrap_sums", "percentile_interval"]

Scheme = Literal["poisson", "multinomial"]
SCHEMES: tuple[str, ...] = ("poisson", "multinomial")
#: Elements of the weight block held at once (~16 MB of float32).
_BLOCK_ELEMENTS = 4_000_000
_POISSON_TABLE = np.searchsorted(
    poisson.cdf(np.arange(32), 1.0), (np.arange(2**16) + 0.5) / 2**16
).astype(np.float32)  # float32 directly: the lookup then yields the weights, no extra cast


def resample_weights(n: int, n_boot: int, rng: np.random.Generator, scheme: Scheme = "poisson",
                     block: int | None = None) -> Iterator[np.ndarray]:
    """Yield blocks of resample count vectors, shape (b, n) float32, ``n_boot`` rows in all.

    Parameters
    ----------
    n : int
        Rows in the sample.
    n_boot : int
        Resamples to draw.
    rng : numpy.random.Generator
        The only source of randomness (no global seeding).
    scheme : {"poisson", "multinomial"}
    block : int, optional
        Resamples per block; by default sized to about 4 million weights.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}. Got {scheme!r} instead.")
    block = block or max(1, min(n_boot, _BLOCK_ELEMENTS // max(n, 1)))
    done = 0
    while done < n_boot:
        b = min(block, n_boot - done)
        if scheme == "poisson":
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


def bootstrap_sums(columns: np.ndarray, n_boot: int, rng: np.random.Generator,
                   scheme: Scheme = "poisson") -> np.ndarray:
    """Weighted column sums of every resample.

    Parameters
    ----------
    columns : numpy.ndarray, shape (n, p)
        Per-row columns (both models side by side, so each resample is paired).
    n_boot : int
    rng : numpy.random.Generator
    scheme : {"poisson", "multinomial"}

    Returns
    -------
    numpy.ndarray, shape (n_boot, p), float64

    Examples
    --------
    >>> sums = bootstrap_sums(X, 1000, np.random.default_rng(0))  # doctest: +SKIP
    """
    n, p = columns.shape
    # float32 halves memory traffic in the product; sums of <= 10^6 terms keep ~6
    # significant digits, far below bootstrap noise. Confusion counts stay exact (< 2^24).
    x32 = np.ascontiguousarray(columns, dtype=np.float32)
    out = np.empty((n_boot, p), dtype=np.float64)
    row = 0
    for w in resample_weights(n, n_boot, rng, scheme):
        out[row: row + len(w)] = w @ x32
        row += len(w)
    return out


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval over resamples, ignoring undefined (NaN) resamples."""
    alpha = (1 - confidence) / 2
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, [alpha, 1 - alpha])
    return float(low), float(high)
