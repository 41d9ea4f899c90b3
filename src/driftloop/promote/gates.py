"""Promotion gates: pure decision logic over ``compare.json`` and drift-resolution evidence.

Every gate is evaluated and recorded -- a failure never short-circuits the rest --
and the result is one :class:`Decision`. Only the edge (the stage shell, the CLI)
acts on it.

Semantics follow MLflow's ``validate_evaluation_results`` where they overlap:
comparisons are inclusive (``>=``/``<=``; a float slack of :data:`EPS` absorbs
rounding of values that travelled through JSON), ``greater_is_better`` is per
metric, and a missing (absent, null or NaN) metric fails its gate. Unlike MLflow,
the comparison with the champion always runs: MLflow silently skips it unless a
minimum change is set, here ``primary.min_delta`` may be 0 and is still applied.

``delta`` is always ``challenger - champion``; it is recomputed from the two values
(the comparison's ``delta`` is only a fallback) so a sign convention mismatch
upstream cannot turn a regression into an improvement.

First cycle (no champion): only the absolute floors apply. A ``first_cycle`` gate
records that the drift-resolution and comparison gates were skipped and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Mapping

from driftloop.promote.config import FloorRule, GuardRule, PromoteConfig
from driftloop.promote.resolution import CHECK_NAMES, EPS, DriftResolution

GATE_FIRST_CYCLE = "first_cycle"
GATE_PRIMARY = "primary_improves"
GATE_SUPPORT = "improvement_supported"
GATE_COMPARISON = "compare_improved"
DRIFT_GATE_PREFIX = "drift_resolved."
GUARD_GATE_PREFIX = "guard."
FLOOR_GATE_PREFIX = "floor."


@dataclass(frozen=True)
class Gate:
    """One recorded gate: its name, verdict and a sentence saying why."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form ``{"name", "passed", "detail"}``."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    """The promotion decision: promoted iff every gate passed.

    Parameters
    ----------
    promoted : bool
    first_cycle : bool
        True when there was no champion and only absolute floors applied.
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
        """The gates that failed."""
        return tuple(g for g in self.gates if not g.passed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form ``{"promoted", "first_cycle", "gates", "summary"}``."""
        return {
            "promoted": self.promoted,
            "first_cycle": self.first_cycle,
            "gates": [g.to_dict() for g in self.gates],
            "summary": self.summary,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Decision":
        """Inverse of :meth:`to_dict` (extra keys, e.g. ``version``, are ignored)."""
        return cls(
            promoted=bool(d["promoted"]),
            first_cycle=bool(d.get("first_cycle", False)),
            gates=tuple(Gate(str(g["name"]), bool(g["passed"]), str(g.get("detail", ""))) for g in d.get("gates", [])),
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


def primary_direction(comparison: Mapping[str, Any], metric: str, cfg: PromoteConfig) -> bool:
    """greater_is_better for the primary metric: the config's, else what compare.json records
    for that metric, else True."""
    if cfg.primary.greater_is_better is not None:
        return cfg.primary.greater_is_better
    recorded = _entry(comparison, metric).get("greater_is_better")
    if isinstance(recorded, bool):
        return recorded
    top = comparison.get("greater_is_better")
    return top if isinstance(top, bool) and comparison.get("primary_metric") == metric else True


def primary_gate(comparison: Mapping[str, Any], cfg: PromoteConfig) -> Gate:
    """``challenger - champion >= min_delta`` (mirrored when lower is better), inclusive."""
    metric = cfg.primary.metric or comparison.get("primary_metric")
    if not metric:
        return Gate(GATE_PRIMARY, False, "no primary metric: neither promote.primary.metric nor "
                                         "compare.json's primary_metric is set")
    e = _entry(comparison, metric)
    champ, chall = _num(e.get("champion")), _num(e.get("challenger"))
    if champ is None or chall is None:
        return Gate(GATE_PRIMARY, False, f"{metric}: champion {_fmt(champ)}, challenger {_fmt(chall)}; "
                                         "a missing metric fails")
    gib = primary_direction(comparison, metric, cfg)
    improvement = (chall - champ) if gib else (champ - chall)
    margin = cfg.primary.min_delta
    ok = improvement >= margin - EPS
    better = "higher" if gib else "lower"
    return Gate(
        GATE_PRIMARY, ok,
        f"{metric}: challenger {chall:.4f} vs champion {champ:.4f}, improvement {improvement:+.4f} "
        f"({better} is better) {'>=' if ok else '<'} margin {margin}",
    )


def support_gate(comparison: Mapping[str, Any], cfg: PromoteConfig) -> Gate:
    """The improvement is supported by the comparison's interval and/or test, as configured.

    The interval is on ``delta = challenger - champion`` and must exclude 0 on the
    improving side, strictly (an interval touching 0 does not support a change);
    the test needs ``p_value < alpha`` and a change in the improving direction. A
    needed value that is missing fails.
    """
    method, alpha = cfg.support.method, cfg.support.alpha
    if method == "none":
        return Gate(GATE_SUPPORT, True, "skipped: promote.support.method is 'none'")
    metric = cfg.primary.metric or comparison.get("primary_metric")
    if not metric:
        return Gate(GATE_SUPPORT, False, "no primary metric to test")
    e = _entry(comparison, metric)
    lo, hi, p = _num(e.get("ci_low")), _num(e.get("ci_high")), _num(e.get("p_value"))
    gib = primary_direction(comparison, metric, cfg)
    if gib:
        ci_ok = None if lo is None else lo > 0.0
        ci_txt = f"CI low {_fmt(lo)} {'>' if ci_ok else '<='} 0" if lo is not None else "CI low missing"
    else:
        ci_ok = None if hi is None else hi < 0.0
        ci_txt = f"CI high {_fmt(hi)} {'<' if ci_ok else '>='} 0" if hi is not None else "CI high missing"
    # A test's p-value is usually two-sided: it supports an improvement only when the
    # observed change points the improving way (a significant regression is no support).
    champ, chall = _num(e.get("champion")), _num(e.get("challenger"))
    delta = (chall - champ) if champ is not None and chall is not None else _num(e.get("delta"))
    improving = delta is not None and (delta > 0 if gib else delta < 0)
    if p is None:
        p_ok, p_txt = None, "p-value missing"
    else:
        p_ok = p < alpha and improving
        p_txt = f"p {p:.3g} {'<' if p < alpha else '>='} alpha {alpha}"
        if p < alpha and not improving:
            p_txt += " but the change is not an improvement"
    if method == "ci":
        ok, txt = bool(ci_ok), ci_txt
    elif method == "p_value":
        ok, txt = bool(p_ok), p_txt
    elif method == "ci_or_p_value":
        ok = bool(ci_ok) or bool(p_ok)
        # Name the evidence that decided; list both only when neither supports the change.
        txt = ci_txt if ci_ok else p_txt if p_ok else f"{ci_txt}; {p_txt}"
    else:  # ci_and_p_value
        ok, txt = bool(ci_ok) and bool(p_ok), f"{ci_txt} and {p_txt}"
    return Gate(GATE_SUPPORT, ok, f"{metric} delta: {txt} ({'supported' if ok else 'not supported'})")


def guard_gates(comparison: Mapping[str, Any], rule: GuardRule) -> list[Gate]:
    """One gate per metric matching ``rule.pattern``: no regression beyond ``max_drop`` (inclusive)."""
    names = _matching(comparison, rule.pattern)
    if not names:
        return [Gate(f"{GUARD_GATE_PREFIX}{rule.pattern}", False,
                     f"no metric in the comparison matches {rule.pattern!r}; a missing metric fails")]
    gates = []
    for name in names:
        e = _entry(comparison, name)
        champ, chall = _num(e.get("champion")), _num(e.get("challenger"))
        if champ is None or chall is None:
            gates.append(Gate(f"{GUARD_GATE_PREFIX}{name}", False,
                              f"champion {_fmt(champ)}, challenger {_fmt(chall)}; a missing metric fails"))
            continue
        drop = (champ - chall) if rule.greater_is_better else (chall - champ)
        ok = drop <= rule.max_drop + EPS
        gates.append(Gate(
            f"{GUARD_GATE_PREFIX}{name}", ok,
            f"challenger {chall:.4f} vs champion {champ:.4f}: regression {max(drop, 0.0):.4f} "
            f"{'<=' if ok else '>'} tolerance {rule.max_drop}",
        ))
    return gates


def floor_gates(comparison: Mapping[str, Any], rule: FloorRule) -> list[Gate]:
    """One gate per metric matching ``rule.pattern``: the challenger meets the absolute threshold."""
    names = _matching(comparison, rule.pattern)
    if not names:
        return [Gate(f"{FLOOR_GATE_PREFIX}{rule.pattern}", False,
                     f"no metric in the comparison matches {rule.pattern!r}; a missing metric fails")]
    gates = []
    for name in names:
        chall = _num(_entry(comparison, name).get("challenger"))
        if chall is None:
            gates.append(Gate(f"{FLOOR_GATE_PREFIX}{name}", False, "challenger value missing; a missing metric fails"))
            continue
        if rule.greater_is_better:
            ok, op = chall >= rule.threshold - EPS, (">=" if chall >= rule.threshold - EPS else "<")
        else:
            ok, op = chall <= rule.threshold + EPS, ("<=" if chall <= rule.threshold + EPS else ">")
        gates.append(Gate(f"{FLOOR_GATE_PREFIX}{name}", ok, f"challenger {chall:.4f} {op} floor {rule.threshold}"))
    return gates


def drift_gates(resolution: DriftResolution | None) -> list[Gate]:
    """The three ``drift_resolved.*`` gates; missing evidence fails each of them."""
    gates = []
    for name in CHECK_NAMES:
        check = None if resolution is None else resolution.check(name)
        if check is None:
            gates.append(Gate(f"{DRIFT_GATE_PREFIX}{name}", False, "no drift-resolution evidence was supplied"))
        else:
            gates.append(Gate(f"{DRIFT_GATE_PREFIX}{name}", check.passed, check.detail))
    return gates


def summarize(promoted: bool, first_cycle: bool, gates: tuple[Gate, ...]) -> str:
    """One or two sentences for decision.json and the model version's description."""
    failed = [g for g in gates if not g.passed]
    scope = " (first cycle: no champion, only absolute floors applied)" if first_cycle else ""
    if promoted:
        primary = next((g for g in gates if g.name == GATE_PRIMARY), None)
        why = f" {primary.detail}." if primary is not None else ""
        return f"Promoted: all {len(gates)} gates passed{scope}.{why}"
    reasons = "; ".join(f"{g.name}: {g.detail}" for g in failed)
    return f"Rejected: {len(failed)} of {len(gates)} gates failed{scope}. {reasons}."


def comparison_gate(comparison: Mapping[str, Any]) -> Gate:
    """compare.json's own verdict (its margin, interval, optional McNemar and compare.guards), so
    that the compare config is never silently ignored; a missing verdict fails."""
    improved = comparison.get("improved")
    reasons = "; ".join(str(r) for r in comparison.get("reasons") or []) or "no reasons recorded"
    if improved is True:
        return Gate(GATE_COMPARISON, True, f"compare judged the challenger improved: {reasons}")
    if improved is False:
        return Gate(GATE_COMPARISON, False, f"compare judged the challenger not improved: {reasons}")
    return Gate(GATE_COMPARISON, False, f"compare.json has no improved verdict: {reasons}")


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
        The ``compare.json`` dict (``primary_metric``, ``metrics`` with champion,
        challenger, delta, ci_low, ci_high, p_value per metric).
    resolution : DriftResolution or None
        Output of :func:`~driftloop.promote.resolution.assess_drift_resolution`;
        ``None`` fails the drift gates (except on the first cycle, when they are skipped).
    cfg : PromoteConfig
    first_cycle : bool
        True when the registry has no champion.

    Returns
    -------
    Decision
        ``promoted`` is True iff every recorded gate passed.

    Examples
    --------
    >>> comp = {"primary_metric": "f1_macro", "metrics": {"f1_macro": {"champion": None, "challenger": 0.7}}}
    >>> evaluate_gates(comp, None, PromoteConfig(guards=()), first_cycle=True).promoted
    True
    """
    gates: list[Gate] = []
    if first_cycle:
        gates.append(Gate(
            GATE_FIRST_CYCLE, True,
            "no champion in the registry: drift-resolution, primary-metric, support and guard gates "
            "were skipped; only absolute floors apply",
        ))
    else:
        gates.extend(drift_gates(resolution))
        gates.append(primary_gate(comparison, cfg))
        gates.append(support_gate(comparison, cfg))
        gates.append(comparison_gate(comparison))
        for rule in cfg.guards:
            gates.extend(guard_gates(comparison, rule))
    for floor in cfg.floors:
        gates.extend(floor_gates(comparison, floor))
    frozen = tuple(gates)
    promoted = all(g.passed for g in frozen)
    return Decision(promoted=promoted, first_cycle=first_cycle, gates=frozen,
                    summary=summarize(promoted, first_cycle, frozen))
