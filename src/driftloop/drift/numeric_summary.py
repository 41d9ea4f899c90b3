"""Numeric columns' summaries: the reference's cells, the current side's counts over them.

Why cells
---------
The reference is summarised by a sorted grid ``g_0 < ... < g_{K-1}`` and counts in ``2K + 1`` cells:
cell ``2j + 1`` holds values equal to ``g_j``; cell ``2j`` holds values strictly between ``g_{j-1}``
and ``g_j`` (cell 0 below ``g_0``, cell ``2K`` above ``g_{K-1}``). A current chunk is mapped to the
same cells with one ``searchsorted`` and counted with ``bincount``, so chunk summaries merge by
addition and memory does not grow with rows.

The grid is every distinct reference value while there are at most ``exact_max_values`` of them
(the *exact* path), else ``sketch_size`` evenly spaced order statistics (the *sketch*); what that
means for KS is in :mod:`driftloop.drift.ks`. The tests on these summaries are in
:mod:`driftloop.drift.numeric`.

Non-finite values (NaN, None, +-inf) are excluded from the distribution tests and counted as missing
(``n_inf`` reports the infinities separately); the missing-rate test then sees them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftloop.drift._codec import decode_array, encode_array, jfloat


def as_float(values: Any) -> np.ndarray:
    """Values as float64, with None / pd.NA / unparsable entries as NaN."""
    import pandas as pd

    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    s = pd.Series(values)
    if s.dtype.kind in "fiub":
        return s.to_numpy(dtype=np.float64)
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def power_of_two_above(m: float) -> float:
    """The smallest power of two >= ``m`` (1 for ``m <= 0`` or non-finite): dividing by it is exact."""
    if not (m > 0 and math.isfinite(m)):
        return 1.0
    frac, exp = math.frexp(m)  # m = frac * 2^exp, 0.5 <= frac < 1
    return math.ldexp(1.0, exp - 1 if frac == 0.5 else exp)


def scaled_moments(x: np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation of finite ``x`` without overflow.

    Computed on ``x / s`` with ``s`` the power of two at or above ``max |x|`` (exact scaling), then
    scaled back: squaring values near 1e300 overflowed to an infinite standard deviation (and the
    Wasserstein statistic, divided by it, read 0). The standard deviation is still infinite where
    it truly exceeds the largest float (~1.8e308), e.g. values spread over +-1.7e308.
    """
    s = power_of_two_above(float(np.max(np.abs(x)))) if x.size else 1.0
    xs = x / s
    return float(xs.mean()) * s, float(xs.std()) * s


def cell_index(grid: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cell of each finite value: ``2j + 1`` if ``x == grid[j]``, else ``2j`` (j = insertion point)."""
    j = np.searchsorted(grid, x, side="left")
    eq = grid.take(np.minimum(j, grid.size - 1)) == x
    return 2 * j + eq


def sorted_cells(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and sums of the sorted finite values ``x`` in the ``2 * grid.size + 1`` cells.

    Same cells as :func:`cell_index` + ``bincount``, but from the sorted values: two searches of the
    grid into ``x`` give every cell boundary, so the per-value cost is one sort instead of a binary
    search of a 4,096-point grid (several times faster) and cell sums are contiguous slices.
    """
    bounds = np.empty(2 * grid.size + 2, np.int64)
    bounds[0], bounds[-1] = 0, x.size
    bounds[1:-1:2] = np.searchsorted(x, grid, side="left")
    bounds[2:-1:2] = np.searchsorted(x, grid, side="right")
    counts = np.diff(bounds)
    sums = np.zeros(counts.size)
    full = counts > 0
    with np.errstate(over="ignore"):  # values ~1e304 and up: an infinite sum (cell_positions handles it)
        sums[full] = np.add.reduceat(x, bounds[:-1][full])
    return counts, sums


@dataclass(frozen=True)
class NumericReference:
    """Summary of a numeric reference column (see module docstring)."""

    n_total: int
    n_missing: int
    n_inf: int
    mean: float | None
    std: float | None
    grid: np.ndarray
    cells: np.ndarray
    cell_sums: np.ndarray
    bin_starts: np.ndarray
    exact: bool

    kind = "numeric"

    @property
    def n(self) -> int:
        """Finite values."""
        return self.n_total - self.n_missing

    @classmethod
    def build(
        cls, values: Any, n_bins: int = 10, exact_max_values: int = 20_000, sketch_size: int = 4096
    ) -> NumericReference:
        x = as_float(values)
        n_total = int(x.size)
        finite = np.isfinite(x)
        n_inf = int(np.isinf(x).sum())
        x = np.sort(x[finite])
        n = int(x.size)
        if n == 0:
            empty = np.zeros(0)
            return cls(
                n_total,
                n_total,
                n_inf,
                None,
                None,
                empty,
                np.zeros(1, np.int64),
                np.zeros(1),
                np.zeros(1, np.int64),
                True,
            )
        uniq_mask = np.empty(n, bool)
        uniq_mask[0] = True
        np.not_equal(x[1:], x[:-1], out=uniq_mask[1:])
        k = int(uniq_mask.sum())
        if k <= exact_max_values:
            grid = x[uniq_mask]
            counts = np.diff(np.append(np.flatnonzero(uniq_mask), n))
            cells: np.ndarray = np.zeros(2 * k + 1, np.int64)
            cells[1::2] = counts
            sums: np.ndarray = np.zeros(2 * k + 1)
            sums[1::2] = grid * counts
            exact = True
        else:
            pos = np.unique(np.round(np.linspace(0, n - 1, sketch_size)).astype(np.int64))
            grid = np.unique(x[pos])
            c = cell_index(grid, x)
            cells = np.bincount(c, minlength=2 * grid.size + 1).astype(np.int64)
            sums = np.bincount(c, weights=x, minlength=2 * grid.size + 1)
            exact = False
        # left-closed bins [e_k, e_k+1): edge k is the order statistic with k n / n_bins values below it
        # (so, without ties, every interior bin holds n / n_bins reference values); edges are data values
        levels = np.arange(1, n_bins) / n_bins
        q = x[np.clip(np.floor(levels * n).astype(np.int64), 0, n - 1)]
        idx = np.unique(np.concatenate([[0], np.searchsorted(grid, q, side="left")]))
        idx = idx[idx < grid.size]
        bin_starts = np.concatenate([[0], 2 * idx + 1, [2 * grid.size]]).astype(np.int64)
        mean, std = scaled_moments(x)
        return cls(n_total, n_total - n, n_inf, mean, std, grid, cells, sums, bin_starts, exact)

    def to_tree(self) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "n_total": self.n_total,
            "n_missing": self.n_missing,
            "n_inf": self.n_inf,
            "mean": jfloat(self.mean),
            "std": jfloat(self.std),
            "exact": self.exact,
            "grid": encode_array(self.grid),
            "cells": encode_array(self.cells),
            "cell_sums": encode_array(self.cell_sums),
            "bin_starts": encode_array(self.bin_starts),
        }

    @classmethod
    def from_tree(cls, d: dict[str, Any]) -> NumericReference:
        return cls(
            d["n_total"],
            d["n_missing"],
            d["n_inf"],
            d["mean"],
            d["std"],
            decode_array(d["grid"]),
            decode_array(d["cells"]),
            decode_array(d["cell_sums"]),
            decode_array(d["bin_starts"]),
            d["exact"],
        )

    def accumulator(self) -> NumericAccumulator:
        return NumericAccumulator(self.grid)


