"""The exact small-sample KS p-value is scipy.stats.ks_2samp's, through its public API only.

``ks.scipy_exact_pvalue`` passes ``ks_2samp`` two samples built to have the statistic D; these
tests hold it to ``ks_2samp`` on the real data, to the bit, and check that every D two samples
of the given sizes can have is representable.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from driftloop.drift import ks


@pytest.mark.parametrize(
    "n1, n2", [(40, 55), (300, 200), (2000, 3000), (9000, 7000), (10_000, 9_999), (64, 64), (7919, 104)]
)
def test_pvalue_is_ks_2samp_on_the_real_data(n1, n2):
    rng = np.random.default_rng(n1 * n2)
    for shift, rounding in [(0.0, None), (0.1, None), (0.05, 1)]:
        a, b = rng.normal(size=n1), rng.normal(shift, size=n2)
        if rounding is not None:
            a, b = a.round(rounding), b.round(rounding)
        ref = stats.ks_2samp(a, b)
        assert ks.ks_pvalue(float(ref.statistic), n1, n2) == float(ref.pvalue)


@pytest.mark.parametrize("n1, n2", [(1, 1), (2, 3), (4, 6), (7, 7), (12, 18), (30, 45)])
def test_every_ecdf_difference_is_found(n1, n2):
    differences = {abs(Fraction(a, n1) - Fraction(b, n2)) for a in range(n1 + 1) for b in range(n2 + 1)}
    lcm = math.lcm(n1, n2)
    for h in range(lcm + 1):
        levels = ks.ecdf_levels(h / lcm, n1, n2)
        if Fraction(h, lcm) in differences:
            assert levels is not None
            a, b = levels
            assert 0 <= a <= n1 and 0 <= b <= n2 and abs(Fraction(a, n1) - Fraction(b, n2)) == Fraction(h, lcm)
        else:
            assert levels is None
