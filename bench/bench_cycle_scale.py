"""Benchmark (issue 17, item 6): a whole cycle at scale on one machine, against a baseline.

In a throwaway copy of the project (embedded default: sqlite MLflow, local engine), weekly batches
of a generated table (numeric, categorical and a text column; not the demo's generator: vectorised,
so a million rows take seconds) are written for two cycles. Cycle 1 (``dvc repro``) trains the
first champion; it is setup, timed but not judged. Then new weeks arrive and cycle 2, the measured
one, runs its five stages as DVC runs them (``python pipelines/<stage>.py``), each a process of its
own: snapshot, drift, retrain on the configured sample (``train.strategy=sample``), compare with
the bootstrap, promote. Each stage's wall time and peak RSS are exact (``os.wait4``).

The baseline, measured in the same command, is one process that does only what any retraining
must: read the data (cycle 2's reference and current windows), fit the same model on the same
sample (the rows the retrain stage drew, saved beforehand, so drawing them is not part of the
baseline) and score the holdout once. Target: the cycle at most 1.5 x the baseline's wall time.

    python bench/bench_cycle_scale.py [--rows-per-window 1000000] [--sample-size 100000] [--workers 2]

``--workers`` sets ``engine.n_workers``: the processes that score a large window side by side (the
shipped 2; 1 scores in each stage's process). Peak memory is printed twice: the largest single
process (exact, ``wait4``) and the largest sum over a stage and its workers (sampled every 0.1 s).

``--keep DIR`` keeps the project for profiling a stage again (``python -m cProfile -o ...
pipelines/<stage>.py`` inside it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.demo.scaffold import clean_env, run, scaffold

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("snapshot", "drift", "retrain", "compare", "promote")
TARGET = 1.5
WEEKS_PER_WINDOW = 3  # the shipped data config: a 21-day first reference, then windows of up to 28 days
START = pd.Timestamp("2026-01-05")
LABELS = np.array(["negative", "neutral", "positive"])
AREAS = np.array(["app", "web", "billing", "delivery", "support", "returns"])
CHANNELS = np.array(["email", "chat", "phone"])
FILLERS = np.array([f"f{i}" for i in range(400)])
KEYWORDS = {lab: np.array([f"{lab[:3]}{i}" for i in range(40)]) for lab in LABELS}


# --- data -------------------------------------------------------------------------------------------


def generate_week(week: int, rows: int, drifted: bool, seed: int = 17) -> pd.DataFrame:
    """One weekly batch in the shipped data config's schema (``conf/data/feedback.yaml``).

    The label drives the stars and two of the eight words of the comment (a fifth of them from
    another class: a model cannot be perfect); drifted weeks change the class mix, the channels and
    the stars given, so the drift stage finds drift and the champion is worth challenging.
    """
    rng = np.random.default_rng([seed, week])
    label_p = [0.4, 0.3, 0.3] if drifted else [0.25, 0.35, 0.4]
    labels = rng.choice(3, size=rows, p=label_p)
    star_base = np.array([1.5, 3.0, 4.5]) - (0.5 if drifted else 0.0)
    stars = np.clip(np.rint(star_base[labels] + rng.normal(0, 0.9, rows)), 1, 5).astype("int64")
    word_class = np.where(rng.random(rows) < 0.2, rng.integers(0, 3, rows), labels)
    keywords = np.stack([KEYWORDS[lab] for lab in LABELS])  # (3, 40)
    words = [FILLERS[rng.integers(0, len(FILLERS), rows)] for _ in range(6)]
    words += [keywords[word_class, rng.integers(0, 40, rows)] for _ in range(2)]
    comment = pd.Series(words[0], dtype=object).str.cat([pd.Series(w, dtype=object) for w in words[1:]], sep=" ")
    offsets = np.sort(rng.integers(0, 7 * 24 * 3600, rows))
    return pd.DataFrame(
        {
            "id": pd.Series([f"w{week:02d}-{i:07d}" for i in range(rows)], dtype="string"),
            "timestamp": START + pd.Timedelta(weeks=week - 1) + pd.to_timedelta(offsets, unit="s"),
            "comment": comment.astype("string"),
            "stars": stars,
            "comment_length": comment.str.len().astype("int64"),
            "product_area": pd.Series(AREAS[rng.integers(0, len(AREAS), rows)], dtype="string"),
            "channel": pd.Series(
                CHANNELS[rng.choice(3, size=rows, p=[0.2, 0.6, 0.2] if drifted else [0.5, 0.3, 0.2])], dtype="string"
            ),
            "label": pd.Series(LABELS[labels], dtype="string"),
        }
    )


def write_weeks(folder: Path, weeks: range, rows: int, drift_from: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for week in weeks:
        generate_week(week, rows, drifted=week >= drift_from).to_parquet(folder / f"week_{week:02d}.parquet")


# --- processes, timed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss: int  # bytes: the largest resident set of the process or any process it waited for
    output: str = ""
    tree_peak: int = 0  # bytes: the largest sum of the process's and its descendants' RSS, sampled

    @property
    def mib(self) -> float:
        return self.peak_rss / 2**20


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process below it (the stage and its scoring workers)."""
    import psutil  # DVC's dependency

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):  # a worker that ended between listing and reading
            total += p.memory_info().rss
    return total


