"""Whether a cycle trains a challenger: ``train.trigger`` against the drift stage's verdict.

Pure: reads ``drift.json`` through :class:`driftloop.contracts.DriftResult` (a leaf module).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop.contracts import DriftResult


def _drift(drift: DriftResult | Mapping[str, Any]) -> DriftResult:
    return drift if isinstance(drift, DriftResult) else DriftResult.from_dict(drift)


def drift_trigger(drift: DriftResult | Mapping[str, Any]) -> tuple[bool, bool, str]:
    """What ``train.trigger: on_drift`` reads from drift.json: (fire, concept drift, what was found).

    It fires on the dataset verdict, ``dataset.drifted`` (any column drifted or the domain
    classifier rejected; the share of drifted columns decides nothing), or on concept drift where
    labels measure it (the champion's own metric fell significantly on current): a change in
    P(y|x) with unchanged inputs moves no column. A window too small to test ("too few rows") does
    not fire, and the reason says so rather than "no drift".

    Examples
    --------
    >>> drift_trigger({"dataset": {"drifted": True}})
    (True, False, 'drift detected')
    >>> drift_trigger({"dataset": {"drifted": False, "verdict": "no drift"}})[2]
    'no drift detected'
    """
    drift = _drift(drift)
    concept = drift.concept_drifted
    fire = drift.drifted or concept
    if fire:
        found = "concept drift detected" if concept and not drift.drifted else "drift detected"
    elif drift.verdict == "too few rows":
        found = "too few current rows to test for drift (drift.min_rows)"
    else:
        found = "no drift detected"
    return fire, concept, found


def skip_reason(drift: DriftResult | Mapping[str, Any], trigger: str, champion: str | None) -> str | None:
    """Why this cycle trains no challenger, or None when it trains one.

    Parameters
    ----------
    drift : DriftResult or mapping
        The drift stage's ``drift.json``.
    trigger : {"on_drift", "always"}
        ``train.trigger``.
    champion : str or None
        The serving champion (``"<name> v<version>"``); None on a first cycle, which always trains.

    Examples
    --------
    >>> skip_reason({"dataset": {"drifted": False}}, "on_drift", "m v1")
    "no drift detected against m v1's training data and train.trigger is on_drift: no challenger this cycle"
    >>> skip_reason({"dataset": {"drifted": False}}, "always", "m v1") is None
    True
    """
    fire, _, found = drift_trigger(drift)
    if champion is None or trigger != "on_drift" or fire:
        return None
    return f"{found} against {champion}'s training data and train.trigger is on_drift: no challenger this cycle"
