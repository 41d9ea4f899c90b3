"""Errors short and coloured on a terminal, plain in logs; progress bars on a terminal only
(driftloop.console, issue 15 item 5). The terminal cases run in a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

import numpy as np
import pandas as pd
import pytest

from driftloop.console import color_enabled, print_error, progress_on_terminal, progress_wanted

RED_ERROR = "\x1b[1;31merror:\x1b[0m"
QUIET_KEYS = ("NO_COLOR", "FORCE_COLOR", "CI", "DRIFTLOOP_PROGRESS", "TERM")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in QUIET_KEYS}
    env.update(TERM="xterm", PYTHONUNBUFFERED="1", **extra)
    return env


def run_in_pty(args: list[str], env: dict[str, str], cwd=None, timeout: float = 120) -> tuple[int, str]:
    """Run ``args`` with stdin, stdout and stderr on a real pseudo-terminal; its exit code and output."""
    master, slave = pty.openpty()
    # 24 rows of 100 columns: a new pty is 0x0, and a bar sized to 0 columns draws nothing.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return rc, b"".join(chunks).decode("utf-8", "replace")


# -- colour ---------------------------------------------------------------------------------------


def test_error_is_plain_when_not_a_terminal(capsys, monkeypatch):
    for key in QUIET_KEYS:
        monkeypatch.delenv(key, raising=False)
    print_error("reports/drift.json not found", "driftloop promote")
    assert capsys.readouterr().err == "driftloop promote: error: reports/drift.json not found\n"


def test_force_color_colours_and_no_color_wins(monkeypatch):
    for key in QUIET_KEYS:
        monkeypatch.delenv(key, raising=False)
    forced, plain = io.StringIO(), io.StringIO()
    monkeypatch.setenv("FORCE_COLOR", "1")
    print_error("boom", stream=forced)
    assert forced.getvalue() == f"driftloop: {RED_ERROR} boom\n"
    monkeypatch.setenv("NO_COLOR", "1")
    print_error("boom", stream=plain)
    assert plain.getvalue() == "driftloop: error: boom\n"


def test_colour_conventions():
    not_tty = io.StringIO()
    assert not color_enabled(not_tty, {})
    assert color_enabled(not_tty, {"FORCE_COLOR": "1"})
    assert not color_enabled(not_tty, {"FORCE_COLOR": "0"})
    assert not color_enabled(not_tty, {"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert color_enabled(not_tty, {"FORCE_COLOR": "1", "NO_COLOR": ""})  # an empty NO_COLOR is unset


def test_error_masks_credentials(capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    print_error("cannot reach http://alice:s3cret@host:5000")
    err = capsys.readouterr().err
    assert "s3cret" not in err and "host:5000" in err


def test_cli_error_is_red_on_a_terminal_and_plain_in_a_pipe(tmp_path):
    """A real command failing (`driftloop report` where no cycle ran), on a pty and through a pipe."""
    args = [sys.executable, "-m", "driftloop", "report"]
    rc, out = run_in_pty(args, _env(), cwd=tmp_path)
    assert rc == 4, out
    assert f"driftloop: {RED_ERROR} reports/decision.json not found" in out
    piped = subprocess.run(args, env=_env(), cwd=tmp_path, capture_output=True, text=True)
    assert piped.returncode == 4
    assert piped.stderr.startswith("driftloop: error: reports/decision.json not found")
    assert "\x1b[" not in piped.stderr
    rc, out = run_in_pty(args, _env(NO_COLOR="1"), cwd=tmp_path)
    assert rc == 4 and "\x1b[" not in out and "driftloop: error: " in out


def test_stage_error_is_red_on_a_terminal(tmp_path):
    """run_stage's error line: a stage run where there is no project."""
    code = "import sys; from driftloop.stages import run_stage; sys.exit(run_stage('drift'))"
    rc, out = run_in_pty([sys.executable, "-c", code], _env(), cwd=tmp_path)
    assert rc != 0, out
    assert f"driftloop drift: {RED_ERROR} " in out


# -- progress bars --------------------------------------------------------------------------------

# Stage-like long work under the edge's progress_on_terminal: drift over many columns, then a bootstrap.
LONG_WORK = """
import sys
import numpy as np, pandas as pd
from driftloop.console import progress_on_terminal
from driftloop.drift import evaluate_drift, summarize_reference
from driftloop.compare.bootstrap import bootstrap_sums

rng = np.random.default_rng(0)
ref = pd.DataFrame({f"x{i}": rng.normal(size=400) for i in range(40)})
with progress_on_terminal(delay=0) as shown:
    report = evaluate_drift(summarize_reference(ref, dict.fromkeys(ref, "numeric")), ref)
    bootstrap_sums(np.ones((200, 2)), 2000, np.random.default_rng(0))
print("bars shown:", shown, "| tqdm imported:", "tqdm" in sys.modules, "| drifted:", report.drifted)
"""


def test_long_work_shows_bars_on_a_terminal():
    rc, out = run_in_pty([sys.executable, "-c", LONG_WORK], _env())
    assert rc == 0, out
    assert "driftloop drift" in out and "/40 [" in out and "column" in out
    assert "driftloop bootstrap" in out and "/2000 [" in out
    assert "bars shown: True" in out and "drifted: False" in out


def test_long_work_is_quiet_in_ci_and_when_asked(capsys):
    for env in (_env(CI="true"), _env(DRIFTLOOP_PROGRESS="0")):
        rc, out = run_in_pty([sys.executable, "-c", LONG_WORK], env)
        assert rc == 0, out
        assert "driftloop drift" not in out and "bars shown: False" in out


def test_long_work_prints_nothing_when_captured():
    """Through pipes (a log, CI, a test): no bar, no carriage return, and tqdm never imported."""
    proc = subprocess.run([sys.executable, "-c", LONG_WORK], env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout == "bars shown: False | tqdm imported: False | drifted: False\n"


def test_in_process_capture_stays_clean(capsys):
    from driftloop.compare.bootstrap import bootstrap_sums
    from driftloop.drift import evaluate_drift, summarize_reference

    ref = pd.DataFrame({f"x{i}": np.arange(100.0) for i in range(12)})
    with progress_on_terminal(delay=0) as shown:
        evaluate_drift(summarize_reference(ref, dict.fromkeys(ref, "numeric")), ref)
        bootstrap_sums(np.ones((50, 2)), 500, np.random.default_rng(0))
    assert shown is False
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),
        ({"CI": "true"}, False),
        ({"CI": "true", "DRIFTLOOP_PROGRESS": "1"}, True),
        ({"DRIFTLOOP_PROGRESS": "0"}, False),
        ({"TERM": "dumb"}, False),
    ],
)
def test_progress_policy_on_a_terminal(env, wanted):
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            assert progress_wanted(tty, env) is wanted
            assert progress_wanted(io.StringIO(), env) is False  # never off a terminal
    finally:
        os.close(slave)
        os.close(master)
