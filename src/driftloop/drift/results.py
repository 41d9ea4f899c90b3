"""Frozen result types shared by every drift test."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StatResult:
    """One drift test on one column.

    Parameters
    ----------
    name : str
        Registered test name.
    statistic : float or None
        The effect statistic compared with ``threshold`` (None when it cannot be computed, e.g. an
        empty side; ``details["note"]`` then says why).
    p_value : float or None
        The test's own raw p-value (None for pure effect sizes such as PSI, which borrow the p-value
        of ``p_source``).
    threshold : float
        Effect threshold: the test drifts when ``statistic >= threshold`` and the corrected p-value
        of ``p_source`` is below alpha.
    p_source : str or None
        Name of the test whose p-value gates this one (itself when it has one).
    p_adjusted : float or None
        Corrected p-value of ``p_source`` (set by :func:`driftloop.drift.evaluate_drift`).
    drifted : bool
    details : mapping
        Extra JSON-safe facts (raw chi2, dof, exactness, term lists...).
    """

    name: str
    statistic: float | None
    p_value: float | None
    threshold: float = 0.0
    p_source: str | None = None
    p_adjusted: float | None = None
    drifted: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)
