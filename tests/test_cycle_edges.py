"""`driftloop cycle`'s edges, fast and with real processes: a held lock (busy, at once), a failing
step named in its JSON line (the config check, a git pull outside a repository), a webhook told of
the failure, and the human lines only when stdout is a terminal. The full cycles, with git and DVC
remotes, are tests/pipeline/test_cycle_command.py (slow)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from driftloop.demo.scaffold import clean_env
from driftloop.schedule.steps import BUSY, EXIT_CODES, FAILED
from tests.test_notify import Receiver

DRIFTLOOP = str(Path(sys.executable).parent / "driftloop")


def cycle(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict], str, float]:
    start = time.monotonic()
    proc = subprocess.run([DRIFTLOOP, "cycle", *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]  # every stdout line is JSON
    return proc.returncode, lines, proc.stderr, time.monotonic() - start


def test_a_held_lock_means_busy_at_once(tmp_path):
    lock = FileLock(str(tmp_path / ".driftloop" / "cycle.lock"))
    (tmp_path / ".driftloop").mkdir()
    with lock:
        code, lines, _, seconds = cycle(tmp_path, "--project", str(tmp_path))
    assert code == EXIT_CODES[BUSY]
    assert seconds < 10, f"a busy cycle must not wait for the lock: {seconds:.1f} s"
    assert [(line["step"], line["status"]) for line in lines] == [("lock", "failed"), ("cycle", "skipped")]
    assert lines[0]["busy"] is True and lines[1]["outcome"] == BUSY and lines[1]["exit_code"] == code
    # Negative control: the same command with the lock free gets past the lock (and fails later:
    # there is no project here).
    code, lines, _, _ = cycle(tmp_path, "--project", str(tmp_path))
    assert lines[0] == {**lines[0], "step": "lock", "status": "ok"}
    assert code == EXIT_CODES[FAILED]


def test_a_failed_config_check_names_the_step_and_tells_the_webhook(tmp_path):
    """No params.yaml here: the config step fails; what follows it never runs."""
    receiver = Receiver([])
    try:
        code, lines, stderr, _ = cycle(
            tmp_path, "--lock", str(tmp_path / "x.lock"), env=clean_env({"DRIFTLOOP_WEBHOOK_URL": receiver.url()})
        )
    finally:
        receiver.close()
    assert code == EXIT_CODES[FAILED]
    steps = {line["step"]: line for line in lines}
    assert [line["step"] for line in lines] == ["lock", "pull", "config", "notify", "cycle"]
    assert steps["pull"]["status"] == "skipped"
    assert steps["config"]["status"] == "failed"
    assert steps["config"]["command"] == "driftloop params --check"
    assert "params.yaml" in steps["config"]["error"], steps["config"]
    assert steps["cycle"]["failed_step"] == "config"
    assert steps["notify"]["events"] == ["failed"] and steps["notify"]["delivered"] == [True]
    (request,) = receiver.requests
    assert "failed at step config" in json.loads(request["body"])["text"]
    assert "params.yaml" in stderr  # the command's own message, on stderr


def test_a_failed_git_pull_fails_the_cycle_at_step_pull(tmp_path):
    env = clean_env({"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})  # no repository above tmp_path
    code, lines, _, _ = cycle(tmp_path, "--pull", env=env)
    assert code == EXIT_CODES[FAILED]
    pull = next(line for line in lines if line["step"] == "pull")
    assert pull["status"] == "failed" and pull["command"] == "git pull --ff-only"
    assert pull["error"].startswith("`git pull --ff-only` exited") and "fatal:" in pull["error"]
    assert lines[-1]["failed_step"] == "pull"


def test_a_diverged_branch_fails_the_cycle_at_step_pull(tmp_path):
    """Someone pushed while this host holds a commit of its own: `git pull --ff-only` refuses, and
    the cycle stops there rather than run on a history it cannot push."""
    env = clean_env()

    def git(cwd: Path, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    bare, here, there = tmp_path / "remote.git", tmp_path / "here", tmp_path / "there"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp_path, "clone", "-q", str(bare), str(here))
    (here / "a.txt").write_text("a")
    git(here, "add", "a.txt")
    git(here, "commit", "-qm", "a")
    git(here, "push", "-q", "-u", "origin", "main")
    git(tmp_path, "clone", "-q", str(bare), str(there))
    for clone, name in ((there, "theirs.txt"), (here, "ours.txt")):
        (clone / name).write_text(name)
        git(clone, "add", name)
        git(clone, "commit", "-qm", name)
    git(there, "push", "-q")
    code, lines, _, _ = cycle(here, "--pull", env=env)
    assert code == EXIT_CODES[FAILED]
    pull = next(line for line in lines if line["step"] == "pull")
    assert pull["status"] == "failed" and pull["command"] == "git pull --ff-only", pull
    assert "fatal:" in pull["error"], pull
    assert [line["step"] for line in lines] == ["lock", "pull", "notify", "cycle"]


def _run_on_pty(cwd: Path, *args: str) -> tuple[int, str, str]:
    """Run `driftloop cycle` with stdout on a pseudo-terminal; return its code, stdout and stderr."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [DRIFTLOOP, "cycle", *args], cwd=cwd, env=clean_env(), stdout=secondary, stderr=subprocess.PIPE, text=True
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(main, 4096)
        except OSError:  # the pty closed: the process has ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, b"".join(chunks).decode(), stderr


def test_human_lines_only_when_stdout_is_a_terminal(tmp_path):
    code, out, stderr = _run_on_pty(tmp_path, "--lock", str(tmp_path / "x.lock"))
    assert code == EXIT_CODES[FAILED]
    assert "driftloop cycle: config FAILED" in stderr
    assert "driftloop cycle: lock ok" in stderr
    # stdout is the same JSON lines on a terminal as in a pipe.
    assert [json.loads(line)["step"] for line in out.splitlines() if line.strip()][-1] == "cycle"
    _, _, piped_stderr, _ = cycle(tmp_path, "--lock", str(tmp_path / "x.lock"))
    assert "driftloop cycle: config FAILED" not in piped_stderr