@dataclass
class NumericAccumulator:
    """Mergeable current-side counts over the reference cells."""

    grid: np.ndarray
    n_total: int = 0
    n_missing: int = 0
    n_inf: int = 0
    cells: np.ndarray = field(default=None)  # type: ignore[arg-type]  # set in __post_init__
    cell_sums: np.ndarray = field(default=None)  # type: ignore[arg-type]  # set in __post_init__

    def __post_init__(self) -> None:
        m = 2 * self.grid.size + 1
        if self.cells is None:
            self.cells = np.zeros(m, np.int64)
            self.cell_sums = np.zeros(m)

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    def update(self, values: Any) -> NumericAccumulator:
        x = np.sort(as_float(values))  # NaN sort last, -inf first, +inf just before the NaNs
        self.n_total += int(x.size)
        lo = int(np.searchsorted(x, -np.inf, side="right"))
        hi, end = (int(i) for i in np.searchsorted(x, [np.inf, np.nan], side="left"))
        self.n_missing += int(x.size) - (hi - lo)
        self.n_inf += lo + (end - hi)
        x = x[lo:hi]
        if x.size == 0:
            return self
        if self.grid.size == 0:  # empty reference: everything is "outside"
            self.cells[0] += x.size
            self.cell_sums[0] += x.sum()
            return self
        counts, sums = sorted_cells(self.grid, x)
        self.cells += counts
        self.cell_sums += sums
        return self

    def merge(self, other: NumericAccumulator) -> NumericAccumulator:
        self.n_total += other.n_total
        self.n_missing += other.n_missing
        self.n_inf += other.n_inf
        self.cells += other.cells
        self.cell_sums += other.cell_sums
        return self


@dataclass(frozen=True)
class NumericComparison:
    """A reference and a current summary, ready for the registered numeric tests."""

    ref: NumericReference
    cur: NumericAccumulator

    @property
    def empty_note(self) -> str | None:
        if self.ref.n == 0:
            return "no finite reference values"
        if self.cur.n == 0:
            return "no finite current values"
        return None

    def binned(self) -> tuple[np.ndarray, np.ndarray]:
        starts = self.ref.bin_starts
        return np.add.reduceat(self.ref.cells, starts), np.add.reduceat(self.cur.cells, starts)

    def histogram(self) -> dict[str, Any]:
        """Bin edges and proportions for plots (JSON-safe)."""
        if self.empty_note or self.ref.grid.size == 0:
            return {}
        r, c = self.binned()
        g = self.ref.grid
        edges = [float(g[(s - 1) // 2]) for s in self.ref.bin_starts[1:-1]] + [float(g[-1])]
        return {
            "edges": edges,
            "reference": (r / max(r.sum(), 1)).tolist(),
            "current": (c / max(c.sum(), 1)).tolist(),
            "labels": ["< min"] + [f"[{edges[i]:.4g}, {edges[i + 1]:.4g})" for i in range(len(edges) - 1)] + ["> max"],
        }
