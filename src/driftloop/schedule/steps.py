"""The pure half of ``driftloop cycle``: exit codes, step records, the outcome, the commit.

A cycle is a fixed sequence of steps (:data:`STEPS`); each reports one :class:`StepResult`, written
as one JSON line on stdout by the runner. The outcome of the whole cycle is one of
:data:`EXIT_CODES`' keys and is the process's exit code. Everything here is standard library plus
:mod:`driftloop.report`'s summary type, so it is tested without git, DVC or MLflow.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from driftloop.report import CycleSummary, MetricRow

#: The steps of a cycle, in order (``cycle`` is the closing line: the outcome and its exit code).
STEPS = ("lock", "pull", "config", "repro", "push", "commit", "git_push", "notify", "cycle")

PROMOTED = "promoted"
NOT_PROMOTED = "not_promoted"
NOTHING_TO_DO = "nothing_to_do"
BUSY = "busy"
FAILED = "failed"

#: The outcome of a cycle and its exit code. They stay clear of driftloop's error codes (2-8, mapped
#: by the stages and the other commands) and of 1 (an unexpected error: a traceback) and 2 (a usage
#: error), so a scheduler can tell each apart.
EXIT_CODES: Mapping[str, int] = {
    PROMOTED: 0,
    NOT_PROMOTED: 10,
    NOTHING_TO_DO: 11,
    BUSY: 12,
    FAILED: 13,
}

#: What each exit code means (``driftloop cycle --help`` and the README say the same; a test checks).
EXIT_CODE_HELP: Mapping[str, str] = {
    PROMOTED: "cycle done, the challenger was promoted",
    NOT_PROMOTED: "cycle done, not promoted (the champion stays)",
    NOTHING_TO_DO: "nothing to do: no stage had changed inputs (or no new decision was made)",
    BUSY: "another cycle holds the lock: exited at once",
    FAILED: "a step failed: its JSON line has status failed and names it",
}

#: Files a cycle commits whatever dvc.yaml says: DVC's own records and the composed config.
ALWAYS_COMMITTED = ("dvc.lock", "params.yaml")


@dataclass(frozen=True)
class StepResult:
    """One step's record: ``{"step", "status", "seconds", ...data}``.

    Attributes
    ----------
    step : str
        One of :data:`STEPS`.
    status : str
        ``ok``, ``skipped`` or ``failed``.
    seconds : float
        Wall time of the step.
    data : mapping
        Step data (the command run, its exit code, the error, the outcome...), JSON-ready.
    """

    step: str
    status: str
    seconds: float = 0.0
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "seconds": round(self.seconds, 3), **self.data}

    def json_line(self) -> str:
        """The record as one line of JSON (keys in a fixed order: step, status, seconds, data).

        Examples
        --------
        >>> StepResult("pull", "skipped", 0.0, {"reason": "--no-pull"}).json_line()
        '{"step": "pull", "status": "skipped", "seconds": 0.0, "reason": "--no-pull"}'
        """
        return json.dumps(self.to_dict(), default=str)

    def human_line(self) -> str:
        """The record for a person at a terminal.

        Examples
        --------
        >>> StepResult("repro", "ok", 41.25, {"command": "dvc repro"}).human_line()
        'driftloop cycle: repro ok (41.2 s): dvc repro'
        >>> StepResult("pull", "failed", 1.0, {"error": "dvc pull exited 1"}).human_line()
        'driftloop cycle: pull FAILED (1.0 s): dvc pull exited 1'
        """
        d = self.data
        said = d.get("error") or d.get("reason") or d.get("message") or d.get("command") or ""
        status = "FAILED" if self.status == "failed" else self.status
        return f"driftloop cycle: {self.step} {status} ({self.seconds:.1f} s)" + (f": {said}" if said else "")


def outcome_of(decided: bool, promoted: bool) -> str:
    """The outcome of a cycle whose steps all passed: ``decided`` is whether this cycle wrote a new
    decision (the promote stage ran), ``promoted`` that decision's verdict.

    Examples
    --------
    >>> outcome_of(True, True), outcome_of(True, False), outcome_of(False, True)
    ('promoted', 'not_promoted', 'nothing_to_do')
    """
    if not decided:
        return NOTHING_TO_DO
    return PROMOTED if promoted else NOT_PROMOTED


def cache_false_outs(dvc_yaml: Mapping[str, Any]) -> list[str]:
    """The outputs, metrics and plots of ``dvc.yaml``'s stages that git holds (``cache: false``).

    Examples
    --------
    >>> cache_false_outs({"stages": {"s": {"outs": ["a.parquet", {"r.json": {"cache": False}}],
    ...                                      "metrics": [{"m.json": {"cache": False}}]}}})
    ['r.json', 'm.json']
    """
    found: list[str] = []
    for stage in (dvc_yaml.get("stages") or {}).values():
        if not isinstance(stage, Mapping):
            continue
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                if isinstance(entry, Mapping):
                    for path, opts in entry.items():
                        if isinstance(opts, Mapping) and opts.get("cache") is False:
                            found.append(str(path))
    return found


def changed_paths(porcelain: str, prefix: str = "") -> list[str]:
    """The paths ``git status --porcelain=v1 -z --untracked-files=all`` lists, relative to the project
    folder ``prefix`` (``git rev-parse --show-prefix``: the project may sit below the repository's
    root); paths outside it are left out. A rename's or copy's second entry (its old path) is skipped.

    Examples
    --------
    >>> changed_paths(" M dvc.lock\\0?? reports/drift.json\\0R  new.dvc\\0old.dvc\\0")
    ['dvc.lock', 'reports/drift.json', 'new.dvc']
    >>> changed_paths(" M proj/dvc.lock\\0 M other/x.py\\0", prefix="proj/")
    ['dvc.lock']
    """
    entries = porcelain.split("\0")
    found: list[str] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        status, path = entry[:2], entry[3:]
        if status[0] in "RC":
            i += 1  # -z gives a rename's old path as the next entry
        if path.startswith(prefix):
            found.append(path[len(prefix) :])
    return found


def pull_targets(stages: Iterable[str], locked: Iterable[str], pointers: Iterable[str]) -> list[str] | None:
    """What ``dvc pull`` should pull: None (everything) when dvc.lock records every stage of
    dvc.yaml, else only the stages it records and the ``.dvc`` pointer files. A stage that never ran
    (a project's first cycle) has no hashes to pull, and a plain ``dvc pull`` fails on it ("No file
    hash info found"), which is not the failure a pull must report.

    Examples
    --------
    >>> pull_targets(["snapshot", "drift"], ["snapshot", "drift"], ["data/incoming.dvc"]) is None
    True
    >>> pull_targets(["snapshot", "drift"], [], ["data/incoming.dvc"])
    ['data/incoming.dvc']
    >>> pull_targets(["snapshot", "drift"], ["snapshot"], [])
    ['snapshot']
    """
    locked = list(locked)
    if set(stages) <= set(locked):
        return None
    return [*locked, *pointers]


def commit_paths(changed: Iterable[str], git_outs: Iterable[str], *, params: bool = True) -> list[str]:
    """Which of the ``changed`` files (git's changed and untracked paths, relative, POSIX) a cycle
    commits: dvc.lock, params.yaml, every ``.dvc`` pointer file and ``.gitignore`` (DVC writes both),
    and every file at or under one of ``git_outs`` (the ``cache: false`` outputs: the reports).
    Anything else (someone's edit in progress) is left alone. ``params`` False leaves params.yaml
    out too: after ``dvc exp run`` it is DVC's composition for the experiment, without the header
    ``driftloop params`` writes, not a change to keep.

    Examples
    --------
    >>> for path in commit_paths(["dvc.lock", "notes.txt", "data/incoming.dvc", "data/snapshot/.gitignore",
    ...                           "reports/plots/roc/champion.csv", "reports/drift.json", "src/x.py"],
    ...                          ["reports/drift.json", "reports/plots"]):
    ...     print(path)
    data/incoming.dvc
    data/snapshot/.gitignore
    dvc.lock
    reports/drift.json
    reports/plots/roc/champion.csv
    >>> commit_paths(["dvc.lock", "params.yaml"], [], params=False)
    ['dvc.lock']
    """
    outs = [PurePosixPath(o) for o in git_outs]
    chosen = set()
    for name in changed:
        path = PurePosixPath(name)
        if name == "params.yaml" and not params:
            continue
        if (
            name in ALWAYS_COMMITTED
            or path.suffix == ".dvc"
            or path.name == ".gitignore"
            or any(path == o or o in path.parents for o in outs)
        ):
            chosen.add(name)
    return sorted(chosen)


def headline_metric(summary: CycleSummary) -> MetricRow | None:
    """The metric a commit message quotes: the first a gate names (``min_gain.f1_macro``), else the
    first measured; None when nothing was measured."""
    named = {g.name.split(".", 1)[1] for g in summary.gates if "." in g.name}
    rows = [m for m in summary.metrics if m.delta is not None or m.challenger is not None]
    for m in rows:
        if m.name in named:
            return m
    return rows[0] if rows else None


def _metric_text(m: MetricRow) -> str:
    interval = "" if m.ci_low is None or m.ci_high is None else f" [{m.ci_low:+.3f}, {m.ci_high:+.3f}]"
    if m.champion is None:  # a first cycle: no champion to differ from
        return f"{m.name} {m.challenger:.3f}" if m.challenger is not None else m.name
    return f"{m.name} {m.delta:+.3f}{interval}"


def commit_message(outcome: str, summary: CycleSummary | None) -> str:
    """The commit of a cycle: its decision in the subject line, then decision.json's summary.

    Examples
    --------
    >>> s = CycleSummary(drifted=True, drifted_columns=("comment", "channel"), compared=True,
    ...                  metrics=(MetricRow("f1_macro", 0.70, 0.731, 0.031, 0.012, 0.050),),
    ...                  promoted=True, model_name="driftloop-sentiment", version="3", decision="Better.")
    >>> print(commit_message("promoted", s))
    driftloop cycle: promoted driftloop-sentiment v3 (f1_macro +0.031 [+0.012, +0.050]); drift: comment, channel
    <BLANKLINE>
    Better.
    >>> print(commit_message("not_promoted", CycleSummary(model_name="m", decision="No drift: no challenger.")))
    driftloop cycle: not promoted m (no challenger); drift: none
    <BLANKLINE>
    No drift: no challenger.
    >>> commit_message("nothing_to_do", None)
    'driftloop cycle: nothing to do'
    """
    if summary is None or outcome == NOTHING_TO_DO:
        return "driftloop cycle: nothing to do"
    model = summary.model_name or "model"
    m = headline_metric(summary)
    evidence = f" ({_metric_text(m)})" if m is not None else ""
    if outcome == PROMOTED:
        head = f"promoted {model} v{summary.version}{evidence}" if summary.version else f"promoted {model}{evidence}"
    else:
        # No version: the challenger was not registered, or none was trained (no drift, say).
        challenger = f" v{summary.version}" if summary.version else " challenger" if summary.compared else ""
        head = f"not promoted {model}{challenger}{evidence}"
        if not summary.compared:
            head += " (no challenger)"
        if summary.previous_version:
            head += f"; v{summary.previous_version} stays champion"
    drift = ", ".join(summary.drifted_columns) or ("yes" if summary.drifted else "none")
    subject = f"driftloop cycle: {head}; drift: {drift}"
    return f"{subject}\n\n{summary.decision}" if summary.decision else subject
