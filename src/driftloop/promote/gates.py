"""Promotion gates: pure decision logic over ``compare.json`` and drift-resolution evidence.

Compare produces evidence (every metric for both models, paired deltas with intervals,
tests); promote alone decides, through one kind of rule (:class:`MetricRule`): a metric,
its direction, and a threshold, a minimum gain or a maximum regression, the last two in
absolute or relative form. Every gate is evaluated and recorded -- a failure never
short-circuits the rest -- and the result is one :class:`Decision`. Only the edge (the
stage shell, the CLI) acts on it.

Semantics follow MLflow's ``MetricThreshold`` / ``validate_evaluation_results``:
comparisons are inclusive (``>=``/``<=``; a float slack of :data:`EPS` absorbs rounding of
values that travelled through JSON), ``greater_is_better`` is per metric, and a missing
(absent, null or NaN) metric fails its gate. Unlike MLflow, a ``min_gain`` of 0 is allowed
and still applied (MLflow skips the comparison with the baseline unless a change is set).

``delta`` is always ``challenger - champion``, recomputed from the two values, so a sign
convention mismatch upstream cannot turn a regression into an improvement.

First cycle (no champion): only ``threshold`` rules apply. A ``first_cycle`` gate records
that the drift-resolution, gain and regression gates were skipped and why.

A gate carries the mode of the rule or check it comes from: ``advisory`` gates are
reported and never block; ``off`` gates are recorded as skipped, with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from typing import Any

from driftloop.contracts import Gate
from driftloop.promote.config import MetricRule, PromoteConfig
from driftloop.promote.resolution import CHECK_NAMES, EPS, DriftResolution

GATE_FIRST_CYCLE = "first_cycle"
DRIFT_GATE_PREFIX = "drift_resolved."


@dataclass(frozen=True)
class Decision:
    """The promotion decision: promoted iff every enforced gate passed.

    Parameters
    ----------
    promoted : bool
    first_cycle : bool
        True when there was no champion and only absolute thresholds applied.
    gates : tuple of Gate
    summary : str
        One or two sentences: the verdict and the failing gates (or the evidence for promotion).
    """

    promoted: bool
    first_cycle: bool
    gates: tuple[Gate, ...]
    summary: str

    @property
    def failed(self) -> tuple[Gate, ...]:
        """The enforced gates that failed (the reasons for a rejection)."""
        return tuple(g for g in self.gates if not g.passed and g.blocking)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form ``{"promoted", "first_cycle", "gates", "summary"}``."""
        return {
            "promoted": self.promoted,
            "first_cycle": self.first_cycle,
            "gates": [g.to_dict() for g in self.gates],
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict` (extra keys, e.g. ``version``, are ignored)."""
        return cls(
            promoted=bool(d["promoted"]),
            first_cycle=bool(d.get("first_cycle", False)),
            gates=tuple(Gate.from_dict(g) for g in d.get("gates", [])),
            summary=str(d.get("summary", "")),
        )


# -- metric access --------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A finite float, or None for absent / null / NaN / non-numeric (all count as missing)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _entry(comparison: Mapping[str, Any], metric: str) -> Mapping[str, Any]:
    entry = (comparison.get("metrics") or {}).get(metric)
    return entry if isinstance(entry, Mapping) else {}


def _matching(comparison: Mapping[str, Any], pattern: str) -> list[str]:
    names = sorted((comparison.get("metrics") or {}).keys())
    if any(ch in pattern for ch in "*?["):
        return [n for n in names if fnmatchcase(n, pattern)]
    return [pattern] if pattern in names else []


def _fmt(v: float | None) -> str:
    return "missing" if v is None else f"{v:.4f}"


# -- individual gates (each pure, each unit-tested through a table) ---------------------------------


def metric_direction(comparison: Mapping[str, Any], metric: str, override: bool | None = None) -> bool:
    """greater_is_better for ``metric``: the rule's own setting, else what compare.json records for
    the metric (losses and errors are lower-is-better), else True."""
    if override is not None:
        return override
    recorded = _entry(comparison, metric).get("greater_is_better")
    return recorded if isinstance(recorded, bool) else True


def _interval_sentence(
    e: Mapping[str, Any], gib: bool, confidence: Any, margin: float = 0.0
) -> tuple[bool, str, dict[str, Any]]:
    """Does the paired interval of the delta lie strictly beyond ``margin`` on the improving side
    (``ci_low > margin``; ``ci_high < -margin`` when lower is better)?"""
    lo, hi = _num(e.get("ci_low")), _num(e.get("ci_high"))
    level = f"{float(confidence):.0%} " if isinstance(confidence, (int, float)) else ""
    ev = {"ci_low": lo, "ci_high": hi, "confidence": confidence}
    p = _num(e.get("p_value"))
    test = f"; {e.get('test') or 'test'} p {p:.3g}" if p is not None else ""
    if lo is None or hi is None:
        return False, f"the {level}paired interval of the delta is missing (missing evidence fails){test}", ev
    ok = lo > margin if gib else hi < -margin
    side = "above" if gib else "below"
    verdict = "lies" if ok else "does not lie"
    bound = f"{margin if gib else -margin:+.4g}" if margin else "0"
    return ok, f"the {level}paired interval of the delta [{lo:+.4f}, {hi:+.4f}] {verdict} {side} {bound}{test}", ev


def rule_gates(comparison: Mapping[str, Any], rule: MetricRule) -> list[Gate]:
    """One gate per metric matching ``rule.metric`` (a missing metric fails, as in MLflow)."""
    if rule.mode == "off":
        why = rule.reason or f"the rule {rule.label} is off"
        return [Gate(rule.label, True, f"skipped: {why}", "off", why)]
    reason = rule.reason or (f"the rule {rule.label} is advisory" if rule.mode == "advisory" else None)
    names = _matching(comparison, rule.metric)
    if not names:
        available = sorted((comparison.get("metrics") or {}).keys())
        return [
            Gate(
                rule.label,
                False,
                f"no metric in the comparison matches {rule.metric!r} (available: {available}); a missing metric fails",
                rule.mode,
                reason,
            )
        ]
    return [_one_rule_gate(comparison, rule, name, reason) for name in names]


def _one_rule_gate(comparison: Mapping[str, Any], rule: MetricRule, name: str, reason: str | None) -> Gate:
    gate_name = f"{rule.kind}.{name}"
    e = _entry(comparison, name)
    champ, chall = _num(e.get("champion")), _num(e.get("challenger"))
    gib = metric_direction(comparison, name, rule.greater_is_better)
    better = "higher" if gib else "lower"
    ev: dict[str, Any] = {
        "metric": name,
        "champion": champ,
        "challenger": chall,
        "greater_is_better": gib,
        "kind": rule.kind,
        "value": rule.value,
        "relative": rule.relative,
    }
    if rule.kind == "threshold":
        if chall is None:
            return Gate(
                gate_name, False, f"{name}: challenger value missing; a missing metric fails", rule.mode, reason, ev
            )
        ok = chall >= rule.value - EPS if gib else chall <= rule.value + EPS
        op = (">=" if ok else "<") if gib else ("<=" if ok else ">")
        return Gate(
            gate_name,
            ok,
            f"{name}: challenger {chall:.4f} {op} threshold {rule.value} ({better} is better)",
            rule.mode,
            reason,
            ev,
        )
    if champ is None or chall is None:
        return Gate(
            gate_name,
            False,
            f"{name}: champion {_fmt(champ)}, challenger {_fmt(chall)}; a missing metric fails",
            rule.mode,
            reason,
            ev,
        )
    gain = (chall - champ) if gib else (champ - chall)
    if rule.relative:
        size = gain / abs(champ) if champ != 0 else (math.inf if gain > 0 else -math.inf if gain < 0 else 0.0)
        shown, unit = f"{size:+.2%}", f"{rule.value:.2%} of the champion's value"
    else:
        size, shown, unit = gain, f"{gain:+.4f}", f"{rule.value}"
    ev.update(gain=gain, measured=size)
    head = f"{name}: challenger {chall:.4f} vs champion {champ:.4f} ({better} is better)"
    if rule.kind == "min_gain":
        ok = size >= rule.value - EPS
        parts = [f"gain {shown} {'>=' if ok else '<'} min_gain {unit}"]
        if rule.significant:
            # The interval must clear the minimum gain itself, not only 0: a real but negligible
            # gain (two models trained alike differ by a little) is no reason to replace the champion.
            margin = rule.value * abs(champ) if rule.relative else rule.value
            sig, sentence, ci = _interval_sentence(e, gib, comparison.get("confidence"), margin)
            ev.update(ci, significant=sig)
            ok = ok and sig
            parts.append(sentence)
        return Gate(gate_name, ok, f"{head}: " + "; ".join(parts), rule.mode, reason, ev)
    loss = -size
    ok = loss <= rule.value + EPS
    return Gate(
        gate_name,
        ok,
        f"{head}: regression {max(loss, 0.0):.4g}{'' if not rule.relative else ' (relative)'} "
        f"{'<=' if ok else '>'} max_regression {unit}",
        rule.mode,
        reason,
        ev,
    )


def drift_gates(resolution: DriftResolution | None) -> list[Gate]:
    """The three ``drift_resolved.*`` gates; missing evidence fails each of them."""
    gates = []
    for name in CHECK_NAMES:
        check = None if resolution is None else resolution.check(name)
        if check is None:
            gates.append(Gate(f"{DRIFT_GATE_PREFIX}{name}", False, "no drift-resolution evidence was supplied"))
        else:
            gates.append(replace(check, name=f"{DRIFT_GATE_PREFIX}{name}"))  # a check is a gate
    return gates


def summarize(promoted: bool, first_cycle: bool, gates: tuple[Gate, ...]) -> str:
    """One or two sentences for decision.json and the model version's description."""
    failed = [g for g in gates if not g.passed and g.blocking]
    advisory = [g for g in gates if not g.passed and g.mode == "advisory"]
    enforced = [g for g in gates if g.blocking]
    scope = " (first cycle: no champion, only absolute thresholds applied)" if first_cycle else ""
    note = " Advisory, not blocking: " + "; ".join(f"{g.name}: {g.detail}" for g in advisory) + "." if advisory else ""
    if promoted:
        primary = next((g for g in gates if g.name.startswith("min_gain.") and g.blocking), None)
        why = f" {primary.detail}." if primary is not None else ""
        return f"Promoted: all {len(enforced)} enforced gates passed{scope}.{why}{note}"
    reasons = "; ".join(f"{g.name}: {g.detail}" for g in failed)
    return f"Rejected: {len(failed)} of {len(enforced)} enforced gates failed{scope}. {reasons}.{note}"


def evaluate_gates(
    comparison: Mapping[str, Any],
    resolution: DriftResolution | None,
    cfg: PromoteConfig,
    first_cycle: bool,
) -> Decision:
    """Evaluate every configured gate and return one decision.

    Parameters
    ----------
    comparison : mapping
        The ``compare.json`` dict (``metrics`` with champion, challenger, delta, ci_low, ci_high,
        greater_is_better per metric; ``confidence``).
    resolution : DriftResolution or None
        Output of :func:`~driftloop.promote.resolution.assess_drift_resolution`; ``None`` fails
        the drift gates (except on the first cycle, when they are skipped).
    cfg : PromoteConfig
    first_cycle : bool
        True when the registry has no champion.

    Returns
    -------
    Decision
        ``promoted`` is True iff every enforced gate passed.

    Examples
    --------
    >>> comp = {"metrics": {"f1_macro": {"champion": None, "challenger": 0.7, "greater_is_better": True}}}
    >>> rules = {"rules": [{"metric": "f1_macro", "min_gain": 0.0}, {"metric": "f1_macro", "threshold": 0.6}]}
    >>> evaluate_gates(comp, None, PromoteConfig.from_dict(rules), first_cycle=True).promoted
    True
    """
    gates: list[Gate] = []
    if first_cycle:
        gates.append(
            Gate(
                GATE_FIRST_CYCLE,
                True,
                "no champion in the registry: drift-resolution, min_gain and max_regression gates were skipped; "
                "only absolute thresholds apply",
            )
        )
    else:
        gates.extend(drift_gates(resolution))
    for rule in cfg.rules:
        if first_cycle and rule.kind != "threshold":
            continue
        gates.extend(rule_gates(comparison, rule))
    frozen = tuple(gates)
    promoted = all(g.passed for g in frozen if g.blocking)
    return Decision(
        promoted=promoted, first_cycle=first_cycle, gates=frozen, summary=summarize(promoted, first_cycle, frozen)
    )
