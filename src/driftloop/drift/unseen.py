"""Values the reference never had: their expected share (Good-Turing) and a one-sided test of a rise.

A finite reference has not seen every level of its own distribution, so a current window drawn from
that same distribution always brings some "new" levels. How many is estimated from the reference
alone by the **Good-Turing missing mass** ``M = f1 / n``: the share of reference values whose level
appears only once (``f1`` singletons among ``n`` values) is the share of values that a fresh draw
would find unseen (it is the leave-one-out unseen rate of the reference itself).

Its uncertainty is that of ``M_hat - M``, Esty's (1983) normal limit:
``Var = (f1 + 2 f2 - f1^2 / n) / n^2`` (``f2`` doubletons). It can be several times the binomial
variance ``M (1 - M) / n``, because a few rare levels carry the unseen mass in lumps; a binomial
comparison (as if the reference's singletons were a plain sample) then flags unchanged columns.

The test (:func:`unseen_rise`): under "no drift", the ``U`` unseen values among ``n_cur`` current
values are binomial with the unseen mass ``M``. The reference's estimate is turned into an
equivalent binomial sample by its design effect ``d = max(1, Var / binomial Var)``: ``a / d``
"successes" out of ``n / d`` (Kish's effective size). Conditionally on their sum ``T``, ``U`` is
``Binomial(T, pi)`` with ``pi = n_cur / (n_cur + n / d)``, and the p-value is ``P(X >= U)``: with
``d = 1`` this is the exact conditional (Poisson) comparison of two counts, and it stays defined for
non-integer ``T`` through the regularised incomplete beta function (:func:`binomial_upper_tail`).
It is one-sided: fewer new values than expected is no drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from driftloop.drift._special import stirling_excess

Z95 = 1.959963984540054  # two-sided 95 % normal quantile of the reported intervals
_CF_EPS = 1e-15
_CF_TINY = 1e-300
_CF_MAX_ITER = 100_000  # the continued fraction needs O(sqrt(max(a, b))) terms: ~3,000 at 1e7


def _beta_cf(a: float, b: float, x: float) -> float | None:
    """Continued fraction of the incomplete beta function (modified Lentz); None if it does not converge."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
    h = d
    for m in range(1, _CF_MAX_ITER + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _CF_TINY else _CF_TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _CF_TINY else _CF_TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _CF_TINY else _CF_TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _CF_EPS:
            return h
    return None


def _log_front(a: float, b: float, x: float) -> float:
    """``log(x^a (1 - x)^b / B(a, b))`` without cancelling large logarithms.

    With ``log Gamma(k) = k log k - k + stirling_excess(k) - log k``, the ``k log k`` terms combine
    into ``a log(x / p) + b log((1 - x) / (1 - p))`` with ``p = a / (a + b)``: each as small as the
    distance of ``x`` from ``p`` (``log1p`` near it), where ``math.lgamma`` differences of ~1e7 at
    counts of 1e6 lost ~1e-9 of the result.
    """
    s = a + b
    pa, pb = a / s, b / s
    dx = x - pa
    la = math.log1p(dx / pa) if abs(dx) <= 0.5 * pa else math.log(x / pa)
    lb = math.log1p(-dx / pb) if abs(dx) <= 0.5 * pb else math.log1p(-x) - math.log(pb)
    return float(
        a * la
        + b * lb
        + stirling_excess(s)
        - stirling_excess(a)
        - stirling_excess(b)
        + math.log(a)
        + math.log(b)
        - math.log(s)
    )


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)`` for ``a, b > 0`` (``scipy.special.betainc`` without scipy).

    Continued fraction (Numerical Recipes 6.4) on the side of ``x`` where it converges fast, so a
    small result keeps its relative precision; the prefactor in logs (:func:`_log_front`). Relative
    error ~1e-13 against scipy for arguments up to 1e6, up to ~1e-10 where the result is that
    sensitive to the last bit of ``x`` (x within 1e-4 of 1 at a = 1e6); see
    tests/drift/test_categorical_levels.py.

    Examples
    --------
    >>> round(betainc(1.0, 1.0, 0.25), 12)
    0.25
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = _log_front(a, b, x)
    if x < (a + 1.0) / (a + b + 2.0):
        cf = _beta_cf(a, b, x)
        if cf is not None:
            return min(max(math.exp(log_front) * cf / a, 0.0), 1.0)
    else:
        cf = _beta_cf(b, a, 1.0 - x)
        if cf is not None:
            return min(max(1.0 - math.exp(log_front) * cf / b, 0.0), 1.0)
    # not converged (never seen below 1e9): the normal approximation of the beta distribution
    mean, var = a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1.0))
    return 0.5 * math.erfc((mean - x) / math.sqrt(2.0 * var))


