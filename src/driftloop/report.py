"""A cycle's summary: the drifted columns, both models' metrics, the decision and every gate.

One summary, read from the reports a cycle leaves (drift.json, compare.json and decision.json,
through :mod:`driftloop.contracts`) and rendered by :func:`render_summary`, is what the promote
stage prints at the end of ``dvc repro``, what ``driftloop demo`` prints after each cycle and what
``driftloop report`` prints (or, with ``--json``, :meth:`CycleSummary.to_dict`). Pure but for
:func:`read_cycle`; standard library and the contracts only, so the promote stage pays nothing
to import it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.console import paint
from driftloop.contracts import CompareResult, DecisionRecord, DriftResult
from driftloop.errors import DataError

#: compare.json's first metrics shown (its headline ones), before the metrics the gates name.
HEADLINE_METRICS = 2
#: At most this many metric rows (a multiclass task has a per-class metric for every class).
MAX_METRICS = 8
#: The command that writes a cycle's reports, named when they are missing.
RUN_A_CYCLE = "dvc repro"


@dataclass(frozen=True)
class MetricRow:
    """One metric on the holdout: both models' values, the paired delta and its interval."""

    name: str
    champion: float | None
    challenger: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class GateRow:
    """One gate of the decision: its name, mode (enforce, advisory, off), verdict and why."""

    name: str
    mode: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class CycleSummary:
    """What a cycle found and decided, as shown on the terminal.

    Attributes
    ----------
    reference_rows, current_rows : int or None
        The two windows drift compared.
    drifted : bool
        The dataset verdict.
    verdict : str or None
        The verdict's words (``no drift``, ``drift``, ``too few rows``...).
    drifted_columns : tuple of str
    n_columns : int
        Columns tested.
    share_drifted : float or None
    concept_drifted : bool
    compared : bool
        A challenger was compared (False: ``no_comparison`` says why).
    no_comparison : str or None
    champion_version : str or None
        The champion compared against (None on a first cycle).
    n_holdout : int or None
    confidence : float or None
        Of the paired intervals.
    metrics : tuple of MetricRow
        compare.json's headline metrics, then those the gates name.
    promoted, first_cycle : bool
    model_name, version, previous_version : str or None
    decision : str
        decision.json's summary.
    gates : tuple of GateRow
    """

    reference_rows: int | None = None
    current_rows: int | None = None
    drifted: bool = False
    verdict: str | None = None
    drifted_columns: tuple[str, ...] = ()
    n_columns: int = 0
    share_drifted: float | None = None
    concept_drifted: bool = False
    compared: bool = False
    no_comparison: str | None = None
    champion_version: str | None = None
    n_holdout: int | None = None
    confidence: float | None = None
    metrics: tuple[MetricRow, ...] = ()
    promoted: bool = False
    first_cycle: bool = False
    model_name: str | None = None
    version: str | None = None
    previous_version: str | None = None
    decision: str = ""
    gates: tuple[GateRow, ...] = field(default=())

    @property
    def failed_gates(self) -> tuple[GateRow, ...]:
        """The enforced gates that failed: why the challenger was rejected."""
        return tuple(g for g in self.gates if g.mode == "enforce" and not g.passed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``drift``, ``comparison``, ``decision`` (``driftloop report --json``)."""
        return {
            "drift": {
                "drifted": self.drifted,
                "verdict": self.verdict,
                "drifted_columns": list(self.drifted_columns),
                "n_columns": self.n_columns,
                "share_drifted": self.share_drifted,
                "concept_drifted": self.concept_drifted,
                "reference_rows": self.reference_rows,
                "current_rows": self.current_rows,
            },
            "comparison": {
                "compared": self.compared,
                "reason": self.no_comparison,
                "champion_version": self.champion_version,
                "n_holdout": self.n_holdout,
                "confidence": self.confidence,
                "metrics": {m.name: {k: v for k, v in vars(m).items() if k != "name"} for m in self.metrics},
            },
            "decision": {
                "promoted": self.promoted,
                "first_cycle": self.first_cycle,
                "model_name": self.model_name,
                "version": self.version,
                "previous_version": self.previous_version,
                "summary": self.decision,
                "failed_gates": [g.name for g in self.failed_gates],
                "gates": [vars(g) for g in self.gates],
            },
        }


def _shown_metrics(compare: CompareResult, decision: DecisionRecord) -> list[str]:
    """compare.json's first metrics, then each metric a gate names (``min_gain.f1_macro``), once."""
    available = list(compare.metrics)
    named = [g.name.split(".", 1)[1] for g in decision.gates if "." in g.name]
    wanted = [*available[:HEADLINE_METRICS], *(m for m in named if m in compare.metrics)]
    return list(dict.fromkeys(wanted))[:MAX_METRICS]


def summarize(drift: DriftResult, compare: CompareResult | None, decision: DecisionRecord) -> CycleSummary:
    """The summary of one cycle from its three reports (``compare`` None: not compared).

    Examples
    --------
    >>> s = summarize(DriftResult.from_dict({"dataset": {"drifted": False}}), None, DecisionRecord(summary="x"))
    >>> s.drifted, s.compared, s.decision
    (False, False, 'x')
    """
    ds = drift.dataset
    compared = compare is not None and compare.challenger_trained
    rows: tuple[MetricRow, ...] = ()
    if compare is not None and compared:
        rows = tuple(
            MetricRow(name, m.champion, m.challenger, m.delta, m.ci_low, m.ci_high)
            for name in _shown_metrics(compare, decision)
            for m in [compare.metric(name)]
        )
    return CycleSummary(
        reference_rows=ds.get("n_reference"),
        current_rows=ds.get("n_current"),
        drifted=drift.drifted,
        verdict=drift.verdict,
        drifted_columns=tuple(drift.drifted_columns),
        n_columns=len(drift.columns),
        share_drifted=drift.share_drifted,
        concept_drifted=drift.concept_drifted,
        compared=compared,
        no_comparison=None if compare is None else compare.reason,
        champion_version=None if compare is None else compare.champion_version,
        n_holdout=None if compare is None else compare.n_holdout,
        confidence=None if compare is None else compare.evidence.get("confidence"),
        metrics=rows,
        promoted=decision.promoted,
        first_cycle=decision.first_cycle,
        model_name=decision.model_name,
        version=decision.version,
        previous_version=decision.previous_version,
        decision=decision.summary,
        gates=tuple(GateRow(g.name, g.mode, g.passed, g.detail) for g in decision.gates),
    )


def _num(v: float | None, signed: bool = False) -> str:
    return "-" if v is None else format(v, "+.3f" if signed else ".3f")


def _metrics_table(s: CycleSummary) -> list[str]:
    level = f"{s.confidence:.0%}" if isinstance(s.confidence, (int, float)) else "95%"
    head = ("metric", "champion", "challenger", "delta", f"{level} interval")
    rows = [
        (
            m.name,
            _num(m.champion),
            _num(m.challenger),
            _num(m.delta, signed=True),
            "-" if m.ci_low is None or m.ci_high is None else f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]",
        )
        for m in s.metrics
    ]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]

    def line(r: tuple[str, ...]) -> str:  # names and intervals flush left, numbers flush right
        cells = (c.ljust(w) if i in (0, 4) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        return ("    " + "  ".join(cells)).rstrip()

    return [line(r) for r in (head, *rows)]


def render_summary(s: CycleSummary, title: str | None = "Last cycle", why: bool = True, color: bool = False) -> str:
    """The summary as lines of text: the windows, the drift verdict and drifted columns, the metrics
    table, the decision (and ``why``, decision.json's summary), and every gate, failures marked.

    ``title`` None leaves out the windows' line (the promote stage's snapshot line already said it);
    ``color`` marks the verdicts in ANSI colours (:func:`driftloop.console.paint`).

    Examples
    --------
    >>> s = CycleSummary(reference_rows=10, current_rows=5, verdict="no drift", n_columns=2, decision="Kept.")
    >>> print(render_summary(s))
    Last cycle: 10 reference rows vs 5 current rows
      drift: no drift in 2 columns
      metrics: nothing compared
      decision: NOT promoted
      why: Kept.
    """
    lines = [] if title is None else [f"{title}: {s.reference_rows} reference rows vs {s.current_rows} current rows"]
    if s.drifted:
        where = ", ".join(s.drifted_columns) or "the domain classifier"
        share = "" if s.share_drifted is None else f", share {s.share_drifted:.2f}"
        counted = f"{len(s.drifted_columns)} of {s.n_columns} columns{share}"
        lines.append(f"  drift: {paint('DRIFT', 'yellow', color)} ({counted}): {where}")
    else:
        lines.append(f"  drift: {s.verdict or 'no drift'} in {s.n_columns} columns")
    if s.concept_drifted:
        lines.append("  concept drift: the champion's metric fell on the current window")
    if s.compared:
        against = f"champion v{s.champion_version}" if s.champion_version else "no champion (first cycle)"
        on = f" on {s.n_holdout} holdout rows" if s.n_holdout is not None else ""
        lines.append(f"  metrics{on}, challenger against {against}:")
        lines.extend(_metrics_table(s))
    else:
        lines.append("  metrics: nothing compared" + (f" ({s.no_comparison})" if s.no_comparison else ""))
    verdict = paint("PROMOTED", "green", color) if s.promoted else paint("NOT promoted", "bold", color)
    if s.promoted and s.version:
        verdict += f" -> {s.model_name} v{s.version} is champion"
        verdict += f" (was v{s.previous_version})" if s.previous_version else ""
    elif not s.promoted and s.previous_version:
        verdict += f"; {s.model_name} v{s.previous_version} stays champion"
    if s.first_cycle:
        verdict += " (first cycle: only absolute thresholds apply)"
    lines.append(f"  decision: {verdict}")
    if why and s.decision:
        lines.append(f"  why: {s.decision}")
    if s.gates:
        failed, enforced = len(s.failed_gates), sum(g.mode == "enforce" for g in s.gates)
        counted = f"all {enforced} enforced passed"
        if failed:
            counted = paint(f"{failed} of {enforced} enforced failed", "red", color)
        lines.append(f"  gates: {counted}")
    for g in s.gates:
        if g.mode == "enforce":
            mark = paint("pass", "green", color) if g.passed else paint("FAIL", "red", color)
        else:
            mark = paint(g.mode, "dim", color)
        lines.append(f"    {mark} {g.name}: {g.detail}")
    return "\n".join(lines)


def _read(root: Path, relative: Path) -> Mapping[str, Any]:
    path = root / relative
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{relative} not found in {root}: no cycle has finished here yet. Run `{RUN_A_CYCLE}` "
            "(or `driftloop demo`) from the project root first."
        ) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{relative} in {root} is not valid JSON ({exc}): rerun `{RUN_A_CYCLE}`.") from exc
    if not isinstance(data, Mapping):
        raise DataError(f"{relative} in {root} should hold a JSON object. Got {type(data).__name__} instead.")
    return data


