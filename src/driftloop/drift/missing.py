"""The missing-value rate as a drift signal of its own.

Statistic: absolute change of the missing rate (NaN, None, pd.NA; for numeric columns also +-inf).
p-value: Pearson chi-squared on the 2 x 2 table (missing / present x reference / current) without
Yates correction, or Fisher's exact test when an expected count is below 5 (where the chi-squared
approximation is poor). A table with no missing value on either side gives statistic 0 and p = 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from driftloop.drift._imports import load
from driftloop.drift.divergence import chi2_sf, contingency_chi2
from driftloop.drift.results import StatResult


@dataclass(frozen=True)
class MissingComparison:
    ref_missing: int
    ref_total: int
    cur_missing: int
    cur_total: int

    @property
    def rates(self) -> tuple[float | None, float | None]:
        r = self.ref_missing / self.ref_total if self.ref_total else None
        c = self.cur_missing / self.cur_total if self.cur_total else None
        return r, c


def missing_test(cmp: MissingComparison, threshold: float) -> StatResult:
    """Test a change of the missing-value rate."""
    rr, rc = cmp.rates
    if rr is None or rc is None:
        return StatResult(
            "missing",
            None,
            None,
            threshold,
            "missing",
            details={"note": "empty reference" if rr is None else "empty current"},
        )
    a = np.array([cmp.ref_missing, cmp.ref_total - cmp.ref_missing], np.float64)
    b = np.array([cmp.cur_missing, cmp.cur_total - cmp.cur_missing], np.float64)
    if a[0] + b[0] == 0 or a[1] + b[1] == 0:
        p, method = 1.0, "degenerate"
    else:
        t = np.vstack([a, b])
        expected = t.sum(1, keepdims=True) * t.sum(0, keepdims=True) / t.sum()
        if expected.min() < 5:
            stats = load("scipy.stats")  # lazy and rare: scipy.stats costs ~1 s to import

            p, method = float(stats.fisher_exact(t.astype(np.int64))[1]), "fisher"
        else:
            x2, _ = contingency_chi2(a, b)
            p, method = chi2_sf(x2, 1), "chi2"
    return StatResult(
        "missing", abs(rc - rr), p, threshold, "missing", details={"reference": rr, "current": rc, "method": method}
    )
