"""Special functions for the drift p-values in numpy, so the common path imports no scipy.

Importing ``scipy.special`` costs ~0.25 s, a quarter of a 100k-row evaluation, for two functions:
the chi-squared survival function (:func:`chi2_sf`) and log-binomials inside the Smirnov sum
(``ks.smirnov_sf``). Both are evaluated here from one Stirling series
(:data:`STIRLING_COEFFS`).

Why an *excess* over ``k log k - k`` rather than ``log k!`` itself: the p-values are exponentials of
sums of large logarithms that nearly cancel (``log C(n, j)`` against ``j log p``; ``i log y`` against
``log i!``). ``log k!`` is ~1.3e7 at k = 1e6, so its last bit alone moves a p-value by ~2e-9. Splitting
``log k! = k log k - k + stirling_excess(k)`` lets the callers cancel the big ``k log k`` parts
analytically (into ``log1p`` of small ratios) and add only the small, smooth excess.
"""

from __future__ import annotations

import math
import operator

import numpy as np

# Stirling series of log(n! / n^n), as in scipy.stats._ksstats: Horner coefficients, in 1/n^2, of
# B_2k / (2k (2k - 1) n^(2k - 1)) for k = 8 .. 1 (the last is 1/12), times 1/n.
STIRLING_COEFFS = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
]
# From here on the eight-term series is exact to double precision: the first omitted term,
# B_18 / (18 * 17 k^17), is 2e-18 at k = 10. Below it, math.lgamma (few-ulp values of small size).
_SERIES_MIN = 10.0
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def log_nfactorial_div_n_pow_n(n: int) -> float:
    """``log(n! / n^n)`` by the Stirling series, exactly as ``scipy.stats._ksstats`` computes it.

    Kept operation for operation so that ``ks.kstwo_sf`` returns scipy's floats bit for bit.
    """
    rn = 1.0 / n
    return np.log(n) / 2 - n + np.log(2 * np.pi) / 2 + rn * np.polyval(STIRLING_COEFFS, rn / n)


def _small_excess(k: float) -> float:
    return math.lgamma(k + 1.0) - (k * math.log(k) if k > 0 else 0.0) + k


def _scalar_excess(k: float) -> float:
    if k < _SERIES_MIN:
        return _small_excess(k)
    r = 1.0 / k
    r2 = r * r
    acc = 0.0
    for c in STIRLING_COEFFS:  # Horner in 1/k^2
        acc = acc * r2 + c
    return acc * r + 0.5 * math.log(k) + _HALF_LOG_2PI


def _series_terms(k_min: float) -> int:
    """Terms of the Stirling series needed for every ``k >= k_min``: the error of a truncated series
    is below its first omitted term, ``|c| k^-(2t+1)``; stop when that is under 1e-17 (the values
    are 0.9-8, whose ulp is >= 1e-16). Two terms for k >= 1,000, eight (all) at k = 10."""
    for t in range(1, len(STIRLING_COEFFS)):
        if abs(STIRLING_COEFFS[-t - 1]) * k_min ** -(2 * t + 1) <= 1e-17:
            return t
    return len(STIRLING_COEFFS)


def stirling_excess(k: float | np.ndarray) -> float | np.ndarray:
    """``log Gamma(k + 1) - (k log k - k)`` elementwise, for real ``k >= 0`` (``0 log 0 = 0``).

    That is ``0.5 log(2 pi k) + 1/(12 k) - 1/(360 k^3) + 1/(1260 k^5) - ...`` (Stirling's series,
    Abramowitz & Stegun 6.1.41), summed to eight terms for ``k >= 10`` (for arrays, only as many as
    the smallest ``k`` needs: two from 1,000 on) and taken from ``math.lgamma`` below that.
    Absolute error a few ulps of the result (which is < 8 for k <= 1e6).

    Parameters
    ----------
    k : float or array_like of float
        Non-negative arguments (integers for factorials, half-integers for ``Gamma(i + 3/2)``).

    Returns
    -------
    float or numpy.ndarray
        A float for a scalar ``k`` (plain Python arithmetic: numpy's per-call overhead would dominate
        chi2_sf), else a float64 array of ``k``'s shape.

    Examples
    --------
    >>> abs(stirling_excess(20.0) + 20 * math.log(20) - 20 - math.lgamma(21)) < 1e-13
    True
    """
    if np.ndim(k) == 0:
        return _scalar_excess(float(k))
    k = np.asarray(k, dtype=np.float64)
    big = np.maximum(k, _SERIES_MIN)
    coeffs = STIRLING_COEFFS[-_series_terms(float(big.min())) if big.size else -1 :]
    r = np.reciprocal(big)
    r2 = r * r
    # Horner in place: np.polyval allocates a fresh array per coefficient, which made this 5x slower
    # on the ~500k-element arrays of smirnov_sf
    out = np.full_like(big, coeffs[0])
    for c in coeffs[1:]:
        out *= r2
        out += c
    out *= r
    np.log(big, out=big)
    big *= 0.5
    out += big
    out += _HALF_LOG_2PI
    small = np.flatnonzero(k < _SERIES_MIN)  # a handful at most in every caller: a Python loop is fine
    if small.size:
        flat = out.reshape(-1)
        flat[small] = [_small_excess(float(v)) for v in k.reshape(-1)[small]]
    return out


