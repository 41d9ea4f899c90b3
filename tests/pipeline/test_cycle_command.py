"""`driftloop cycle` as a scheduler runs it (issue 16, item 6): real processes throughout.

A project (real git, DVC, MLflow on sqlite, scikit-learn) with a bare git remote and a local DVC
remote gets a weekly batch through `driftloop ingest` before each of four scheduled cycles, each
run as a subprocess of the installed `driftloop` command. Checked: each exit code against the
decision.json the cycle wrote, one commit per cycle naming the decision and pushed to the bare
remote, the data in the DVC remote; a second cycle started while one runs exits at once, busy; a
webhook receiver on 127.0.0.1 gets the notifications, and a cycle whose receiver is down still
ends with its outcome; a run with nothing new does nothing; a fresh clone's `dvc pull` restores the
champion's training data (md5); a `dvc pull` from a missing remote fails the cycle at step pull.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env
from driftloop.notify import CycleEvent, slack_payload
from driftloop.schedule.steps import BUSY, EXIT_CODES, FAILED, NOT_PROMOTED, NOTHING_TO_DO, PROMOTED
from tests.test_notify import PATH_TOKEN, QUERY_TOKEN, Receiver, closed_port_url

from .project import make_project, run

pytestmark = pytest.mark.slow

ROWS = 700
#: The batches of the scheduled cycles: six calm weeks, then the drifted weeks two by two (the last
#: cycle's challenger, trained on more of the same, has little to gain over the champion).
BATCHES = (range(1, 7), range(7, 9), range(9, 11), range(11, 13))
DRIFTLOOP = str(Path(sys.executable).parent / "driftloop")
ARGS = ("--pull", "--git-push")


def lines_of(stdout: str) -> list[dict]:
    """The JSON lines a cycle wrote (every stdout line must be one)."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def by_step(lines: list[dict]) -> dict[str, dict]:
    return {line["step"]: line for line in lines}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def cycle(cwd: Path, env: dict[str, str], *args: str) -> dict:
    start = time.monotonic()
    proc = subprocess.run([DRIFTLOOP, "cycle", *args], cwd=cwd, env=env, capture_output=True, text=True)
    return {
        "code": proc.returncode,
        "lines": lines_of(proc.stdout),
        "stderr": proc.stderr,
        "seconds": time.monotonic() - start,
    }


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd).stdout.strip()


def ingest(project: Path, staging: Path, weeks: range) -> None:
    """A weekly batch arrives: written elsewhere, then validated and added by `driftloop ingest`."""
    files = write_weeks(staging / f"weeks_{weeks.start}", weeks, rows=ROWS)
    run([DRIFTLOOP, "ingest", *map(str, files)], project)


def after_cycle(project: Path, result: dict, previous_decision: str | None) -> dict:
    """What a cycle left: decision.json (and whether this cycle rewrote it), the training data's
    md5 and the project's HEAD."""
    decision = project / "reports" / "decision.json"
    assert decision.is_file(), f"the cycle wrote no decision: {result['lines']}\n{result['stderr'][-4000:]}"
    decision_text = decision.read_text()
    return {
        **result,
        "decision": json.loads(decision_text),
        "decided": decision_text != previous_decision,
        "decision_text": decision_text,
        "training_md5": md5(project / "data" / "train" / "training.parquet"),
        "head": git(project, "rev-parse", "HEAD"),
    }