def measured(cmd: list[str], cwd: Path) -> Measured:
    """Run ``cmd`` in ``cwd``; its wall time, peak RSS (``wait4``: the largest single process, exact)
    and the peak of the whole process tree's RSS, sampled every 0.1 s (worker processes score side by
    side with the stage: their memory adds up)."""
    import threading

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    done.set()
    sampler.join()
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{cmd} failed ({code}):\n{out[-4000:]}")
    return Measured(seconds, usage.ru_maxrss * 1024, out, tree_peak=max(peak[0], usage.ru_maxrss * 1024))


# --- the baseline -------------------------------------------------------------------------------------


def baseline_worker(project: Path, sample_file: Path) -> None:
    """In its own process: read both windows, fit the model on the sample, score the holdout once."""
    import yaml

    from driftloop.schema import Schema
    from driftloop.train.model import build_model, features_frame, target_values

    t0 = time.perf_counter()
    params = yaml.safe_load((project / "params.yaml").read_text())
    schema = Schema.from_config(params["data"]["schema"])
    reference = pd.read_parquet(project / "data" / "snapshot" / "reference.parquet")
    current = pd.read_parquet(project / "data" / "snapshot" / "current.parquet")
    t_read = time.perf_counter()
    sample = pd.read_parquet(sample_file)
    pipeline = build_model(params["model"], schema)
    pipeline.fit(features_frame(sample, schema, "sample"), target_values(sample, schema))
    t_fit = time.perf_counter()
    holdout = pd.read_parquet(project / "data" / "train" / "holdout.parquet")
    pipeline.predict_proba(features_frame(holdout, schema, "holdout"))
    t_score = time.perf_counter()
    print(
        json.dumps(
            {
                "rows": len(reference) + len(current),
                "read": t_read - t0,
                "fit": t_fit - t_read,
                "score": t_score - t_fit,
                "holdout": len(holdout),
            }
        )
    )


def floor_worker(project: Path, sample_file: Path, workers: int) -> None:
    """In its own process, after the baseline: the scoring a cycle must do beyond the baseline's one
    pass over the holdout, as the stages do it (``predict_outputs`` with ``workers``), timed. The
    drift stage scores the champion on the current window and on its reference side (a holdout's
    worth of rows: the champion's holdout), and compare scores the second model on the holdout.
    The model is the same pipeline fitted on the same sample (its fit is not timed here)."""
    import yaml

    from driftloop.compare import predict_outputs
    from driftloop.schema import Schema
    from driftloop.train.model import build_model, features_frame, target_values

    params = yaml.safe_load((project / "params.yaml").read_text())
    schema = Schema.from_config(params["data"]["schema"])
    sample = pd.read_parquet(sample_file)
    pipeline = build_model(params["model"], schema)
    pipeline.fit(features_frame(sample, schema, "sample"), target_values(sample, schema))
    current = pd.read_parquet(project / "data" / "snapshot" / "current.parquet")
    holdout = pd.read_parquet(project / "data" / "train" / "holdout.parquet")
    # imports and the workers' start-up, outside the timings (a floor: the stages pay both)
    predict_outputs(pipeline, holdout.head(2000), schema, workers=workers, min_rows=1)
    t0 = time.perf_counter()
    predict_outputs(pipeline, current, schema, workers=workers)
    t1 = time.perf_counter()
    predict_outputs(pipeline, holdout, schema, workers=workers)
    t2 = time.perf_counter()
    print(json.dumps({"current": t1 - t0, "holdout": t2 - t1, "current_rows": len(current)}))


