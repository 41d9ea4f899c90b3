"""Benchmark: 1,000 paired bootstrap resamples of every classification metric on 100,000 rows.

Run:  python bench/bench_bootstrap.py [--rows 100000] [--resamples 1000] [--classes 3] [--scheme poisson]

What is inside the timed budget: the per-row columns for both models, drawing the
resample counts, the weighted sums (one matrix product per block of resamples) and
turning the sums into accuracy, macro F1, per-class precision/recall/F1, log loss,
Brier score and ECE for both models and their deltas, plus the percentile intervals.
ROC AUC is not bootstrapped: its paired interval and p-value come from DeLong's test
(one ranking per class and model), timed separately and reported.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _fake(y: np.ndarray, k: int, seed: int, skill: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(y)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += skill
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return proba


def main() -> None:
    from driftloop.compare.auc import delong_paired
    from driftloop.compare.bootstrap import bootstrap_sums, percentile_interval
    from driftloop.compare.metrics import ClassificationLayout, classification_columns, classification_from_sums

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--scheme", choices=["poisson", "multinomial"], default="poisson")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    n, k = args.rows, args.classes
    y = np.random.default_rng(0).integers(0, k, n)
    p0 = _fake(y, k, 1, 1.2)  # champion
    p1 = _fake(y, k, 2, 1.3)  # challenger: slightly more skilful
    classes = tuple(f"c{i}" for i in range(k))
    layout = ClassificationLayout(classes, tuple(range(k)), True)

    def run() -> dict[str, tuple[float, float]]:
        X = np.hstack([classification_columns(y, p.argmax(1), p, layout) for p in (p0, p1)])
        sums = bootstrap_sums(X, args.resamples, np.random.default_rng(0), args.scheme)
        w = layout.width
        champ = classification_from_sums(sums[:, :w], layout)
        chall = classification_from_sums(sums[:, w:], layout)
        return {m: percentile_interval(chall[m] - champ[m], 0.95) for m in chall}

    run()  # warm-up (imports, BLAS threads)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        cis = run()
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    auc = delong_paired(y, p0, p1)
    t_auc = time.perf_counter() - t

    best = min(times)
    print(f"rows={n:,} resamples={args.resamples:,} classes={k} scheme={args.scheme} cpus={os.cpu_count()}")
    print(f"bootstrapped metrics ({len(cis)} per model, paired deltas + 95% CIs): "
          + ", ".join(sorted(cis)))
    print(f"bootstrap time: best {best:.3f} s, median {float(np.median(times)):.3f} s over {args.repeat} runs "
          f"-> {'WITHIN' if best <= 1.0 else 'OVER'} the 1 s budget")
    print(f"roc_auc (macro OvR) via paired DeLong, not bootstrapped: {t_auc:.3f} s "
          f"(delta {auc.delta:+.4f}, CI [{auc.ci_low:+.4f}, {auc.ci_high:+.4f}], p={auc.p_value:.3g})")
    print(f"example: accuracy delta CI {cis['accuracy'][0]:+.4f}..{cis['accuracy'][1]:+.4f}, "
          f"f1_macro delta CI {cis['f1_macro'][0]:+.4f}..{cis['f1_macro'][1]:+.4f}")


if __name__ == "__main__":
    main()
