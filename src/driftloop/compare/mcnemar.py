"""The exact McNemar test on paired correctness."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["McNemarResult", "mcnemar_exact"]


@dataclass(frozen=True)
class McNemarResult:
    """Discordant counts and the exact two-sided p-value.

    ``champion_only``: rows only the champion got right; ``challenger_only``: rows only
    the challenger got right.
    """

    champion_only: int
    challenger_only: int
    p_value: float


def mcnemar_exact(champion_correct: np.ndarray, challenger_correct: np.ndarray) -> McNemarResult:
    """Exact (binomial) McNemar test that both models are equally accurate.

    Under the null each discordant row is equally likely to favour either model, so
    ``min(b, c) ~ Binomial(b + c, 1/2)``; the two-sided p-value doubles the smaller tail
    (the distribution is symmetric), which equals ``scipy.stats.binomtest(min(b, c),
    b + c, 0.5).pvalue``.

    Parameters
    ----------
    champion_correct, challenger_correct : numpy.ndarray of bool
        Per-row correctness on the same rows.

    Returns
    -------
    McNemarResult

    Examples
    --------
    >>> mcnemar_exact(np.array([1, 1, 0], bool), np.array([1, 0, 1], bool)).p_value
    1.0
    """
    from scipy.stats import binom  # here, not at import: importing CompareConfig needs no scipy.stats

    a = np.asarray(champion_correct, dtype=bool)
    b = np.asarray(challenger_correct, dtype=bool)
    champion_only = int(np.count_nonzero(a & ~b))
    challenger_only = int(np.count_nonzero(b & ~a))
    n = champion_only + challenger_only
    if n == 0:
        return McNemarResult(0, 0, 1.0)
    p = min(1.0, 2.0 * float(binom.cdf(min(champion_only, challenger_only), n, 0.5)))
    return McNemarResult(champion_only, challenger_only, p)