def save_sample(project: Path, dest: Path) -> int:
    """The rows cycle 2's retrain stage fitted on, drawn again with its config (same seed, same rows)."""
    import yaml

    from driftloop.schema import Schema
    from driftloop.train.challenger import SPLIT_COLUMN
    from driftloop.train.strategy import sample_training_rows
    from driftloop.train.windows import TrainingWindow, WindowConfig

    params = yaml.safe_load((project / "params.yaml").read_text())
    schema = Schema.from_config(params["data"]["schema"])
    training = pd.read_parquet(project / "data" / "train" / "training.parquet")
    train = training[training[SPLIT_COLUMN] == "train"].drop(columns=[SPLIT_COLUMN]).reset_index(drop=True)
    window = TrainingWindow(train=train, validation=train.head(0), holdout=train.head(0))
    with tempfile.TemporaryDirectory() as tmp:
        sample = sample_training_rows(window, schema, WindowConfig.from_dict(params["train"]), Path(tmp))[0]
    sample.to_parquet(dest)
    return len(sample)


# --- the bench ----------------------------------------------------------------------------------------


def cycle(project: Path, rows_per_window: int, sample_size: int, workers: int) -> dict:
    per_week = -(-rows_per_window // WEEKS_PER_WINDOW)
    incoming = project / "data" / "incoming"
    dvc = [sys.executable, "-m", "dvc"]
    overrides = ["train.strategy=sample", f"train.sample_size={sample_size}", "train.trigger=always"]
    overrides += [f"engine.n_workers={workers}"]
    run(["driftloop", "params", *overrides], project)
    t0 = time.perf_counter()
    write_weeks(incoming, range(1, 2 * WEEKS_PER_WINDOW + 1), per_week, drift_from=10_000)
    generated = time.perf_counter() - t0
    setup = measured([*dvc, "repro", "-q"], project)  # cycle 1: the first champion
    write_weeks(
        incoming, range(2 * WEEKS_PER_WINDOW + 1, 3 * WEEKS_PER_WINDOW + 1), per_week, drift_from=2 * WEEKS_PER_WINDOW
    )
    stages = {stage: measured([sys.executable, f"pipelines/{stage}.py"], project) for stage in STAGES}
    manifest = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())
    train = json.loads((project / "reports" / "train.json").read_text())
    decision = json.loads((project / "reports" / "decision.json").read_text())
    sample_file = project / "bench_sample.parquet"
    save_sample(project, sample_file)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--baseline-worker", str(project), str(sample_file)]
    base = measured(cmd, project)
    detail = json.loads(base.output.strip().splitlines()[-1])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--floor-worker", str(project), str(sample_file)]
    floor = json.loads(measured([*cmd, str(workers)], project).output.strip().splitlines()[-1])
    # a stage process before it does anything: the imports every stage needs (skops, which the stages
    # that load a model import and which imports every scikit-learn estimator, left out: a floor)
    # (the median of three: the first one after a cycle can wait seconds on the disk writing its outputs)
    imports = [sys.executable, "-c", "import mlflow, sklearn, pandas, driftloop.stages"]
    bare = sorted((measured(imports, project) for _ in range(3)), key=lambda m: m.seconds)[1]
    return {
        "per_week": per_week,
        "generated": generated,
        "setup": setup,
        "stages": stages,
        "baseline": base,
        "baseline_detail": detail,
        "floor": floor,
        "bare": bare.seconds,
        "manifest": manifest,
        "train": train,
        "decision": decision,
    }


