"""Multiple-testing corrections and the split of alpha, applied after the tests (pure functions).

Benjamini-Hochberg (default) controls the false discovery rate, and the family-wise error rate under
the global null, for independent or positively dependent p-values; Bonferroni controls the
family-wise error rate under any dependence. Missing p-values (``None``) are left out of the family
and stay ``None``.

The dataset verdict is a union: *some column drifts* (any p-value of the column family, corrected,
below its level) *or the domain classifier rejects*. Its false-alarm rate is the chance of that
union when nothing changed. :func:`split_alpha` gives the two parts levels that add up to alpha, so
the union bound holds whatever the dependence between the classifier and the column tests (they
see the same rows); within the column family, BH's "any discovery" is Simes' test, of level alpha
under independence or positive dependence, and Bonferroni's under any dependence. Putting the
classifier's permutation p-value into the BH family instead would leave it unable to reject on its
own: its smallest value is 1 / (n_permutations + 1) ~ 0.001, times ~50 p-values is above 0.05.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from driftloop.drift.config import MULTIVARIATE, TOP
from driftloop.validation import check_value


def bonferroni(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values: ``min(1, m p)``."""
    arr = np.asarray(p, dtype=np.float64)
    return np.minimum(1.0, arr * arr.size)


def benjamini_hochberg(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    arr = np.asarray(p, dtype=np.float64)
    m = arr.size
    if m == 0:
        return arr
    order = np.argsort(arr)
    ranked = arr[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


#: The implementation of each ``drift.correction`` choice (a test checks they match the table's).
METHODS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "bh": benjamini_hochberg,
    "bonferroni": bonferroni,
    "none": lambda p: np.asarray(p, dtype=np.float64),
}


def adjust(p_values: Sequence[float | None], method: str = "bh") -> list[float | None]:
    """Adjust a family of p-values; ``None`` entries are skipped and returned as ``None``.

    Parameters
    ----------
    p_values : sequence of float or None
    method : {"bh", "bonferroni", "none"}

    Returns
    -------
    list of float or None

    Raises
    ------
    ConfigError
        For a method that is not one of ``drift.correction``'s choices.
    """
    check_value(method, TOP["correction"], "drift.correction")  # the config table's choices
    idx = [i for i, p in enumerate(p_values) if p is not None]
    adj = METHODS[method](np.array([p_values[i] for i in idx], dtype=np.float64))
    out: list[float | None] = [None] * len(p_values)
    for i, a in zip(idx, adj, strict=True):
        out[i] = float(a)
    return out


@dataclass(frozen=True)
class Levels:
    """The levels the dataset verdict's two parts are tested at.

    Attributes
    ----------
    columns : float
        Level of the corrected column p-values (every column, every p-valued test).
    multivariate : float
        Level of the domain classifier's permutation p-value; 0 when it does not decide.
    """

    columns: float
    multivariate: float

    @property
    def total(self) -> float:
        """The union bound on the dataset verdict's false-alarm rate: ``columns + multivariate``."""
        return self.columns + self.multivariate


def split_alpha(alpha: float, multivariate_share: float, classifier_tests: bool = True) -> Levels:
    """Split ``alpha`` between the column family and the domain classifier.

    Parameters
    ----------
    alpha : float
        False-alarm rate of the whole dataset verdict, in (0, 1).
    multivariate_share : float
        Share of ``alpha`` spent on the classifier, in [0, 1); 0 makes it advisory.
    classifier_tests : bool
        False when the classifier is off or cannot run (too few rows: a fact about sizes, not
        values, so giving its share back to the columns keeps the bound); the columns get all of alpha.

    Returns
    -------
    Levels
        ``columns + multivariate == alpha``.

    Examples
    --------
    >>> split_alpha(0.05, 0.5)
    Levels(columns=0.025, multivariate=0.025)
    >>> split_alpha(0.05, 0.5, classifier_tests=False)
    Levels(columns=0.05, multivariate=0.0)
    """
    # The drift config's own constraints (a DriftConfig has been checked already; a direct call is not).
    check_value(alpha, TOP["alpha"], "drift.alpha")
    check_value(multivariate_share, MULTIVARIATE["alpha_share"], "drift.multivariate.alpha_share")
    mv = alpha * multivariate_share if classifier_tests else 0.0
    return Levels(alpha - mv, mv)
