"""Benchmark: drift summaries of a partitioned parquet window, local chunked vs a Dask LocalCluster.

Run:  python bench/bench_dask.py [--rows 2_000_000] [--columns 25] [--files 40] [--workers 2]
                                 [--memory-limit 1GiB] [--chunk-size 200_000] [--dir DIR] [--keep]
The issue's size:  python bench/bench_dask.py --rows 20_000_000 --files 200

What it does:
1. writes ``--rows`` rows x ``--columns`` columns (numeric with NaN, categorical with 200 levels and
   missing values, two text columns) as hive-partitioned parquet, ``--files`` files, one file at a
   time (the window is never whole in memory), and a reference of 200,000 rows;
2. ``local``: in a fresh process, :func:`driftloop.engine.summarize_partitioned` with no engine (the
   partitions in a loop, each read in ``--chunk-size`` chunks: the chunked mode) and ``evaluate_drift``;
3. ``dask``: a ``LocalCluster`` of ``--workers`` one-thread worker processes with ``--memory-limit``
   each (below the window's in-memory size: Dask pauses a worker at 80 % of it and restarts it at
   95 %), the same summaries as one task per file, merged here, and ``evaluate_drift``.

It prints wall time and peak memory (the process's peak RSS, ``ru_maxrss``: the local process, and
each Dask worker process) with the ratios dask / local, checks that the two reports are equal, and
reports each worker's peak against its memory limit and the window's in-memory size: memory stays
bounded when the peak does not grow with ``--rows`` (run two sizes to see it).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

WORDS = np.array([f"w{i}" for i in range(2000)])
LEVELS = np.array([f"level-{i}" for i in range(200)], dtype=object)


def _kinds(n_columns: int) -> dict[str, str]:
    n_text = 2 if n_columns >= 6 else 0
    n_cat = max(1, n_columns // 4)
    n_num = n_columns - n_text - n_cat
    return {
        **{f"num{i}": "numeric" for i in range(n_num)},
        **{f"cat{i}": "categorical" for i in range(n_cat)},
        **{f"text{i}": "text" for i in range(n_text)},
    }


DOC_POOL = 50_000


@functools.cache
def _docs() -> np.ndarray:
    words = np.random.default_rng(7).choice(WORDS, (DOC_POOL, 8))
    return np.array([" ".join(r[:4]) + "\n" + " ".join(r[4:]) for r in words], dtype=object)


def _frame(n: int, kinds: dict[str, str], seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {}
    for i, (c, kind) in enumerate(kinds.items()):
        if kind == "numeric":
            x = rng.normal(shift * (i % 3 == 0), 1.0 + i / 10, n)
            x[rng.random(n) < 0.02] = np.nan
            cols[c] = x
        elif kind == "categorical":
            v = LEVELS[np.minimum(rng.zipf(1.5, n), len(LEVELS)) - 1].copy()
            v[rng.random(n) < 0.02] = None
            cols[c] = v
        else:  # drawn from a pool of documents: joining words row by row took most of the writing time
            cols[c] = _docs()[rng.integers(0, DOC_POOL, n)]
    return pd.DataFrame(cols)


def write_window(root: Path, rows: int, files: int, kinds: dict[str, str]) -> int:
    """Hive partitions ``day=<k>/part-<j>.parquet``; returns the window's in-memory size in bytes
    (summed over the files' DataFrames, deep)."""
    per_file = -(-rows // files)
    in_memory = 0
    for j in range(files):
        n = min(per_file, rows - j * per_file)
        if n <= 0:
            break
        df = _frame(n, kinds, seed=1000 + j, shift=0.1)
        in_memory += int(df.memory_usage(deep=True).sum())
        folder = root / f"day={j % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        df.to_parquet(folder / f"part-{j:05d}.parquet", row_group_size=100_000)
    return in_memory


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _load(args_dict: dict) -> tuple:
    from driftloop.drift import DriftConfig, ReferenceSummary

    cfg = DriftConfig.from_dict({"chunk_size": args_dict["chunk_size"]})
    return ReferenceSummary.load(args_dict["reference"]), cfg


def _warm(_: int = 0) -> int:
    """Import what a summary task imports (the baseline a worker holds before any partition)."""
    import driftloop.drift.chunks
    import driftloop.drift.summary  # noqa: F401

    return os.getpid()


def run_local(args_dict: dict) -> dict:
    """In a fresh process: the local engine's summaries and the report; its wall time and peak RSS."""
    from driftloop.drift import evaluate_drift
    from driftloop.engine import summarize_partitioned

    summary, cfg = _load(args_dict)
    _warm()
    baseline = _rss()
    t0 = time.perf_counter()
    cs = summarize_partitioned(summary, args_dict["window"], cfg)
    t1 = time.perf_counter()
    report = evaluate_drift(summary, cs, cfg)
    t2 = time.perf_counter()
    return {
        "summaries_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "peak_rss": _peak_rss(),
        "baseline_rss": baseline,
        "report": report.to_dict(),
    }


def run_dask(args_dict: dict, workers: int, memory_limit: str) -> dict:
    """A LocalCluster with the memory limit; the summaries as one task per file; per-worker peaks."""
    from distributed import Client, LocalCluster

    from driftloop.drift import evaluate_drift
    from driftloop.engine import open_engine, summarize_partitioned

    summary, cfg = _load(args_dict)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            memory_limit=memory_limit,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm)
        baseline = client.run(_rss)
        samples: dict[str, int] = dict.fromkeys(baseline, 0)
        stop = threading.Event()

        def sample() -> None:  # RSS every 0.2 s (ru_maxrss below is the exact peak; this shows restarts)
            while not stop.is_set():
                try:
                    for w, rss in client.run(_rss).items():
                        samples[w] = max(samples.get(w, 0), rss)
                except Exception:  # a worker restarting: skip this sample
                    pass
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        pids_before = client.run(os.getpid)
        t0 = time.perf_counter()
        with open_engine(client=client) as engine:
            cs = summarize_partitioned(summary, args_dict["window"], cfg, engine)
        t1 = time.perf_counter()
        stop.set()
        sampler.join()
        peaks = client.run(_peak_rss)
        restarted = sorted(set(pids_before.values()) - set(client.run(os.getpid).values()))
        report = evaluate_drift(summary, cs, cfg)
        t2 = time.perf_counter()
    return {
        "summaries_s": t1 - t0,
        "evaluate_s": t2 - t1,
        "peak_rss": peaks,
        "sampled_rss": samples,
        "baseline_rss": baseline,
        "restarted_workers": len(restarted),
        "client_peak_rss": _peak_rss(),
        "report": report.to_dict(),
    }


def _mib(b: float) -> str:
    return f"{b / 2**20:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--columns", type=int, default=25)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="1GiB", help="per Dask worker; below the window's in-memory size")
    ap.add_argument("--chunk-size", type=int, default=200_000)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the window (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the written window")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
    args = ap.parse_args()

    from dask.utils import parse_bytes

    from driftloop.drift import summarize_reference

    root = args.dir or Path(tempfile.mkdtemp(prefix="bench_dask_"))
    window = root / "window"
    kinds = _kinds(args.columns)
    t0 = time.perf_counter()
    in_memory = write_window(window, args.rows, args.files, kinds)
    size_on_disk = sum(p.stat().st_size for p in window.rglob("*.parquet"))
    ref = _frame(200_000, kinds, seed=1, shift=0.0)
    summarize_reference(ref, kinds).save(root / "reference.npz")
    del ref
    print(
        f"window: {args.rows:,} rows x {len(kinds)} columns in {args.files} files, {_mib(size_on_disk)} on disk, "
        f"{_mib(in_memory)} in memory (pandas, deep); written in {time.perf_counter() - t0:.1f} s"
    )
    limit = parse_bytes(args.memory_limit)
    print(
        f"dask: {args.workers} workers x 1 thread, memory limit {_mib(limit)} each "
        f"({limit / in_memory:.2f} of the window's in-memory size)"
    )
    if limit >= in_memory:
        print("  note: the limit is not below the window's in-memory size; raise --rows or lower --memory-limit")
    job = {"reference": str(root / "reference.npz"), "window": str(window), "chunk_size": args.chunk_size}
    try:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            local = pool.submit(run_local, job).result()
        with ProcessPoolExecutor(1, mp_context=ctx) as pool:
            dask = pool.submit(run_dask, job, args.workers, args.memory_limit).result()
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(root, ignore_errors=True)

    same = local.pop("report") == dask.pop("report")
    worker_peaks = list(dask["peak_rss"].values())
    worker_base = list(dask["baseline_rss"].values())
    print(f"{'':24}{'local chunked':>16}{'dask':>16}{'dask / local':>14}")
    print(
        f"{'summaries wall time':24}{local['summaries_s']:>15.2f}s{dask['summaries_s']:>15.2f}s"
        f"{dask['summaries_s'] / local['summaries_s']:>14.2f}"
    )
    print(f"{'evaluate (tests)':24}{local['evaluate_s']:>15.2f}s{dask['evaluate_s']:>15.2f}s")
    print(
        f"{'peak RSS per process':24}{_mib(local['peak_rss']):>16}{_mib(max(worker_peaks)):>16}"
        f"{max(worker_peaks) / local['peak_rss']:>14.2f}   (dask: the largest worker)"
    )
    print(
        f"{'  above its baseline':24}{_mib(local['peak_rss'] - local['baseline_rss']):>16}"
        f"{_mib(max(p - b for p, b in zip(worker_peaks, worker_base, strict=True))):>16}"
    )
    for w, peak in dask["peak_rss"].items():
        print(
            f"  worker {w}: peak {_mib(peak)} ({peak / limit:.0%} of its limit, {peak / in_memory:.0%} of the window), "
            f"sampled max {_mib(dask['sampled_rss'].get(w, 0))}"
        )
    print(f"  dask client process peak {_mib(dask['client_peak_rss'])}; workers restarted: {dask['restarted_workers']}")
    print(f"reports equal (local vs dask): {same}")
    if args.json:
        print(json.dumps({"rows": args.rows, "in_memory": in_memory, "local": local, "dask": dask, "same": same}))
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