def report(r: dict, rows_per_window: int) -> bool:
    stages: dict[str, Measured] = r["stages"]
    total = sum(m.seconds for m in stages.values())
    peak = max(m.peak_rss for m in stages.values())
    base: Measured = r["baseline"]
    detail = r["baseline_detail"]
    ratio = total / base.seconds
    m = r["manifest"]
    training = r["train"].get("training") or {}
    print(
        f"rows per window asked: {rows_per_window:,} ({r['per_week']:,} per week); cycle 2 windows: "
        f"reference {m['reference']['rows']:,} rows, current {m['current']['rows']:,} rows"
    )
    print(f"data generated in {r['generated']:.1f} s; cycle 1 (setup, `dvc repro`): {r['setup'].seconds:.1f} s")
    print(
        f"cycle 2 retrain: strategy {training.get('strategy')}, {training.get('rows_used', 0):,} of "
        f"{training.get('rows_window', 0):,} training rows ({training.get('strata')}); holdout "
        f"{r['train']['rows'].get('holdout', 0):,} rows; decision: {r['decision'].get('summary')}"
    )
    print("cycle 2, per stage (each its own process, as DVC runs it):")
    for stage, mm in stages.items():
        print(
            f"  {stage:<9} {mm.seconds:7.1f} s  {mm.seconds / total:5.1%}  peak RSS {mm.mib:7.0f} MiB, "
            f"with its workers {mm.tree_peak / 2**20:7.0f} MiB"
        )
    tree = max(m.tree_peak for m in stages.values())
    print(
        f"  {'total':<9} {total:7.1f} s          peak RSS {peak / 2**20:7.0f} MiB (largest stage), "
        f"with its workers {tree / 2**20:7.0f} MiB"
    )
    print(
        f"baseline (one process): {base.seconds:.1f} s, peak RSS {base.mib:.0f} MiB: read {detail['rows']:,} rows "
        f"{detail['read']:.1f} s, fit on the sample {detail['fit']:.1f} s, score {detail['holdout']:,} holdout rows "
        f"{detail['score']:.1f} s (the rest: imports and start-up)"
    )
    floor = r["floor"]
    extra = floor["current"] + 2 * floor["holdout"] + (len(STAGES) - 1) * r["bare"]
    print(
        f"work a cycle cannot skip beyond the baseline, measured: the champion scores the current window "
        f"({floor['current_rows']:,} rows) {floor['current']:.1f} s and a holdout's worth of reference rows "
        f"{floor['holdout']:.1f} s (drift), the second model the holdout {floor['holdout']:.1f} s (compare), "
        f"{len(STAGES) - 1} more stage processes start {r['bare']:.1f} s each: floor {base.seconds + extra:.1f} s = "
        f"{(base.seconds + extra) / base.seconds:.2f} x the baseline, before validating, summarising or logging"
    )
    met = ratio <= TARGET
    print(
        f"cycle / baseline: wall {ratio:.2f} x (target <= {TARGET} x: {'met' if met else 'NOT met'}), "
        f"peak memory {peak / base.peak_rss:.2f} x (largest process), {tree / base.tree_peak:.2f} x (with workers)"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-window", type=int, default=1_000_000)
    parser.add_argument("--sample-size", type=int, default=100_000, help="train.sample_size")
    parser.add_argument("--keep", type=Path, default=None, help="keep the project in this (new) folder")
    parser.add_argument(
        "--workers", type=int, default=2, help="engine.n_workers: processes scoring a large window (1: the stage only)"
    )
    parser.add_argument("--baseline-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_worker:
        baseline_worker(*args.baseline_worker)
        return 0
    if args.floor_worker:
        floor_worker(Path(args.floor_worker[0]), Path(args.floor_worker[1]), int(args.floor_worker[2]))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="driftloop-bench-"))
    try:
        project = scaffold(ROOT, (args.keep or tmp) / "project", remote=tmp / "store")
        result = cycle(project, args.rows_per_window, args.sample_size, args.workers)
        report(result, args.rows_per_window)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
