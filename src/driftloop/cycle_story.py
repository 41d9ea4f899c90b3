"""What a cycle's parent run says in the MLflow UI: a markdown description and a few headline metrics.

Pure: the cycle's summary (:class:`driftloop.report.CycleSummary`, what the terminal shows too)
in, a string and a small mapping out (:mod:`driftloop.cycle_run` writes them). The description
reads top-down as an engineer asks: what was decided, what drifted, how the two models compare
(with the interval), and each gate in one line. The headline metrics are a fixed set, named as
on the stage runs, so that the runs table and its charts compare cycles without the per-column
and per-slice metrics, which stay on the stage runs.
"""

from __future__ import annotations

import math

from driftloop.report import CycleSummary

#: The parent run's metrics, besides the primary metric's ``compare.{champion, challenger, delta,
#: ci_low, ci_high}.<metric>``.
FIXED_HEADLINE = ("drift.share_drifted", "promote.promoted")
PRIMARY_PARTS = ("champion", "challenger", "delta", "ci_low", "ci_high")


def headline_metrics(s: CycleSummary, primary: str | None) -> dict[str, float]:
    """The parent run's headline metrics: the share of drifted columns, the primary metric for
    both models with the paired delta and its interval, and whether the cycle promoted (0/1).
    Values that are unknown (no champion, no challenger) are left out, never logged as 0.

    >>> headline_metrics(CycleSummary(promoted=True), "f1_macro")
    {'promote.promoted': 1.0}
    >>> from driftloop.report import MetricRow
    >>> row = MetricRow("f1_macro", 0.7, 0.8, 0.1, 0.05, 0.15)
    >>> sorted(headline_metrics(CycleSummary(share_drifted=0.25, metrics=(row,), compared=True), "f1_macro"))
    ['compare.challenger.f1_macro', 'compare.champion.f1_macro', 'compare.ci_high.f1_macro', \
'compare.ci_low.f1_macro', 'compare.delta.f1_macro', 'drift.share_drifted', 'promote.promoted']
    """
    out: dict[str, float] = {}
    if _finite(s.share_drifted):
        out["drift.share_drifted"] = float(s.share_drifted)  # type: ignore[arg-type]
    row = next((m for m in s.metrics if m.name == primary), None) if s.compared else None
    if row is not None:
        for part in PRIMARY_PARTS:
            value = getattr(row, part)
            if _finite(value):
                out[f"compare.{part}.{row.name}"] = float(value)
    out["promote.promoted"] = 1.0 if s.promoted else 0.0
    return out


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: float | None) -> str:
    return "n/a" if value is None or not _finite(value) else f"{value:.3f}"


def decision_heading(s: CycleSummary) -> str:
    """One markdown heading line: what the cycle decided.

    >>> decision_heading(CycleSummary(promoted=True, model_name="m", version="3", previous_version="2"))
    '### Promoted: m v3 is the champion (was v2)'
    >>> decision_heading(CycleSummary(promoted=False, model_name="m"))
    '### Not promoted: m keeps its champion'
    >>> from driftloop.report import GateRow
    >>> decision_heading(CycleSummary(model_name="m", gates=(GateRow("min_gain.f1", "enforce", True, "ok"),)))
    '### Not promoted: m keeps its champion (the gates passed; the alias was not moved)'
    """
    name = s.model_name or "the model"
    if s.promoted:
        was = f" (was v{s.previous_version})" if s.previous_version else " (first champion)"
        return f"### Promoted: {name} v{s.version} is the champion{was}"
    if s.gates and not s.failed_gates:  # e.g. a `dvc exp run` under promote.in_experiments: skip
        return f"### Not promoted: {name} keeps its champion (the gates passed; the alias was not moved)"
    return f"### Not promoted: {name} keeps its champion"


