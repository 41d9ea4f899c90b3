"""The two-sample Kolmogorov-Smirnov statistic from cells, its bound on a sketch, and its p-value.

The cells are :mod:`driftloop.drift.numeric_summary`'s: a grid of reference values, each grid point
a cell of its own and an open cell between two of them.

* **Exact path** (the reference has at most ``exact_max_values`` distinct finite values): the grid is
  every distinct reference value. Both ECDFs are then known exactly at every data point of either
  sample (between two reference values the reference ECDF is flat, so the supremum of the difference
  sits at a cell end), and the KS statistic equals ``scipy.stats.ks_2samp``'s; the p-value uses the
  same method as scipy's ``method="auto"`` (exact distribution for max(n1, n2) <= 10000, through
  ``ks_2samp`` itself: :func:`scipy_exact_pvalue`; else ``kstwo.sf(D, round(n1 n2 / (n1 + n2)))``).
  Where that is ``2 * scipy.special.smirnov`` at 20,000 < n <= 10^6 (p < 0.025), :func:`smirnov_sf`
  evaluates the same sum vectorised: scipy's term-by-term double-double loop takes ~0.8 s at
  n = 475,000 while holding the GIL.
* **Sketch path** (more distinct values): the grid is ``sketch_size`` evenly spaced order statistics
  of the reference (min and max included). Both ECDFs are exact at every cell end, so the reported
  D can only be low, and :func:`ks_bounds_from_cells` bounds it rigorously from the cells alone:
  ``D_sketch <= D <= statistic_upper <= D_sketch + max_j r_j``, with ``r_j`` the reference share
  strictly between two grid points (< 1 / (sketch_size - 1): 2.4e-4 at 4,096 points). The p-value
  is computed at ``D_sketch``, so it is conservative; the details say ``"exact": false`` and give
  ``statistic_upper``, ``max_error`` and ``p_value_lower`` (the p-value at ``statistic_upper``):
  the true D and scipy's p-value lie in ``[statistic, statistic_upper]`` and ``[p_value_lower,
  p_value]`` (tested against scipy in tests/drift/test_ks_exactness.py). Exact values at every
  size were measured and rejected: with every distinct value of a 100k-row reference kept, the
  summary grew from 3.9 MB to 77 MB and the evaluation took 2.4x the time and 1.6x the memory
  (``bench/bench_drift.py --ks-variants``), and both grow with the reference (a million rows:
  ~0.8 GB of summary). The default cap (20,000 distinct values, ~0.5 MB of summary) keeps
  demo-scale references exact.
"""

from __future__ import annotations

import math

import numpy as np

from driftloop.drift._imports import load
from driftloop.drift._special import log_nfactorial_div_n_pow_n, stirling_excess