def expected_code(state: dict) -> int:
    """The exit code decision.json says this cycle should end with."""
    if not state["decided"]:
        return EXIT_CODES[NOTHING_TO_DO]
    return EXIT_CODES[PROMOTED] if state["decision"]["promoted"] else EXIT_CODES[NOT_PROMOTED]


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, mlflow_template_db):
    tmp = tmp_path_factory.mktemp("cycle")
    project = make_project(tmp / "project", mlflow_template_db)  # DVC remote: tmp/dvcstore
    bare = tmp / "remote.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], tmp)
    run(["git", "remote", "add", "origin", str(bare)], project)
    run(["git", "push", "-q", "-u", "origin", "main"], project)

    receiver = Receiver([])
    try:
        env = clean_env({"DRIFTLOOP_WEBHOOK_URL": receiver.url()})
        cycles: list[dict] = []
        previous = None

        # Cycle 1: the first batches, a first cycle.
        ingest(project, tmp / "staging", BATCHES[0])
        cycles.append(after_cycle(project, cycle(project, env, *ARGS), previous))
        previous = cycles[-1]["decision_text"]
        received_after_first = len(receiver.requests)

        # Cycle 2, and a second cycle started while it holds the lock.
        ingest(project, tmp / "staging", BATCHES[1])
        err = (tmp / "cycle2.err").open("w")
        first = subprocess.Popen(
            [DRIFTLOOP, "cycle", *ARGS], cwd=project, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        assert first.stdout is not None
        head = [json.loads(first.stdout.readline())]  # the lock line comes first, flushed at once
        busy = cycle(project, env, *ARGS)
        busy["first_still_running"] = first.poll() is None
        out, _ = first.communicate(timeout=900)
        err.close()
        result = {"code": first.returncode, "lines": head + lines_of(out), "stderr": (tmp / "cycle2.err").read_text()}
        cycles.append(after_cycle(project, result, previous))
        previous = cycles[-1]["decision_text"]
        received_after_second = list(receiver.requests)

        # Cycles 3 and 4 with the receiver down (a closed port).
        receiver.close()
        down_env = clean_env({"DRIFTLOOP_WEBHOOK_URL": closed_port_url()})
        for batch in BATCHES[2:]:
            ingest(project, tmp / "staging", batch)
            cycles.append(after_cycle(project, cycle(project, down_env, *ARGS), previous))
            previous = cycles[-1]["decision_text"]

        # Nothing new arrived: a scheduled run with nothing to do.
        idle = cycle(project, env, *ARGS)
        idle["head"] = git(project, "rev-parse", "HEAD")
    finally:
        receiver.close()  # also when a cycle above failed (closing twice is harmless)

    return {
        "tmp": tmp,
        "project": project,
        "bare": bare,
        "cycles": cycles,
        "busy": busy,
        "idle": idle,
        "received_after_first": received_after_first,
        "received": received_after_second,
    }


def test_each_cycle_exits_with_the_code_its_decision_says(scheduled):
    first, *rest = scheduled["cycles"]
    assert first["decision"]["first_cycle"] is True and first["decision"]["promoted"] is True
    assert first["code"] == EXIT_CODES[PROMOTED], first["stderr"][-3000:]
    for state in scheduled["cycles"]:
        assert state["decided"], "each scheduled cycle had a new batch: promote must have run"
        assert state["code"] == expected_code(state), (state["lines"], state["stderr"][-3000:])
        steps = by_step(state["lines"])
        assert [line["step"] for line in state["lines"]] == [
            "lock",
            "pull",
            "config",
            "repro",
            "push",
            "commit",
            "git_push",
            "notify",
            "cycle",
        ]
        assert all(line["status"] in ("ok", "skipped", "failed") for line in state["lines"])
        assert all(isinstance(line["seconds"], float | int) for line in state["lines"])
        for name in ("lock", "pull", "config", "repro", "push", "commit", "git_push"):
            assert steps[name]["status"] == "ok", steps[name]
        closing = steps["cycle"]
        assert closing["exit_code"] == state["code"]
        assert closing["promoted"] is state["decision"]["promoted"]
        assert closing["version"] == state["decision"]["version"]
    # The drifted weeks reach the decision (whatever it is): cycle 2 sees the drift.
    assert by_step(rest[0]["lines"])["cycle"]["drifted_columns"], "weeks 7-8 drift"


def test_one_commit_per_cycle_names_the_decision_and_reaches_the_bare_remote(scheduled):
    bare, project = scheduled["bare"], scheduled["project"]
    log = git(bare, "log", "--format=%H %s", "main").splitlines()
    assert len(log) == 1 + len(scheduled["cycles"]), log  # the project's first commit, then one per cycle
    pushed = [line.split(" ", 1) for line in reversed(log[:-1])]
    for state, (sha, subject) in zip(scheduled["cycles"], pushed, strict=True):
        assert sha == state["head"], "each cycle's commit is pushed by that cycle"
        d = state["decision"]
        verdict = "promoted" if d["promoted"] else "not promoted"
        version = f" v{d['version']}" if d["version"] else ""  # none: no challenger registered
        assert subject.startswith(f"driftloop cycle: {verdict} {d['model_name']}{version}"), subject
        assert "; drift: " in subject
        assert by_step(state["lines"])["commit"]["commit"] == sha
        files = set(git(project, "show", "--name-only", "--format=", sha).splitlines())
        assert {"dvc.lock", "data/incoming.dvc", "reports/decision.json"} <= files, files
        body = git(project, "show", "-s", "--format=%b", sha)
        assert d["summary"].splitlines()[0] in body
    assert git(project, "status", "--porcelain", "--", "dvc.lock", "data", "reports") == ""


def test_the_data_is_in_the_dvc_remote(scheduled):
    project, store = scheduled["project"], scheduled["tmp"] / "dvcstore"
    status = run([sys.executable, "-m", "dvc", "status", "-c", "--json"], project).stdout
    assert json.loads(status or "{}") == {}, status
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    (training,) = [o for o in lock["stages"]["retrain"]["outs"] if o["path"] == "data/train/training.parquet"]
    digest = training["md5"]
    assert (store / "files" / "md5" / digest[:2] / digest[2:]).is_file()
    assert digest == scheduled["cycles"][-1]["training_md5"]


def test_a_second_cycle_exits_at_once_busy(scheduled):
    busy = scheduled["busy"]
    assert busy["first_still_running"], "the busy cycle must have met a running one"
    assert busy["code"] == EXIT_CODES[BUSY], busy
    assert busy["seconds"] < 15, f"a busy cycle must not wait: {busy['seconds']:.1f} s"
    steps = by_step(busy["lines"])
    assert set(steps) == {"lock", "cycle"}
    assert steps["lock"]["status"] == "failed" and steps["lock"]["busy"] is True
    assert steps["cycle"]["outcome"] == BUSY


def _title(kind: str, model: str | None = None, version: str | None = None, step: str | None = None) -> str:
    """The start of the webhook text driftloop.notify sends for such an event."""
    event = CycleEvent(kind, "s", model=model, version=version, step=step)
    return slack_payload(event)["text"].removesuffix(": s")


def test_the_webhook_hears_each_decision_and_the_drift(scheduled):
    first, second, *_ = scheduled["cycles"]
    received = [json.loads(r["body"]) for r in scheduled["received"]]
    expected = []
    for state in (first, second):
        d, notify = state["decision"], by_step(state["lines"])["notify"]
        kinds = ["drift"] if by_step(state["lines"])["cycle"]["drifted_columns"] else []
        kinds.append("promoted" if d["promoted"] else "rejected")
        assert notify["status"] == "ok" and notify["events"] == kinds and all(notify["delivered"]), notify
        expected += [_title(k, d["model_name"], d["version"]) for k in kinds]
    assert scheduled["received_after_first"] == 1, "the first cycle: its decision, no drift"
    assert len(received) == len(expected)
    for body, title in zip(received, expected, strict=True):
        assert body["text"].startswith(title), (body["text"], title)


def test_a_dead_webhook_does_not_fail_the_cycle(scheduled):
    for state in scheduled["cycles"][2:]:
        assert state["code"] in (EXIT_CODES[PROMOTED], EXIT_CODES[NOT_PROMOTED])
        assert state["code"] == expected_code(state)
        steps = by_step(state["lines"])
        assert steps["notify"]["status"] == "failed" and not any(steps["notify"]["delivered"])
        assert steps["cycle"]["status"] == "ok"
        shown = state["stderr"] + json.dumps(state["lines"])
        assert PATH_TOKEN not in shown and QUERY_TOKEN not in shown, "the webhook URL leaked"


def test_nothing_new_is_nothing_to_do(scheduled):
    idle = scheduled["idle"]
    assert idle["code"] == EXIT_CODES[NOTHING_TO_DO], idle
    steps = by_step(idle["lines"])
    assert steps["repro"]["status"] == "skipped"
    assert steps["commit"]["status"] == "skipped"
    assert idle["head"] == scheduled["cycles"][-1]["head"], "no commit when nothing happened"
    assert steps["notify"]["status"] == "skipped"


def test_a_fresh_clone_restores_the_champions_training_data(scheduled):
    tmp, bare = scheduled["tmp"], scheduled["bare"]
    promoted = [s for s in scheduled["cycles"] if s["decision"]["promoted"]]
    champion = promoted[-1]
    clone = tmp / "fresh"
    run(["git", "clone", "-q", str(bare), str(clone)], tmp)
    run(["git", "checkout", "-q", champion["head"]], clone)
    run([sys.executable, "-m", "dvc", "pull", "-q"], clone)
    restored = md5(clone / "data" / "train" / "training.parquet")
    assert restored == champion["training_md5"]
    lock = yaml.safe_load((clone / "dvc.lock").read_text())
    (training,) = [o for o in lock["stages"]["retrain"]["outs"] if o["path"] == "data/train/training.parquet"]
    assert training["md5"] == restored


def test_a_failed_dvc_pull_fails_the_cycle_at_step_pull(scheduled):
    tmp = scheduled["tmp"]
    clone = tmp / "fresh-no-remote"
    run(["git", "clone", "-q", str(scheduled["bare"]), str(clone)], tmp)
    run([sys.executable, "-m", "dvc", "remote", "modify", "--local", "local", "url", str(tmp / "missing")], clone)
    receiver = Receiver([])
    try:
        failed = cycle(clone, clean_env({"DRIFTLOOP_WEBHOOK_URL": receiver.url()}), *ARGS)
    finally:
        receiver.close()
    assert failed["code"] == EXIT_CODES[FAILED], failed
    steps = by_step(failed["lines"])
    assert steps["pull"]["status"] == "failed"
    assert steps["pull"]["command"] == "dvc pull" and steps["pull"]["exit_code"] != 0
    assert "dvc pull" in steps["pull"]["error"] and "ERROR" in steps["pull"]["error"]
    assert "repro" not in steps and "commit" not in steps, "nothing runs after a failed pull"
    assert steps["cycle"]["failed_step"] == "pull" and steps["cycle"]["status"] == "failed"
    (body,) = [json.loads(r["body"]) for r in receiver.requests]
    assert body["text"].startswith(_title("failed", step="pull")), body["text"]