def _positive_int(value: object, name: str) -> int:
    """``value`` as an int >= 1 (integral floats accepted), else ValueError naming ``name``."""
    try:
        return _at_least_one(operator.index(value), name)  # type: ignore[arg-type]  # int, numpy integer; else TypeError
    except TypeError:
        pass
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return _at_least_one(int(value), name)
    raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _at_least_one(k: int, name: str) -> int:
    if k < 1:
        raise ValueError(f"{name} must be a positive integer, got {k!r}")
    return k


def _log_poisson_term(a: float, y: float) -> float:
    """``log(e^-y y^a / Gamma(a + 1))`` for ``a >= 0``, ``y > 0``, without cancelling large logs.

    ``a log y - log Gamma(a + 1) - y = a log1p((y - a) / a) - (y - a) - stirling_excess(a)``: the
    first two terms are of the size of ``y - a`` instead of ``a log a`` (cf. Loader's saddle-point
    form of the Poisson density), and near the peak, where ``y ~ a``, they nearly vanish.
    """
    if a == 0.0:
        return -y
    d = y - a
    # log(y / a) as log1p of the small relative gap near the peak (where it matters), plain log
    # otherwise: d / a rounds to -1 for y << a
    log_ratio = math.log1p(d / a) if abs(d) <= 0.5 * a else math.log(y / a)
    return float(a * log_ratio - d - stirling_excess(a))


def _sum_around_peak(y: float, h: float, m: int) -> float:
    """``log sum_{i<m} e^-y y^(i+h) / Gamma(i+h+1)`` (the A&S 26.4.4 / 26.4.5 sums), in log space.

    Consecutive terms have ratio ``y / (i + h)``, so they rise up to the last ``i`` with
    ``i + h <= y`` and fall after it. The peak term is computed directly (:func:`_log_poisson_term`)
    and every other term as the peak times a running product of ratios, accumulated outward from the
    peak as sums of ``log1p((y - a) / a)``: each of those is as small as the step it describes, so
    the log-offsets of the terms that matter carry errors of a few ulps of themselves, not of ``y``.
    All terms are positive: no cancellation, and the offsets are <= 0, so nothing overflows.
    """
    a = np.arange(m, dtype=np.float64) + h
    peak = int(min(max(math.floor(y - h), 0), m - 1))
    with np.errstate(divide="ignore"):
        step = np.log1p((y - a[1:]) / a[1:])  # log(t_i / t_(i-1)) for i = 1 .. m-1
    below = -np.cumsum(step[:peak][::-1])[::-1]  # offsets of t_0 .. t_(peak-1)
    above = np.cumsum(step[peak:])  # offsets of t_(peak+1) .. t_(m-1)
    total = 1.0 + np.exp(below).sum() + np.exp(above).sum()
    return _log_poisson_term(float(a[peak]), y) + math.log(total)


def chi2_sf(x2: float, dof: int) -> float:
    """Chi-squared survival function ``P(X >= x2)`` for integer ``dof``, ``scipy.stats.chi2.sf`` without scipy.

    Closed forms of Abramowitz & Stegun 26.4.4 / 26.4.5 with ``y = x2 / 2``:

    * even ``dof = 2m``: ``Q = e^-y sum_{i=0}^{m-1} y^i / i!`` (a Poisson tail);
    * odd ``dof = 2m + 1``: ``Q = erfc(sqrt(y)) + e^-y sum_{i=0}^{m-1} y^(i + 1/2) / Gamma(i + 3/2)``.

    Relative error below 2.5e-13 down to p ~ 1e-290 for dof up to 5000 (against 40-digit references;
    ``scipy.stats.chi2.sf`` itself is off by up to 3.6e-12 at dof = 5000), see
    tests/drift/test_correctness.py. O(dof) numpy work.

    Parameters
    ----------
    x2 : float
        The statistic. ``x2 <= 0`` gives 1, ``inf`` gives 0 and NaN gives NaN, as scipy.
    dof : int
        Degrees of freedom, a positive integer (an integral float is accepted).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``dof`` is not a positive integer.

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 12)
    0.05
    """
    dof = _positive_int(dof, "dof")
    y = 0.5 * float(x2)
    if math.isnan(y):
        return math.nan
    if y <= 0.0:  # also x2 = 5e-324, whose half rounds to 0
        return 1.0
    if math.isinf(y):
        return 0.0
    m, odd = divmod(dof, 2)
    head = math.erfc(math.sqrt(y)) if odd else 0.0
    if m == 0:
        return head
    tail = math.exp(_sum_around_peak(y, 0.5 if odd else 0.0, m))
    return min(head + tail, 1.0)  # both parts are rounded, and their exact sum is <= 1
