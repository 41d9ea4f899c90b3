"""The I/O half of ``driftloop cycle``: the lock, git and DVC as subprocesses, the notification.

Every step runs in the project folder. The subprocesses' output goes to stderr, line by line and
redacted (:func:`driftloop.redact.redact`), so that stdout carries only the steps' JSON lines; a
failed step's line quotes the last lines of its command's output. The lock is an OS file lock
(:mod:`filelock`), released when the process ends however it ends, and it is never waited for: a
second cycle exits at once with the busy code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from driftloop.errors import DriftloopError
from driftloop.redact import redact
from driftloop.report import CycleSummary
from driftloop.schedule.steps import (
    BUSY,
    EXIT_CODES,
    FAILED,
    NOTHING_TO_DO,
    PROMOTED,
    StepResult,
    cache_false_outs,
    changed_paths,
    commit_message,
    commit_paths,
    outcome_of,
    pull_targets,
)

#: The cycle's lock file, relative to the project (``.driftloop/`` is git-ignored).
DEFAULT_LOCK = Path(".driftloop/cycle.lock")
#: The environment variable holding the webhook URL (read by :mod:`driftloop.notify`).
WEBHOOK_ENV = "DRIFTLOOP_WEBHOOK_URL"
#: Lines of a failed command's output quoted in its step's JSON line.
TAIL_LINES = 12
_DVC = (sys.executable, "-m", "dvc")


@dataclass(frozen=True)
class CycleOptions:
    """What ``driftloop cycle``'s options ask for (see its ``--help``)."""

    project: Path = Path(".")
    lock: Path = DEFAULT_LOCK
    pull: bool = False
    push: bool = True
    commit: bool = True
    git_push: bool = False
    exp: bool = False


class StepFailed(Exception):
    """A step's command failed; ``data`` goes into the step's JSON line."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.data = {"error": message, **data}


class _Reporter:
    """Writes each step's JSON line to ``out`` (flushed: a scheduler's log and a waiting test see it
    at once) and, when ``out`` is a terminal, its human line to ``err`` as well."""

    def __init__(self, out: IO[str], err: IO[str]) -> None:
        self.out, self.err = out, err
        try:
            self.human = out.isatty()
        except (AttributeError, ValueError):
            self.human = False

    def __call__(self, result: StepResult) -> StepResult:
        self.out.write(redact(result.json_line()) + "\n")
        self.out.flush()
        if self.human:
            self.err.write(redact(result.human_line()) + "\n")
            self.err.flush()
        return result


def call(cmd: Sequence[str], cwd: Path, err: IO[str], env: Mapping[str, str] | None = None) -> tuple[int, list[str]]:
    """Run ``cmd`` in ``cwd``, copying its output (stdout and stderr) to ``err`` line by line,
    redacted; return its exit code and its last :data:`TAIL_LINES` lines."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        line = redact(line)
        err.write(line)
        if line.strip():
            tail.append(line.rstrip())
    err.flush()
    return proc.wait(), list(tail)


def _error_line(tail: Sequence[str]) -> str:
    """The line of a failed command's output that says what went wrong: its last driftloop error
    (``driftloop snapshot: error: ...``), else its last DVC ``ERROR:`` or git ``fatal:``/``error:``
    line, else its last line.

    Examples
    --------
    >>> _error_line(["ERROR: failed to pull data from the cloud", "data/train", "<https://error.dvc.org/x>"])
    'ERROR: failed to pull data from the cloud'
    >>> _error_line(["driftloop snapshot: error: no champion", "ERROR: failed to reproduce 'snapshot'"])
    'driftloop snapshot: error: no champion'
    >>> _error_line(["fatal: Not possible to fast-forward, aborting."]), _error_line([])
    ('fatal: Not possible to fast-forward, aborting.', 'no output')
    """
    for wanted in (
        lambda line: ": error: " in line,  # a driftloop stage's own message names the file or key
        lambda line: line.lstrip().startswith(("ERROR", "fatal:", "error:")),
    ):
        for line in reversed(tail):
            if wanted(line):
                return line.strip()
    return tail[-1].strip() if tail else "no output"


