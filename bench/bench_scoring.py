"""Benchmark: a window scored in row blocks by worker processes (``engine.n_workers`` on the local
engine, :func:`driftloop.compare.predict_outputs`' ``workers``) against one process.

The shipped model (``conf/model/logreg_tfidf.yaml``: TF-IDF text, one-hot, scaled numerics, a
logistic regression) is fitted on 100,000 generated rows (bench_cycle_scale's generator, not the
demo's), then scores windows of each size, one process and ``--workers`` processes alternated,
``--rounds`` times; the median of each is printed with their ratio. The outputs must be equal bit
for bit, or the script fails. joblib keeps its worker processes for the life of the process (a stage
starts them once; drift scores twice with them): the first call, which starts them, is printed on
its own, and the medians are of warm calls.

    python bench/bench_scoring.py [--rows 50000 100000 200000 1000000] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cycle_scale import generate_week

from driftloop.compare import predict_outputs
from driftloop.schema import Schema
from driftloop.train.model import build_model, features_frame

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[50_000, 100_000, 200_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    schema = Schema(
        "id", "timestamp", "label", numeric=("stars", "comment_length"),
        categorical=("product_area", "channel"), text=("comment",),
        classes=("negative", "neutral", "positive"),
    )  # fmt: skip
    train = generate_week(1, 100_000, drifted=False)
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "model" / "logreg_tfidf.yaml"))
    t0 = time.perf_counter()
    model = build_model(cfg, schema).fit(features_frame(train, schema, "train"), train["label"].astype(str))
    print(f"fitted on 100,000 rows in {time.perf_counter() - t0:.1f} s; {args.workers} workers against one process")
    failed = False
    cold = generate_week(9, 20_000, drifted=True)
    t0 = time.perf_counter()
    predict_outputs(model, cold, schema, workers=args.workers, min_rows=1)
    print(f"first call, {len(cold):,} rows, starting {args.workers} workers: {time.perf_counter() - t0:.2f} s")
    for rows in args.rows:
        frame = pd.concat([generate_week(w, rows // 4 + 1, drifted=w > 2) for w in range(2, 6)]).head(rows)
        times: dict[int, list[float]] = {1: [], args.workers: []}
        outputs = {}
        for _ in range(args.rounds):
            for workers in (1, args.workers):
                t0 = time.perf_counter()
                outputs[workers] = predict_outputs(model, frame, schema, workers=workers, min_rows=1)
                times[workers].append(time.perf_counter() - t0)
        one, many = outputs[1], outputs[args.workers]
        same = np.array_equal(one.pred, many.pred) and np.array_equal(one.proba, many.proba)
        failed |= not same
        t1, tn = statistics.median(times[1]), statistics.median(times[args.workers])
        print(
            f"{rows:>10,} rows: one process {t1:6.2f} s, {args.workers} workers {tn:6.2f} s, "
            f"ratio {tn / t1:.2f} x; outputs {'equal' if same else 'DIFFERENT'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
