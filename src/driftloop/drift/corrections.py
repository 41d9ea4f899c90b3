"""Multiple-testing corrections, applied after the per-column tests (pure functions).

Benjamini-Hochberg (default) controls the false discovery rate, and the family-wise error rate under
the global null, for independent or positively dependent p-values; Bonferroni controls the
family-wise error rate under any dependence. Missing p-values (``None``) are left out of the family
and stay ``None``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from driftloop.errors import ConfigError


def bonferroni(p: Sequence[float]) -> np.ndarray:
    """Bonferroni-adjusted p-values: ``min(1, m p)``."""
    p = np.asarray(p, dtype=np.float64)
    return np.minimum(1.0, p * p.size)


def benjamini_hochberg(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


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
        For an unknown method.
    """
    idx = [i for i, p in enumerate(p_values) if p is not None]
    vals = np.array([p_values[i] for i in idx], dtype=np.float64)
    if method == "bh":
        adj = benjamini_hochberg(vals)
    elif method == "bonferroni":
        adj = bonferroni(vals)
    elif method == "none":
        adj = vals
    else:
        raise ConfigError(f"drift.correction must be one of ['bh', 'bonferroni', 'none']. Got {method!r} instead.")
    out: list[float | None] = [None] * len(p_values)
    for i, a in zip(idx, adj):
        out[i] = float(a)
    return out