def read_cycle(root: Path, decision: Mapping[str, Any] | None = None) -> CycleSummary:
    """The summary of the last cycle from ``root``'s reports (``decision``: decision.json's dict,
    when the caller holds it already).

    Raises
    ------
    DataError
        A report is missing (naming it and ``dvc repro``) or is not a JSON object.
    """
    record = DecisionRecord.from_dict(decision if decision is not None else _read(root, paths.DECISION_JSON))
    drift = DriftResult.from_dict(_read(root, paths.DRIFT_JSON))
    compare = CompareResult.from_dict(_read(root, paths.COMPARE_JSON))
    return summarize(drift, compare, record)


def report_command(root: Path, *, open_browser: bool = False, as_json: bool = False) -> int:
    """``driftloop report``: print the last cycle's summary in ``root`` (``as_json``: its data as
    JSON) and, with ``open_browser``, open the drift report in the default browser.

    Raises
    ------
    DataError
        A report is missing (naming it and ``dvc repro``), or reports/drift.html for ``open_browser``.
    """
    import sys

    from driftloop.console import color_enabled

    summary = read_cycle(root)
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(render_summary(summary, color=color_enabled(sys.stdout)))
    if open_browser:
        import webbrowser

        html = root / paths.DRIFT_HTML
        if not html.is_file():
            raise DataError(f"{paths.DRIFT_HTML} not found in {root}: run `{RUN_A_CYCLE}` to write it.")
        if not webbrowser.open(html.resolve().as_uri()):
            # No browser here (a server over ssh): say where the file is rather than fail.
            print(f"No browser could be opened; the drift report is {html.resolve()}", file=sys.stderr)
    return 0