KS_EXACT_MAX_N = 10_000  # scipy.stats.ks_2samp(method="auto") switches to asymptotic above this
# kstwo.sf band computed by smirnov_sf instead of scipy: from where scipy's own sum gets slow (~30 ms)
# up to where scipy stops summing and uses an approximation (n > 1e6)
SMIRNOV_FAST_MIN_N, SMIRNOV_FAST_MAX_N = 20_000, 1_000_000
_SMIRNOV_BLOCK = 1 << 14  # terms per block of smirnov_sf's sum: 128 kB arrays


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided KS p-value, same method choice as ``scipy.stats.ks_2samp(method="auto")``.

    Up to ``max(n1, n2) <= KS_EXACT_MAX_N`` this *is* ``ks_2samp``'s (see :func:`scipy_exact_pvalue`),
    beyond it scipy's asymptotic ``kstwo.sf(D, round(n1 n2 / (n1 + n2)))``, mostly without scipy.
    """
    if max(n1, n2) <= KS_EXACT_MAX_N:
        p = scipy_exact_pvalue(d, n1, n2)
        if p is not None:
            return p
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = int(np.round(m * n / (m + n)))
    if SMIRNOV_FAST_MIN_N < en <= SMIRNOV_FAST_MAX_N and 0 < d < 0.5 and 2.2 <= en * d * d < 370.0:
        # the band where kstwo.sf(d, en) is 2 * smirnov(en, d) summed term by term in double-double
        # arithmetic: ~0.8 s at en = 475,000, holding the GIL (it stalled every other thread)
        return float(np.clip(2.0 * smirnov_sf(en, d), 0, 1))
    p = kstwo_sf(d, en)
    if p is None:  # Durbin matrix / Pomeranz branches: scipy's own code (small n or tiny n x^2)
        stats = load("scipy.stats")  # lazy: scipy.stats costs ~1 s to import

        p = stats.distributions.kstwo.sf(d, en)
    return float(np.clip(p, 0, 1))


def ecdf_levels(d: float, n1: int, n2: int) -> tuple[int, int] | None:
    """Counts ``(a, b)``, ``0 <= a <= n1``, ``0 <= b <= n2``, with ``|a / n1 - b / n2| = d``, or None.

    ``d`` is read as scipy reads it, as the nearest multiple ``h / lcm(n1, n2)``; every D of two
    samples of these sizes is one (a difference of two ECDF levels), and so is
    :func:`ks_bounds_from_cells`' upper bound.

    >>> ecdf_levels(0.25, 4, 8)
    (1, 0)
    >>> ecdf_levels(5 / 6, 2, 3)  # no two ECDF levels of sizes 2 and 3 differ by 5/6
    """
    g = math.gcd(n1, n2)
    step_a, step_b = n2 // g, n1 // g  # a / n1 - b / n2 = (a * step_a - b * step_b) / lcm
    h = int(np.round(d * (n1 // g) * n2))
    a = np.arange(n1 + 1, dtype=np.int64)
    for sign in (1, -1):
        num = a * step_a - sign * h  # = b * step_b
        ok = (num >= 0) & (num % step_b == 0) & (num <= n2 * step_b)
        if ok.any():
            i = int(np.flatnonzero(ok)[0])
            return int(a[i]), int(num[i] // step_b)
    return None


def scipy_exact_pvalue(d: float, n1: int, n2: int) -> float | None:
    """``scipy.stats.ks_2samp``'s two-sided p-value for statistic ``d`` and sample sizes ``n1, n2``.

    Through its public API: two samples of sizes ``n1`` and ``n2`` whose statistic is ``d`` (``a``
    zeros and ``n1 - a`` ones against ``b`` zeros and ``n2 - b`` ones, :func:`ecdf_levels`) are
    passed to ``ks_2samp(method="auto")``, which then computes its exact distribution at the same
    ``h / lcm(n1, n2)`` as for the real data, to the bit (for ``max(n1, n2) <= 10,000``, where its
    "auto" is "exact"; where that computation fails it returns its asymptotic p-value, as
    :func:`ks_pvalue` would, with a RuntimeWarning). The samples cost a sort of ``n1 + n2 <= 20,000``
    values, ~1 ms against the 1-400 ms of the distribution itself. None when no two ECDF levels
    differ by ``d`` (not a KS statistic of these sizes).

    Formerly scipy's private ``_attempt_exact_2kssamp(n1, n2, g, d, "two-sided")``, which a scipy
    release may rename or change without notice.
    """
    levels = ecdf_levels(d, n1, n2)
    if levels is None:
        return None
    a, b = levels
    x, y = np.zeros(n1), np.zeros(n2)
    x[a:], y[b:] = 1.0, 1.0
    stats = load("scipy.stats")  # lazy: importing scipy.stats costs ~1 s; only small samples need it
    return float(np.clip(stats.ks_2samp(x, y, method="auto").pvalue, 0.0, 1.0))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Pelz-Good approximation of ``P(D_n <= x)``: scipy.stats._ksstats._kolmogn_PelzGood(cdf=True)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    z = np.sqrt(n) * x
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6
    pi2, pi4, pi6 = np.pi**2, np.pi**4, np.pi**6
    qlog = -pi2 / 8 / zsquared
    if qlog < -708:
        return 0.0
    q = np.exp(qlog)
    k1a, k1b = -zsquared, pi2 / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * pi2 / 4
    k2c = pi4 * (1 - 2 * zsquared) / 16
    k3d = pi6 * (5 - 30 * zsquared) / 64
    k3c = pi4 * (-60 * zsquared + 212 * zfour) / 16
    k3b = pi2 * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8
    k0to3 = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):  # Horner scheme over odd m = 2k - 1
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        k0to3 *= qpower
        k0to3 += coeffs
    k0to3 *= q
    k0to3 *= np.sqrt(2 * np.pi)
    k0to3 /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])
    q = np.exp(-pi2 / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z = np.sqrt(3) * z
    kspi = np.pi * ks
    qpwers = q**ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= pi2 * np.sqrt(2 * np.pi) / (-36 * zthree)
    k0to3[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= pi2 * np.sqrt(2 * np.pi) / (216 * zsix)
    k0to3[3] += k3extra
    k0to3 /= np.power(n * 1.0, np.arange(4) / 2.0)
    return sum(k0to3)


def _twice_scipy_smirnov(n: int, x: float) -> float:
    """``2 * scipy.special.smirnov(n, x)`` clipped to [0, 1], importing scipy.special on first use."""
    special = load("scipy.special")  # lazy: ~0.25 s, and only these rare kstwo_sf branches need it

    return float(np.clip(2 * special.smirnov(n, x), 0.0, 1.0))


def kstwo_sf(x: float, n: int) -> float | None:
    """``scipy.stats.kstwo.sf(x, n)`` without importing scipy.stats, or None where that needs it.

    Follows scipy's method choice (``scipy.stats._ksstats._kolmogn(n, x, cdf=False)``, scipy 1.17)
    branch for branch with the same formulas: Ruben-Gambino closed forms at the ends, ``2 *
    scipy.special.smirnov`` for ``x >= 0.5`` or ``n x^2 >= 2.2``, 0 for ``n x^2 >= 370`` and
    ``1 - `` Pelz-Good otherwise. Returns None for the Durbin-matrix and Pomeranz branches
    (``n <= 140`` with ``n x^2 <= 4``, or ``n <= 100,000`` with ``n x^1.5 <= 1.4``). Only the
    ``smirnov`` branches import scipy.special (~0.25 s): the ends, Pelz-Good and 0 are numpy, and
    :func:`ks_pvalue` sends the common large-n ``smirnov`` band to :func:`smirnov_sf` instead.
    """
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:
        if t <= 0.5:
            return 1.0
        if n <= 140:
            prob = np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1))
        else:
            prob = np.exp(log_nfactorial_div_n_pow_n(n) + n * np.log(2 * t - 1))
        return float(np.clip(1.0 - prob, 0.0, 1.0))
    if t >= n - 1:
        return float(np.clip(2 * (1.0 - x) ** n, 0.0, 1.0))
    if x >= 0.5:
        return _twice_scipy_smirnov(n, x)
    nxsquared = t * x
    if n <= 140:
        if nxsquared <= 4:
            return None
        return _twice_scipy_smirnov(n, x)
    if nxsquared >= 370.0:
        return 0.0
    if nxsquared >= 2.2:
        return _twice_scipy_smirnov(n, x)
    if nxsquared >= 18.0:  # pragma: no cover - unreachable here, kept to mirror scipy
        return 0.0
    if n <= 100000 and n * x**1.5 <= 1.4:
        return None
    return float(np.clip(1.0 - _pelz_good_cdf(n, x), 0.0, 1.0))


def smirnov_sf(n: int, x: float) -> float:
    """One-sided Smirnov ``P(D+_n >= x)`` by the Smirnov-Birnbaum-Tingey sum, vectorised in log space.

    ``P = x sum_{j=0}^{floor(n(1-x))} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)``, the sum
    ``scipy.special.smirnov`` evaluates term by term in double-double arithmetic for ``n <= 1e6``.
    Here in float64, with ``log j! = j log j - j + e(j)`` (``e`` = :func:`stirling_excess`) so that
    the ``j log j``-sized parts of ``log C(n, j)`` and of the two powers cancel analytically::

        log term_j = (n-j) log1p(-n x / (n-j)) + j log1p(n x / j) - log(x + j/n) + e(n) - e(j) - e(n-j)

    Every piece is O(n x) or smaller, not O(n log n): relative deviation from scipy ~1e-13 for
    ``2e4 < n <= 1e6`` and ``2.2 <= n x^2 <= 300`` (tested to 1e-11 in tests/drift/test_correctness.py;
    past that the value is subnormal). With ``log C(n, j)`` from three ``log k!`` (or ``betaln``) it
    was ~8e-10. For ``0 < x < 1``; ~30x faster than scipy at n = 475,000, imports no scipy, and
    numpy releases the GIL.

    Parameters
    ----------
    n : int
        Sample size.
    x : float
        Statistic value, ``0 < x < 1``.

    Returns
    -------
    float
    """
    nx = n * x
    j_end = int(np.floor(n * (1.0 - x))) + 1
    if n - (j_end - 1) <= nx:  # the last term has 1 - x - j/n = 0: it vanishes (log1p(-1) = -inf)
        j_end -= 1
    excess_n = stirling_excess(float(n))
    # blocks of the sum, combined by log-sum-exp: cache-sized temporaries (2x faster at n = 475,000
    # than whole-array passes, whose fresh ~4 MB temporaries each cost page faults)
    tops, sums = [], []
    for start in range(0, j_end, _SMIRNOV_BLOCK):
        j = np.arange(start, min(start + _SMIRNOV_BLOCK, j_end), dtype=np.float64)
        log_terms = _smirnov_log_terms(n, nx, x, j)
        log_terms += excess_n
        top = float(log_terms.max())
        log_terms -= top
        np.exp(log_terms, out=log_terms)
        tops.append(top)
        sums.append(float(log_terms.sum()))
    top = max(tops)
    total = sum(s * math.exp(t - top) for t, s in zip(tops, sums, strict=True))
    # exp last: exp(top) alone is subnormal (few digits) where the result is, near n x^2 = 370
    return math.exp(top + math.log(x * total))


def _smirnov_log_terms(n: int, nx: float, x: float, j: np.ndarray) -> np.ndarray:
    """``log term_j - e(n)`` of :func:`smirnov_sf`'s sum for integer-valued ``j`` with ``n - j > n x``."""
    n_minus_j = n - j  # exact integers
    log_terms = np.divide(-nx, n_minus_j)
    np.log1p(log_terms, out=log_terms)
    log_terms *= n_minus_j
    tmp = np.divide(nx, j, out=np.zeros_like(j), where=j > 0)  # j = 0: j log(1 + n x / j) -> 0
    np.log1p(tmp, out=tmp)
    tmp *= j
    log_terms += tmp
    np.divide(j, n, out=tmp)
    tmp += x
    np.log(tmp, out=tmp)
    log_terms -= tmp
    log_terms -= stirling_excess(j)
    log_terms -= stirling_excess(n_minus_j)
    return log_terms