def binomial_upper_tail(k: float, n: float, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)``, continued to real ``n >= k`` as ``I_p(k, n - k + 1)``.

    Equals ``scipy.stats.binom.sf(k - 1, n, p)`` for integers; ``k <= 0`` gives 1.

    Examples
    --------
    >>> round(binomial_upper_tail(2, 2, 0.5), 12)
    0.25
    """
    if k <= 0:
        return 1.0
    return betainc(float(k), float(n - k + 1.0), float(p))


def wilson_interval(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial share ``k / n`` (``n > 0``)."""
    share = k / n
    z2n = z * z / n
    centre = (share + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(share * (1.0 - share) / n + z2n / (4.0 * n)) / (1.0 + z2n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


@dataclass(frozen=True)
class UnseenShare:
    """The unseen share of a current window against its reference's Good-Turing expectation.

    Attributes
    ----------
    expected : float
        Good-Turing missing mass of the reference, ``singletons / n_reference``.
    current : float
        Share of current values in levels the reference never had.
    excess : float
        ``current - expected`` (the effect statistic).
    p_value : float
        One-sided p-value of a rise (see the module docstring).
    design_effect : float
        Esty variance over binomial variance of the reference's estimate (>= 1).
    expected_interval, current_interval, excess_interval : (float, float)
        95 % intervals: normal (Esty variance), Wilson, and normal for the difference.
    """

    expected: float
    current: float
    excess: float
    p_value: float
    design_effect: float
    expected_interval: tuple[float, float]
    current_interval: tuple[float, float]
    excess_interval: tuple[float, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "expected": self.expected,
            "current": self.current,
            "excess": self.excess,
            "design_effect": self.design_effect,
            "expected_interval": list(self.expected_interval),
            "current_interval": list(self.current_interval),
            "excess_interval": list(self.excess_interval),
        }


def unseen_rise(
    singletons: float, doubletons: float, n_reference: float, unseen: float, n_current: float
) -> UnseenShare:
    """Test whether the current window has more values in new levels than the reference predicts.

    Parameters
    ----------
    singletons, doubletons : float
        Reference levels seen once and twice (over every reference level, remembered or not).
        ``singletons`` may also count values of levels the reference summary forgot.
    n_reference : float
        Non-missing reference values (> 0).
    unseen : float
        Current values whose level the reference never had.
    n_current : float
        Non-missing current values (> 0).

    Returns
    -------
    UnseenShare

    Examples
    --------
    >>> r = unseen_rise(singletons=10, doubletons=5, n_reference=1000, unseen=200, n_current=1000)
    >>> round(r.excess, 3), r.p_value < 1e-10
    (0.19, True)
    """
    a, n_r, u, n_c = float(singletons), float(n_reference), float(unseen), float(n_current)
    expected, current = a / n_r, u / n_c
    esty = max(a + 2.0 * float(doubletons) - a * a / n_r, 0.0)  # n_r^2 Var(M_hat - M)
    binomial = a * (1.0 - a / n_r)  # n_r^2 Var of a binomial share a / n_r
    # floor at one count: Esty's estimate is itself a count of singletons, unreliable below one
    floor = max(binomial, 1.0)
    d = max(1.0, esty / floor)
    var_ref = max(esty, floor) / (n_r * n_r)
    n_eff = n_r / d
    p = binomial_upper_tail(u, u + a / d, n_c / (n_c + n_eff)) if u > 0 else 1.0
    half_ref = Z95 * math.sqrt(var_ref)
    half_diff = Z95 * math.sqrt(current * (1.0 - current) / n_c + var_ref)
    return UnseenShare(
        expected,
        current,
        current - expected,
        p,
        d,
        (max(expected - half_ref, 0.0), min(expected + half_ref, 1.0)),
        wilson_interval(u, n_c),
        (current - expected - half_diff, current - expected + half_diff),
    )