def _shown(cmd: Sequence[str]) -> str:
    """``cmd`` as a person would type it (``python -m dvc`` shown as ``dvc``)."""
    words = list(cmd)
    if tuple(words[:3]) == _DVC or tuple(words[:3]) == (sys.executable, "-m", "driftloop"):
        words = words[2:]
    return " ".join(words)


class _Cycle:
    def __init__(self, options: CycleOptions, out: IO[str], err: IO[str], env: Mapping[str, str]) -> None:
        self.options = options
        self.root = options.project.resolve()
        self.err = err
        self.env = env
        self.report = _Reporter(out, err)
        # What the repro step found, read by the steps after it.
        self.decided = False  # this cycle wrote a new decision (the promote stage ran)
        self.summary: CycleSummary | None = None
        self.outcome = NOTHING_TO_DO
        self.run_url: str | None = None

    # -- helpers ---------------------------------------------------------------------------------

    def run(self, cmd: Sequence[str]) -> list[str]:
        """Run ``cmd`` in the project; raise :class:`StepFailed` naming it when it fails."""
        code, tail = call(cmd, self.root, self.err, self.env)
        if code != 0:
            last = _error_line(tail)
            raise StepFailed(f"`{_shown(cmd)}` exited {code}: {last}", command=_shown(cmd), exit_code=code, output=tail)
        return tail

    def capture(self, cmd: Sequence[str]) -> str:
        """``cmd``'s stdout (its stderr copied to ``err``); raise :class:`StepFailed` when it fails."""
        proc = subprocess.run(list(cmd), cwd=self.root, env=dict(self.env), capture_output=True, text=True)
        if proc.stderr:
            self.err.write(redact(proc.stderr))
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise StepFailed(
                f"`{_shown(cmd)}` exited {proc.returncode}: {redact(last)}",
                command=_shown(cmd),
                exit_code=proc.returncode,
            )
        return proc.stdout

    def step(self, name: str, body: Callable[[], Mapping[str, Any] | None]) -> StepResult:
        """Run one step and report it: ``ok`` with the data ``body`` returns (``skipped`` when that
        data has a ``reason``), ``failed`` when it raises :class:`StepFailed` or a driftloop error."""
        start = time.monotonic()
        try:
            data = dict(body() or {})
        except StepFailed as exc:
            return self.report(StepResult(name, "failed", time.monotonic() - start, exc.data))
        except DriftloopError as exc:
            return self.report(StepResult(name, "failed", time.monotonic() - start, {"error": str(exc)}))
        status = "skipped" if "reason" in data else "ok"
        return self.report(StepResult(name, status, time.monotonic() - start, data))

    # -- the steps -------------------------------------------------------------------------------

    def pull(self) -> Mapping[str, Any]:
        if not self.options.pull:
            return {"reason": "--no-pull"}
        cmds = [["git", "pull", "--ff-only"]]
        self.run(cmds[0])
        targets = self._pull_targets()  # read after git pull: it may bring a newer dvc.lock
        if targets != []:
            cmds.append([*_DVC, "pull", *(targets or [])])
            self.run(cmds[-1])
        return {"commands": [_shown(c) for c in cmds]}

    def _pull_targets(self) -> list[str] | None:
        import yaml

        def stages(name: str) -> list[str]:
            path = self.root / name
            data = yaml.safe_load(path.read_text()) if path.is_file() else None
            return list((data or {}).get("stages") or {}) if isinstance(data, dict) else []

        pointers = self.capture(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.dvc"])
        return pull_targets(stages("dvc.yaml"), stages("dvc.lock"), pointers.splitlines())

    def config(self) -> Mapping[str, Any]:
        cmd = [sys.executable, "-m", "driftloop", "params", "--check"]
        self.run(cmd)
        return {"command": _shown(cmd)}

    def _decision_marks(self) -> tuple[Any, bytes | None]:
        """What says whether the promote stage ran: its dvc.lock entry and decision.json's bytes."""
        import yaml

        from driftloop import paths
        from driftloop.contracts import DecisionRecord

        lock_file = self.root / "dvc.lock"
        entry = None
        if lock_file.is_file():
            entry = ((yaml.safe_load(lock_file.read_text()) or {}).get("stages") or {}).get(DecisionRecord.STAGE)
        decision = self.root / paths.DECISION_JSON
        return entry, decision.read_bytes() if decision.is_file() else None

    def repro(self) -> Mapping[str, Any]:
        status = self.capture([*_DVC, "status", "--json"])
        try:
            changed = json.loads(status or "{}")
        except json.JSONDecodeError:
            changed = {"unparsed": status}
        if not changed:
            self.decided = False
            return {"reason": "nothing to do: `dvc status` shows no changed stage", "outcome": NOTHING_TO_DO}
        before = self._decision_marks()
        cmd = [*_DVC, "exp", "run"] if self.options.exp else [*_DVC, "repro"]
        self.run(cmd)
        self.decided = self._decision_marks() != before
        self.read_decision()
        return {"command": _shown(cmd), "changed": sorted(changed), "outcome": self.outcome}

    def read_decision(self) -> None:
        """The decision this cycle made, summarised (:func:`driftloop.report.read_cycle`)."""
        from driftloop import paths
        from driftloop.contracts import DecisionRecord
        from driftloop.report import read_cycle

        self.summary = None
        if self.decided:
            try:
                self.summary = read_cycle(self.root)
            except DriftloopError:  # drift.json or compare.json unreadable: the decision alone
                record = DecisionRecord.from_dict(json.loads((self.root / paths.DECISION_JSON).read_text()))
                self.summary = CycleSummary(
                    promoted=record.promoted,
                    model_name=record.model_name,
                    version=record.version,
                    previous_version=record.previous_version,
                    decision=record.summary,
                )
            self.run_url = self._run_url()
        promoted = bool(self.summary and self.summary.promoted)
        self.outcome = outcome_of(self.decided and self.summary is not None, promoted)

    def _run_url(self) -> str | None:
        """The MLflow UI page of the decided version's run, when the registry is an MLflow server."""
        from driftloop import paths

        try:
            data = json.loads((self.root / paths.DECISION_JSON).read_text())
        except (OSError, ValueError):
            return None
        from driftloop.redact import has_credentials

        registry, run_id = data.get("registry"), data.get("run_id")
        if not run_id or not isinstance(registry, str) or not registry.startswith(("http://", "https://")):
            return None  # a sqlite or file store has no page to link to
        if has_credentials(registry):
            return None
        # The MLflow UI's direct run page (/#/runs/<id>): decision.json does not name the experiment.
        return f"{registry.rstrip('/')}/#/runs/{run_id}"

    def push(self) -> Mapping[str, Any]:
        if not self.options.push:
            return {"reason": "--no-push"}
        cmd = [*_DVC, "push"]
        self.run(cmd)
        return {"command": _shown(cmd)}

    def commit(self) -> Mapping[str, Any]:
        if not self.options.commit:
            return {"reason": "--no-commit"}
        import yaml

        changed = self.capture(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"])
        names = changed_paths(changed, self.capture(["git", "rev-parse", "--show-prefix"]).strip())
        dvc_yaml = self.root / "dvc.yaml"
        outs = cache_false_outs(yaml.safe_load(dvc_yaml.read_text()) or {}) if dvc_yaml.is_file() else []
        chosen = commit_paths(names, outs, params=not self.options.exp)
        if not chosen:
            return {"reason": "nothing changed to commit"}
        message = commit_message(self.outcome, self.summary)
        self.run(["git", "add", "--", *chosen])
        self.run(["git", "commit", "-q", "-m", message, "--", *chosen])
        sha = self.capture(["git", "rev-parse", "HEAD"]).strip()
        return {"commit": sha, "message": message.splitlines()[0], "files": chosen}

    def git_push(self) -> Mapping[str, Any]:
        if not self.options.git_push:
            return {"reason": "--no-git-push"}
        cmd = ["git", "push", "-q"]
        self.run(cmd)
        return {"command": _shown(cmd)}

    def notify(self, failed: StepResult | None) -> Mapping[str, Any]:
        if not self.env.get(WEBHOOK_ENV):
            return {"reason": f"{WEBHOOK_ENV} is not set"}
        from driftloop.notify import CycleEvent, enabled_kinds, send

        events = []
        s = self.summary
        if s is not None:
            # A decision was made (and, if promoted, the alias moved) even when a later step failed:
            # people are told of it as well as of the failure.
            common: dict[str, Any] = {"run_url": self.run_url, "model": s.model_name, "version": s.version}
            if s.drifted:
                cols = ", ".join(s.drifted_columns) or "the dataset as a whole"
                events.append(
                    CycleEvent("drift", f"drift found: {cols}", drifted_columns=tuple(s.drifted_columns), **common)
                )
            kind = "promoted" if self.outcome == PROMOTED else "rejected"
            events.append(CycleEvent(kind, commit_message(self.outcome, s).removeprefix("driftloop cycle: "), **common))
        if failed is not None:
            error = str(failed.data.get("error", ""))
            events.append(
                CycleEvent("failed", f"driftloop cycle failed at step {failed.step}: {error}", step=failed.step)
            )
        kinds, _ = enabled_kinds(self.env)  # DRIFTLOOP_WEBHOOK_EVENTS may leave some kinds out
        events = [e for e in events if e.kind in kinds]
        if not events:
            return {"reason": "nothing to tell"}
        delivered = [bool(send(e, self.env)) for e in events]
        data: dict[str, Any] = {"events": [e.kind for e in events], "delivered": delivered}
        if not all(delivered):
            # A dead webhook never fails the cycle: this line says so, the exit code stays the outcome's.
            raise StepFailed("the webhook did not accept every notification (the cycle's outcome stands)", **data)
        return data

    # -- the cycle -------------------------------------------------------------------------------

    def __call__(self) -> int:
        from filelock import FileLock, Timeout

        start = time.monotonic()
        lock_path = self.options.lock if self.options.lock.is_absolute() else self.root / self.options.lock
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            self.report(StepResult("lock", "failed", 0.0, {"error": f"another cycle holds {lock_path}", "busy": True}))
            return self.finish(BUSY, start)
        try:
            self.report(StepResult("lock", "ok", 0.0, {"lock": str(lock_path), "pid": os.getpid()}))
            failed = None
            for name, body in (
                ("pull", self.pull),
                ("config", self.config),
                ("repro", self.repro),
                ("push", self.push),
                ("commit", self.commit),
                ("git_push", self.git_push),
            ):
                result = self.step(name, body)
                if result.status == "failed":
                    failed = result
                    break
            self.step("notify", lambda: self.notify(failed))
            if failed is not None:
                return self.finish(FAILED, start, failed.step)
            return self.finish(self.outcome, start)
        finally:
            lock.release()

    def finish(self, outcome: str, start: float, failed_step: str | None = None) -> int:
        code = EXIT_CODES[outcome]
        data: dict[str, Any] = {"outcome": outcome, "exit_code": code}
        if failed_step is not None:
            data["failed_step"] = failed_step
        s = self.summary
        if s is not None:  # the decision, also when a step after it failed (the alias may have moved)
            data.update(promoted=s.promoted, model=s.model_name, version=s.version, drifted_columns=s.drifted_columns)
        status = {FAILED: "failed", BUSY: "skipped"}.get(outcome, "ok")
        self.report(StepResult("cycle", status, time.monotonic() - start, data))
        return code


def run_cycle(
    options: CycleOptions,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run one cycle (``driftloop cycle``) and return its exit code (:data:`~.steps.EXIT_CODES`).

    Parameters
    ----------
    options : CycleOptions
    out, err : text streams
        The steps' JSON lines go to ``out`` (default stdout); the commands' output, and the human
        lines when ``out`` is a terminal, to ``err`` (default stderr).
    env : mapping
        The commands' environment and where the webhook URL is read (default ``os.environ``).
    """
    return _Cycle(options, out or sys.stdout, err or sys.stderr, os.environ if env is None else env)()