def ks_from_cells(ref_cells: np.ndarray, cur_cells: np.ndarray) -> float:
    """KS statistic from aligned cell counts (exact when the grid holds every reference value)."""
    return ks_bounds_from_cells(ref_cells, cur_cells)[0]


def ks_bounds_from_cells(ref_cells: np.ndarray, cur_cells: np.ndarray) -> tuple[float, float]:
    """``(D_cells, D_upper)``: the KS statistic on the cells and a bound that the true one cannot pass.

    Both ECDFs are exact at every cell end, so ``D_cells <= D``. Inside open cell ``j`` (between
    two grid points) let ``d_L`` and ``d_R`` be ``F_ref - F_cur`` at its two ends and ``r_j``,
    ``c_j`` the two sides' shares in it. There ``F_ref`` has risen by some ``0 <= rho <= r_j`` and
    ``F_cur`` by ``0 <= gamma <= c_j``, so ``F_ref - F_cur`` lies in ``[d_L - c_j, d_L + r_j]``,
    which is ``[d_R - r_j, d_L + r_j]`` (``d_R = d_L + r_j - c_j``), and::

        D <= D_upper = max(D_cells, max_j (r_j + max(d_L, -d_R))) <= D_cells + max_j r_j

    whatever the current values are. On the exact grid every ``r_j`` is 0 and ``D_upper = D``; on a
    sketch of ``K`` evenly spaced reference order statistics ``r_j < 1 / (K - 1)``.
    """
    if ref_cells.size == 0:
        return 0.0, 0.0
    n_ref = ref_cells.sum()
    d = np.cumsum(ref_cells) / n_ref - np.cumsum(cur_cells) / cur_cells.sum()
    d_cells = float(np.max(np.abs(d)))
    r = ref_cells[0::2] / n_ref  # open cells 0, 2, ..., 2K
    d_left = np.r_[0.0, d[1::2]]  # F_ref - F_cur where each open cell starts (after the grid point below)
    d_upper = max(d_cells, float(np.max(r + np.maximum(d_left, -d[0::2]))))
    return d_cells, min(d_upper, 1.0)
