"""One line per stage saying what it found, so that `dvc repro` itself tells a cycle's outcome.

:func:`driftloop.stages.run_stage` prints :func:`outcome_line` of what the stage wrote; the line
is read from the stage's own contract (:mod:`driftloop.contracts`), so it says nothing the
reports do not. Pure: a stage name and its result in, a sentence out. Promote, the last stage,
given the workspace, adds the whole cycle's summary below its line (:mod:`driftloop.report`,
as ``driftloop demo`` and ``driftloop report`` print it), so that `dvc repro` ends with it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from driftloop.contracts import CompareResult, DecisionRecord, DriftResult, Manifest, TrainResult

#: Metrics shown for a comparison (the first ones compare.json lists, the task's headline metrics).
SHOWN_METRICS = 3


def _snapshot(result: Mapping[str, Any]) -> str:
    m = Manifest.from_dict(result)
    source = m.reference.get("source") or "first reference"
    return f"{m.reference.get('rows')} reference rows ({source}), {m.current.get('rows')} current rows"


def _drift(result: Mapping[str, Any]) -> str:
    d = DriftResult.from_dict(result)
    if d.drifted:
        return f"DRIFT: {', '.join(d.drifted_columns) or 'the domain classifier'} (see reports/drift.html)"
    return f"{d.verdict or 'no drift'}" + (" (concept drift: the champion's metric fell)" if d.concept_drifted else "")


def _retrain(result: Mapping[str, Any]) -> str:
    t = TrainResult.from_dict(result)
    if not t.trained:
        return f"no challenger: {t.reason}"
    scores = ", ".join(f"{k} {v:.3f}" for k, v in list((t.validation_metrics or {}).items())[:2])
    return f"trained {t.model} on {t.rows.get('train')} rows (validation: {scores})"


def _compare(result: Mapping[str, Any]) -> str:
    c = CompareResult.from_dict(result)
    if not c.challenger_trained:
        return f"nothing to compare: {c.reason}"
    shown = []
    for name, m in list(c.metrics.items())[:SHOWN_METRICS]:
        if m.delta is None or m.challenger is None:
            continue
        ci = "" if m.ci_low is None or m.ci_high is None else f" [{m.ci_low:+.3f}, {m.ci_high:+.3f}]"
        shown.append(f"{name} {m.challenger:.3f} ({m.delta:+.3f}{ci})")
    against = f"champion v{c.champion_version}" if c.champion_version else "no champion"
    return f"challenger against {against}: {'; '.join(shown) or 'no paired metric'}"


def _promote(result: Mapping[str, Any]) -> str:
    d = DecisionRecord.from_dict(result)
    unnamed = [g.name for g in d.gates if g.mode == "enforce" and not g.passed and g.name not in d.summary]
    return d.summary + (f" Failed gates: {', '.join(unnamed)}." if unnamed else "")


_LINES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "snapshot": _snapshot,
    "drift": _drift,
    "retrain": _retrain,
    "compare": _compare,
    "promote": _promote,
}


def _cycle_summary(result: Mapping[str, Any], root: Path) -> str:
    """The cycle's summary below promote's line, from ``root``'s drift and compare reports; empty
    when they cannot be read (the decision is written: a summary never fails the stage)."""
    from driftloop.console import color_enabled
    from driftloop.errors import DriftloopError
    from driftloop.report import read_cycle, render_summary

    try:
        summary = read_cycle(root, decision=result)
    except DriftloopError:
        return ""
    # No title (snapshot's line gave the windows) and no "why" (promote's own line is decision.json's summary).
    return "\n" + render_summary(summary, title=None, why=False, color=color_enabled(sys.stdout))


def outcome_line(stage: str, result: Mapping[str, Any], root: Path | None = None) -> str:
    """What ``stage`` found, in one line, from the result it wrote (its report's dict); for promote
    with the workspace ``root``, followed by the cycle's summary (:func:`driftloop.report.render_summary`).

    Examples
    --------
    >>> outcome_line("retrain", {"format": 1, "trained": False, "reason": "no drift detected"})
    'no challenger: no drift detected'
    """
    line = _LINES[stage](result)
    return line + _cycle_summary(result, root) if stage == "promote" and root is not None else line
