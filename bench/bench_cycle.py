"""Benchmark: a full demo cycle and a no-op `dvc repro`, in a throwaway copy of the project.

Prints wall times, the per-stage split (from each stage's MLflow run), and ratios against
baselines measured in the same command: the bare start-up of `dvc --version`, and the
targets of issue 2 (no-op repro <= 2 s, a full cycle <= 60 s on 2 cores).

    python bench/bench_cycle.py [--rows 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import run, scaffold

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    run(cmd, cwd)
    return time.perf_counter() - t0


def stage_seconds(project: Path) -> dict[str, float]:
    """Wall time of each stage's MLflow child run in the latest cycle."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("driftloop")
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=12)
    out: dict[str, float] = {}
    for r in runs:
        stage = r.data.tags.get("driftloop.stage")
        if stage and stage not in out and r.info.end_time:
            out[stage] = (r.info.end_time - r.info.start_time) / 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="rows per weekly batch (demo default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="no-op repro repetitions (median reported)")
    args = parser.parse_args()
    dvc = [sys.executable, "-m", "dvc"]
    with tempfile.TemporaryDirectory() as tmp:
        project = scaffold(ROOT, Path(tmp) / "project", remote=Path(tmp) / "store")
        baseline = statistics.median(timed(dvc + ["--version"], project) for _ in range(args.repeat))
        write_weeks(project / "data" / "incoming", range(1, 7), rows=args.rows)
        first = timed(dvc + ["repro"], project)  # includes creating the MLflow DB (~7 s of migrations)
        stages1 = stage_seconds(project)
        write_weeks(project / "data" / "incoming", range(7, 11), rows=args.rows)
        second = timed(dvc + ["repro"], project)
        stages2 = stage_seconds(project)
        noop = statistics.median(timed(dvc + ["repro"], project) for _ in range(args.repeat))

    print(f"rows per week: {args.rows}; cycle 1 = weeks 1-6 (first champion), cycle 2 = weeks 7-10 (drift)")
    print(f"baseline `dvc --version`          : {baseline:6.2f} s")
    print(f"cycle 1 full `dvc repro`           : {first:6.2f} s  ({first / 60:.2f} x the 60 s target; "
          "includes sqlite DB creation)")
    print(f"cycle 2 full `dvc repro`           : {second:6.2f} s  ({second / 60:.2f} x the 60 s target)")
    print(f"no-op `dvc repro` (median of {args.repeat})   : {noop:6.2f} s  ({noop / 2:.2f} x the 2 s target; "
          f"{noop / baseline:.2f} x `dvc --version`)")
    for name, stages in (("cycle 1", stages1), ("cycle 2", stages2)):
        split = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(stages.items(), key=lambda kv: -kv[1]))
        print(f"{name} stage runs (MLflow run time, excludes process start-up): {split}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