def drift_line(s: CycleSummary) -> str:
    """The drift verdict and the drifted columns, one line.

    >>> drift_line(CycleSummary(drifted=True, share_drifted=0.5, drifted_columns=("a", "b")))
    '- **Drift**: 2 column(s) drifted (50% of those tested): `a`, `b`'
    >>> drift_line(CycleSummary(drifted=False, share_drifted=0.0))
    '- **Drift**: none detected'
    """
    if not s.drifted_columns and not s.drifted:
        return "- **Drift**: none detected"
    cols = ", ".join(f"`{c}`" for c in s.drifted_columns) or "the dataset as a whole"
    pct = f" ({s.share_drifted:.0%} of those tested)" if _finite(s.share_drifted) else ""
    return f"- **Drift**: {len(s.drifted_columns)} column(s) drifted{pct}: {cols}"


def comparison_lines(s: CycleSummary, primary: str | None) -> list[str]:
    """Both models' metrics (the primary one first), each paired delta with its interval, or why
    nothing was compared.

    >>> from driftloop.report import MetricRow
    >>> row = MetricRow("f1_macro", 0.7, 0.8, 0.1, 0.05, 0.15)
    >>> comparison_lines(CycleSummary(compared=True, metrics=(row,), champion_version="1"), "f1_macro")
    ['- **f1_macro**: challenger 0.800 vs champion v1 0.700, delta +0.100 [0.050, 0.150]']
    """
    if not s.compared:
        return [f"- **Comparison**: none ({s.no_comparison or 'no challenger this cycle'})"]
    rows = sorted(s.metrics, key=lambda m: m.name != primary)  # stable: the primary first
    version = f" v{s.champion_version}" if s.champion_version else ""
    lines = []
    for m in rows:
        if m.champion is None:
            lines.append(f"- **{m.name}**: challenger {_num(m.challenger)} (no champion to compare with)")
            continue
        interval = f" [{_num(m.ci_low)}, {_num(m.ci_high)}]" if m.ci_low is not None else ""
        delta = "n/a" if m.delta is None else f"{m.delta:+.3f}"
        lines.append(
            f"- **{m.name}**: challenger {_num(m.challenger)} vs champion{version} {_num(m.champion)}, "
            f"delta {delta}{interval}"
        )
    if s.n_holdout:
        lines.append(f"- holdout: {s.n_holdout} rows, both models scored on the same rows")
    return lines


def gate_lines(s: CycleSummary) -> list[str]:
    """Each gate in one line: passed or failed, its mode when not enforced, and its sentence.

    >>> from driftloop.report import GateRow
    >>> gate_lines(CycleSummary(gates=(GateRow("min_gain.f1_macro", "enforce", False, "gain  0.01 < 0.02"),)))
    ['- FAIL `min_gain.f1_macro`: gain 0.01 < 0.02']
    """
    out = []
    for g in s.gates:
        mark = "pass" if g.passed else "FAIL"
        mode = "" if g.mode == "enforce" else f" ({g.mode})"
        out.append(f"- {mark} `{g.name}`{mode}: {_one_line(g.detail)}")
    return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def cycle_note(s: CycleSummary, primary: str | None) -> str:
    """The parent run's markdown description: the decision, its summary sentence, the drift, the
    comparison and one line per gate."""
    parts = [decision_heading(s), "", _one_line(s.decision), "", drift_line(s), *comparison_lines(s, primary)]
    gates = gate_lines(s)
    if gates:
        parts += ["", "#### Gates", *gates]
    return "\n".join(parts).strip() + "\n"


def failure_note(stage: str, message: str) -> str:
    """The description of a cycle that failed at ``stage``.

    >>> print(failure_note("drift", "reports/drift.json: missing"), end="")
    ### Failed at the drift stage
    <BLANKLINE>
    reports/drift.json: missing
    <BLANKLINE>
    Fix the cause and run `dvc repro` again: it resumes this cycle from the failed stage.
    """
    return (
        f"### Failed at the {stage} stage\n\n{message}\n\n"
        "Fix the cause and run `dvc repro` again: it resumes this cycle from the failed stage.\n"
    )
