"""Benchmark: how often the promotion decision is right, on simulated streams with known drift.

For each task x scenario x challenger kind, N replicates of :func:`run_replicate`
(tests/promote/simulate.py: one stream, one champion, four challengers, driftloop's real
drift verdict, comparison, drift-resolution checks and gates on a 5,000-row holdout).
Prints the promotion rate with a 95 % Wilson interval against its target (better: >= 80 %;
stale, equal, worse: <= 5 %; "!" marks a miss), the mean true gain of the challenger over the
champion on a 20-day sample of the holdout's distribution (40,000 rows by default; primary
metric f1_macro, or rmse as champion - challenger; + = the challenger is better), the rate of the drift
stage's dataset verdict and of "some column drifted", and, for cells with rejections, the
enforced gates that failed most often (what to fix when a truly better challenger is
blocked). Figures, not a timed test.

    python bench/bench_decisions.py [--replicates 100] [--jobs 2] [--tasks classification,regression]
    python bench/bench_decisions.py --quick      # 6 replicates a cell
    python bench/bench_decisions.py --save outcomes.jsonl   # every decision, for a closer look
    python bench/bench_decisions.py --override classification:promote.rules.0.min_gain=0.01   # another rule
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the shared core lives in tests/promote (one copy, imported by both)

from tests.promote import simulate, streams  # noqa: E402


def _unit(args: tuple[str, str, int, int, int, tuple[str, ...]]) -> list[simulate.Outcome]:
    task, scenario, replicate, seed, truth_rows_per_day, overrides = args
    return simulate.run_replicate(
        task, scenario, replicate, seed, truth_rows_per_day=truth_rows_per_day, overrides=overrides
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=100, help="replicates per task x scenario (default 100)")
    parser.add_argument("--quick", action="store_true", help="6 replicates per task x scenario")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1; the machine has 2 cores)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every stream (default 0)")
    parser.add_argument("--tasks", default=",".join(streams.TASKS), help="comma-separated tasks")
    parser.add_argument("--scenarios", default=",".join(streams.SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--save", type=Path, help="also write every outcome to this file (JSON lines)")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="[TASK:]KEY=VALUE",
        help="a Hydra override of the shipped configs, for one task or both, e.g. "
        "classification:promote.rules.0.min_gain=0.01 (repeatable)",
    )
    parser.add_argument(
        "--first",
        type=int,
        default=0,
        help="first replicate index (to resume an interrupted run into another --save file)",
    )
    parser.add_argument("--load", type=Path, nargs="+", help="print the table of --save file(s) instead of simulating")
    parser.add_argument(
        "--truth-rows-per-day",
        type=int,
        default=simulate.TRUTH_ROWS_PER_DAY,
        help=f"rows a day of the truth sample, 20 days (default {simulate.TRUTH_ROWS_PER_DAY})",
    )
    args = parser.parse_args()
    if args.load:
        loaded = [json.loads(line) for path in args.load for line in path.read_text().splitlines() if line.strip()]
        outcomes = [
            simulate.Outcome(
                **{
                    "holdout_champion": float("nan"),
                    **d,
                    "failed_gates": tuple(d["failed_gates"]),
                    "drifted_columns": tuple(d["drifted_columns"]),
                }
            )
            for d in loaded
        ]
        print(simulate.format_table(simulate.summarize(outcomes)))
        return 0
    n = 6 if args.quick else args.replicates
    tasks, scenarios = args.tasks.split(","), args.scenarios.split(",")
    # Replicate-major: an interrupted run (see --save / --load) still covers every cell evenly.
    overrides = {
        t: tuple(
            o.split(":", 1)[1] if o.startswith(f"{t}:") else o
            for o in args.override
            if ":" not in o.split("=", 1)[0] or o.startswith(f"{t}:")
        )
        for t in tasks
    }
    units = [
        (t, s, r, args.seed, args.truth_rows_per_day, overrides[t])
        for r in range(args.first, args.first + n)
        for t in tasks
        for s in scenarios
    ]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one thread per worker: the workers are the parallelism
    t0 = time.perf_counter()
    outcomes: list[simulate.Outcome] = []
    save = args.save.open("w") if args.save else None
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        results = pool.map(_unit, units, chunksize=1) if pool else map(_unit, units)
        for i, rows in enumerate(results, 1):
            outcomes.extend(rows)
            if save:  # as they come, so that an interrupted run keeps what it measured
                save.writelines(json.dumps(dataclasses.asdict(o)) + "\n" for o in rows)
                save.flush()
            if i % 50 == 0:
                print(f"{i}/{len(units)} replicates, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        if save:
            save.close()
    wall = time.perf_counter() - t0
    cells = simulate.summarize(outcomes)
    print(simulate.format_table(cells))
    missed = [c for c in cells if not c.meets_target]
    if args.override:
        print(f"\noverrides: {overrides}")
    print(
        f"\n{len(units)} replicates ({n} per task x scenario, 4 challengers each) in {wall:.0f} s "
        f"({wall / len(units):.2f} s each, {args.jobs} job(s)); seed {args.seed}."
    )
    print(
        f"cells missing their target (point rate): {len(missed)} of {len(cells)}"
        + ("" if not missed else ": " + ", ".join(f"{c.task}/{c.scenario}/{c.kind} {c.rate:.0%}" for c in missed))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
