"""Benchmark: how often each ``train.trigger`` decides right, on simulated streams with a known truth.

For each task x scenario, N simulated cycles (tests/train/trigger_streams.py: a stream with trending
and seasonal features, a 5,000-level id-like column, missing values of every pandas kind, text with
line breaks and, every other stream, float labels; driftloop's own windows, manifest, champion
outputs, drift evaluation and drift.json, then :func:`driftloop.train.trigger.decide`). Prints, per
trigger, the firing rate with its 95 % Wilson interval against its target (fire: >= 80 %; quiet:
<= 5 %; gap: should fire but a documented limit keeps it from firing; =truth: champion_age, new_rows
and the composites must equal their hand-computed truth on every cycle), the champion's true
accuracy drop (classification: true, measured in drift.json, CBPE-estimated without labels), and
whether the target is met. Figures, not a timed test.

    python bench/bench_triggers.py [--replicates 40] [--jobs 2]
    python bench/bench_triggers.py --quick          # 4 replicates a cell
    python bench/bench_triggers.py --rule driftloop,point_drop   # also the tables of other rules (always, never,
                                                                 # current_only, point_drop: before the noise guard)
    python bench/bench_triggers.py --tasks classification --scenarios none --replicates 200   # one cell, closer
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the simulation lives in tests/train (one copy, imported by both)

from tests.train import trigger_streams as ts  # noqa: E402


def _unit(args: tuple[str, str, int, int, int]) -> list[ts.Outcome]:
    task, scenario, replicate, seed, truth_rows_per_day = args
    return ts.run_replicate(task, scenario, replicate, seed, truth_rows_per_day=truth_rows_per_day)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=40, help="cycles per task x scenario (default 40)")
    parser.add_argument("--quick", action="store_true", help="4 cycles per task x scenario")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of every stream (default 0)")
    parser.add_argument("--tasks", default=",".join(ts.TASKS), help="comma-separated tasks")
    parser.add_argument("--scenarios", default=",".join(ts.SCENARIOS), help="comma-separated scenarios")
    parser.add_argument(
        "--rule",
        default="driftloop",
        help=f"comma-separated rules to tabulate, of {list(ts.RULES)} (default driftloop)",
    )
    parser.add_argument("--truth-rows-per-day", type=int, default=300, help="rows a day of the truth samples")
    args = parser.parse_args()
    n = 4 if args.quick else args.replicates
    units = [
        (t, s, r, args.seed, args.truth_rows_per_day)
        for r in range(n)
        for t in args.tasks.split(",")
        for s in args.scenarios.split(",")
    ]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one thread per worker: the workers are the parallelism
    t0 = time.perf_counter()
    outcomes: list[ts.Outcome] = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            for rows in pool.map(_unit, units, chunksize=1):
                outcomes.extend(rows)
    else:
        for unit in units:
            outcomes.extend(_unit(unit))
    wall = time.perf_counter() - t0
    for rule in args.rule.split(","):
        cells = ts.summarize(outcomes, rule)
        print(f"rule {rule}:\n{ts.format_table(cells)}")
        missed = ts.missed_targets(outcomes, rule, pooled=False)
        gaps = [c for c in cells if c.target == "gap"]
        print(f"cells missing their target (95% Wilson, gaps aside): {len(missed)} of {len(cells) - len(gaps)}")
        for line in missed:
            print(f"  {line}")
        for c in gaps:
            print(f"known gap: {c.task}/{c.scenario}/{c.trigger} fired {c.fired}/{c.n} (should fire)")
        print()
    print(f"{len(units)} cycles ({n} per task x scenario) in {wall:.0f} s ({args.jobs} job(s)); seed {args.seed}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
