"""`driftloop demo`: two real cycles on the embedded default (sqlite MLflow, local DVC remote).

Cycle 1 sees six calm weeks: the first three are the initial reference, a
challenger is trained and, as the first champion, registered when it passes the
absolute floors. Then four drifted weeks arrive and a second plain ``dvc repro``
detects the drift, retrains, compares both models on the newest week and decides.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from driftloop.errors import ConfigError, DriftloopError

CALM_WEEKS = range(1, 7)
DRIFTED_WEEKS = range(7, 11)
# What a demo run produces; --reset removes exactly these (never conf/, code or git history).
DEMO_STATE = (
    "data/incoming",
    "data/snapshot",
    "data/summary",
    "data/train",
    "data/compare",
    "reports",
    "mlflow.db",
    "mlartifacts",
    ".driftloop",
    "dvc.lock",
)


def _run(cmd: list[str]) -> None:
    print(f"\n$ {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd)
    if proc.returncode != 0:
        raise DriftloopError(f"`{' '.join(cmd)}` failed with exit code {proc.returncode} (see its output above).")


def _reset(root: Path) -> None:
    for rel in DEMO_STATE:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run_demo(rows: int = 1000, reset: bool = True) -> int:
    """Run both demo cycles from the project root and print what happened."""
    from driftloop.config import check_params, write_params
    from driftloop.demo.feedback import write_weeks

    root = Path.cwd()
    if not (root / "conf" / "config.yaml").is_file() or not (root / "dvc.yaml").is_file():
        raise ConfigError(f"{root} is not a driftloop project (no conf/config.yaml or dvc.yaml): cd to its root.")
    if not (root / ".dvc").is_dir():
        _run(["dvc", "init", "-q"] + ([] if (root / ".git").exists() else ["--no-scm"]))
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if reset:
        _reset(root)
    try:
        check_params()
    except ConfigError:
        write_params([])
    incoming = root / "data" / "incoming"
    timings = []

    cycles = (
        ("Cycle 1", CALM_WEEKS, "arrive (no drift)"),
        ("Cycle 2", DRIFTED_WEEKS, "arrive, drifted"),
    )
    for title, weeks, what in cycles:
        print(f"\n== {title}: weeks {weeks.start}-{weeks.stop - 1} {what} ==", flush=True)
        write_weeks(incoming, weeks, rows=rows)
        t0 = time.perf_counter()
        _run(["dvc", "repro"])
        timings.append(time.perf_counter() - t0)
        print_summary(root, title)

    _run(["dvc", "push", "-q"])
    print(f"\nCycle wall times: {timings[0]:.1f} s and {timings[1]:.1f} s.")
    print("Open the MLflow UI:  mlflow ui --backend-store-uri sqlite:///" + str(root / "mlflow.db") + " --port 5000")
    print("Registry status:     driftloop status      |  alias history: driftloop history")
    print("Last cycle again:    driftloop report      |  drift report: driftloop report --open")
    return 0


def print_summary(root: Path, title: str) -> None:
    """The last cycle's summary from its report files, as `dvc repro` and `driftloop report` print it."""
    from driftloop.console import color_enabled
    from driftloop.report import read_cycle, render_summary

    print("\n" + render_summary(read_cycle(root), title=title, color=color_enabled(sys.stdout)), flush=True)


if __name__ == "__main__":
    sys.exit(run_demo())
