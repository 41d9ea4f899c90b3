"""The improvement rule: one decision with every reason, never an exception."""

from __future__ import annotations

import math
from typing import Mapping

from driftloop.compare.config import CompareConfig
from driftloop.compare.metrics import greater_is_better as direction

__all__ = ["decide"]


def _fmt(x: float) -> str:
    return f"{x:+.4f}"


def decide(metrics: Mapping[str, "object"], cfg: CompareConfig, task: str,
           has_champion: bool) -> tuple[bool | None, tuple[str, ...]]:
    """Apply the configured rule to compared metrics.

    The challenger is ``improved`` when, for the primary metric, the gain (the delta in
    the metric's better direction) is at least ``cfg.margin`` AND the lower end of the
    gain's paired-bootstrap interval is above 0; when ``cfg.require_mcnemar``, also the
    challenger is the more accurate and McNemar's exact p < ``cfg.alpha``; and no guard
    metric regresses by more than its tolerance. Every failed condition is a reason.

    Parameters
    ----------
    metrics : mapping of str to MetricComparison
    cfg : CompareConfig
    task : {"classification", "regression"}
    has_champion : bool
        Without a champion there is nothing to compare: ``improved`` is ``None`` and the
        promote stage applies only absolute thresholds.

    Returns
    -------
    (improved, reasons)
    """
    primary = cfg.primary_for(task)
    if not has_champion:
        return None, (f"no champion: nothing to compare against; improved is null and only absolute "
                      f"thresholds can decide (challenger {primary} = "
                      f"{getattr(metrics.get(primary), 'challenger', float('nan')):.4f}).",)
    reasons: list[str] = []
    ok = True
    m = metrics.get(primary)
    if m is None or m.delta is None or not math.isfinite(m.delta):
        return False, (f"primary metric {primary!r} is not available for both models "
                       f"(available: {sorted(k for k, v in metrics.items() if v.delta is not None)}).",)
    gib = cfg.greater_is_better if cfg.greater_is_better is not None else direction(primary)
    sign = 1.0 if gib else -1.0
    gain = sign * m.delta
    gain_low = sign * (m.ci_low if gib else m.ci_high) if m.ci_low is not None else float("nan")
    level = f"{cfg.confidence:.0%}"
    if gain >= cfg.margin:
        reasons.append(f"{primary}: gain {_fmt(gain)} >= margin {cfg.margin:.4f}.")
    else:
        ok = False
        reasons.append(f"{primary}: gain {_fmt(gain)} is below the margin {cfg.margin:.4f}.")
    if math.isfinite(gain_low) and gain_low > 0:
        reasons.append(f"{primary}: the {level} paired-bootstrap interval of the delta "
                       f"[{_fmt(m.ci_low)}, {_fmt(m.ci_high)}] excludes 0.")
    else:
        ok = False
        reasons.append(f"{primary}: the {level} paired-bootstrap interval of the delta "
                       f"[{_fmt(m.ci_low)}, {_fmt(m.ci_high)}] does not exclude 0 in the better direction: "
                       "the gain may be luck.")
    if cfg.require_mcnemar and task == "classification":
        acc = metrics.get("accuracy")
        if acc is None or acc.p_value is None:
            ok = False
            reasons.append("require_mcnemar: no McNemar test on accuracy is available.")
        elif acc.delta > 0 and acc.p_value < cfg.alpha:
            reasons.append(f"accuracy: McNemar exact p = {acc.p_value:.4g} < alpha {cfg.alpha}.")
        else:
            ok = False
            reasons.append(f"accuracy: McNemar exact p = {acc.p_value:.4g} with delta {_fmt(acc.delta)}; "
                           f"required a gain with p < {cfg.alpha}.")
    for name, tol in cfg.guards.items():
        g = metrics.get(name)
        if g is None or g.delta is None:
            ok = False  # a missing guard metric fails, as in MLflow's validation
            reasons.append(f"guard {name}: metric not available for both models.")
            continue
        g_gain = g.delta if direction(name) else -g.delta
        if g_gain < -tol:
            ok = False
            reasons.append(f"guard {name}: regresses by {-g_gain:.4f} > tolerance {tol:.4f}.")
    return ok, tuple(reasons)
