"""Benchmark of the drift suite against a plain one-pass baseline (and Evidently when available).

Usage::

    python bench/bench_drift.py --sizes 100k,1M,5M [--chunked-sizes 1M,20M] [--breakdown] [--quick] [--workdir DIR]
    python bench/bench_drift.py --sizes 100k,1M --ks-variants 20000:4096,100000000:4096  # KS sketch vs exact

Data: 25 columns = 20 float64 columns with ~5% NaN + 5 string categorical columns with 3, 30, 300,
3,000 and 10,000 levels; the current window has a mild shift in some columns. The reference has
min(N, 1M) rows and its summary (``ReferenceSummary``) / quantiles are built before timing, as a
snapshot stage would. Each measurement runs in a fresh child process (wall time of the work only,
peak RSS from /proc/self/status VmHWM, falling back to ``getrusage().ru_maxrss``), so measurements do not pollute each
other. Wall time starts before the child's imports (pandas for the baseline; pandas and driftloop for
the suite, which imports neither scipy nor sklearn for numeric and categorical columns), so import
costs count. Repetitions are interleaved (baseline,
suite, ... then again) so that background load hits every mode alike; the medians are reported,
ratios are ratios of medians, and beside them the median over rounds of each round's own ratio to
its baseline run (the machine's speed drifts by +-30% over tens of seconds on a shared VM; a round
takes a few seconds, so paired ratios cancel most of it). CPU time (user + sys) is printed beside
wall time because the suite uses two threads where the baseline's own code uses one (pyarrow's reader is multi-threaded
in both). Modes:

* ``baseline``: read the 25 columns, bin numeric columns against 10 reference-quantile bins with
  ``searchsorted`` + ``bincount``, ``value_counts`` the categorical ones. Nothing else.
* ``suite``: ``evaluate_drift`` on the in-memory frame (all tests, corrections, report dict),
  domain classifier included (``suite_univariate`` without it). The reported ratios are for the
  whole child process; at 100k rows the fixed costs (importing driftloop ~0.03 s, loading the
  reference summary ~0.03 s, the domain classifier on 2 x 2,000 rows ~0.06 s of CPU) weigh against
  a baseline that is mostly pandas' own import (~0.35 s of its ~0.55 s).
* ``chunked``: ``evaluate_drift`` over ``driftloop.drift.chunks.iter_file_chunks`` (what the drift
  stage and ``driftloop drift`` run): parquet record batches of ``chunk_size`` rows, or one read
  when the file has no more rows than that; memory flat in rows.
* ``evidently``: DataDriftPreset on the same files, run by the interpreter in ``$EVIDENTLY_PYTHON``
  (Evidently is never installed in the project venv); "skipped" when the variable is unset.

driftloop's modules are byte-compiled before timing, as an installed package's are: this machine
sets PYTHONDONTWRITEBYTECODE=1, under which every child would recompile them from source (~45 ms
that no installed copy pays, measured with ``python -X importtime``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_NUM, CAT_LEVELS = 20, (3, 30, 300, 3000, 10_000)
GEN_CHUNK = 1_000_000


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1], 1)
    return int(float(s[:-1] if s[-1] in "km" else s) * mult)


def gen_chunk(n: int, rng: np.random.Generator, drift: bool):
    import pandas as pd

    cols = {}
    for i in range(N_NUM):
        x = rng.normal(0.2 if drift and i % 4 == 0 else 0.0, 1.0, n)
        x[rng.random(n) < 0.05] = np.nan
        cols[f"num_{i}"] = x
    for j, k in enumerate(CAT_LEVELS):
        w = 1.0 / np.arange(1, k + 1) ** (0.8 if drift and j == 0 else 1.0)
        codes = rng.choice(k, n, p=w / w.sum())
        cols[f"cat_{j}"] = pd.Categorical.from_codes(codes, [f"L{v}" for v in range(k)]).astype(str)
    return pd.DataFrame(cols)


def write_parquet(path: Path, n: int, seed: int, drift: bool) -> Path:
    """Generate ``n`` rows chunk by chunk into one parquet file (bounded memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    writer = None
    tmp = path.with_suffix(".tmp")
    for start in range(0, n, GEN_CHUNK):
        t = pa.Table.from_pandas(gen_chunk(min(GEN_CHUNK, n - start), rng, drift), preserve_index=False)
        writer = writer or pq.ParquetWriter(tmp, t.schema)
        writer.write_table(t, row_group_size=250_000)
    writer.close()
    tmp.rename(path)
    return path


def kinds() -> dict[str, str]:
    return {
        **{f"num_{i}": "numeric" for i in range(N_NUM)},
        **{f"cat_{j}": "categorical" for j in range(len(CAT_LEVELS))},
    }


def prepare_reference(ref_path: Path, workdir: Path, variant: str = "") -> tuple[Path, Path]:
    """Reference summary (suite) and quantile edges (baseline), each built once.

    ``variant`` ``"E:S"`` builds the summary with ``numeric.exact_max_values = E`` and
    ``numeric.sketch_size = S`` (its own file); empty: the default config.
    """
    import pandas as pd

    from driftloop.drift import DriftConfig, summarize_reference

    tag = f".{variant.replace(':', '_')}" if variant else ""
    summ, quant = workdir / f"{ref_path.stem}{tag}.summary.npz", workdir / f"{ref_path.stem}.quantiles.json"
    if not summ.exists() or not quant.exists():
        ref = pd.read_parquet(ref_path)
        cfg = DriftConfig()
        if variant:
            e, sk = (int(v) for v in variant.split(":"))
            cfg = DriftConfig.from_dict({"numeric": {"exact_max_values": e, "sketch_size": sk}})
        t = time.perf_counter()
        summarize_reference(ref, kinds(), cfg).save(summ)
        print(
            f"  summarize_reference({len(ref):,} rows{', ' + variant if variant else ''}): "
            f"{time.perf_counter() - t:.2f} s, {summ.stat().st_size / 1e6:.1f} MB"
        )
        q = {c: np.nanquantile(ref[c].to_numpy(), np.arange(1, 10) / 10).tolist() for c in ref if c.startswith("num")}
        quant.write_text(json.dumps(q))
    return summ, quant


# ----------------------------------------------------------------------------- child-process work
def child(mode: str, current: Path, summary: Path, quantiles: Path) -> dict:
    t0 = time.perf_counter()
    if mode == "baseline":
        import pandas as pd

        q = json.loads(quantiles.read_text())
        df = pd.read_parquet(current)
        out = {}
        for c in df.columns:
            if c in q:
                x = df[c].to_numpy()
                out[c] = (
                    np.bincount(np.searchsorted(np.asarray(q[c]), x[~np.isnan(x)]), minlength=11),
                    int(np.isnan(x).sum()),
                )
            else:
                out[c] = df[c].value_counts(dropna=False)
    else:
        import pandas as pd

        from driftloop.drift import DriftConfig, ReferenceSummary, evaluate_drift
        from driftloop.drift.chunks import iter_file_chunks

        cfg = DriftConfig.from_dict({"multivariate": {"enabled": mode != "suite_univariate"}})
        s = ReferenceSummary.load(summary)
        if mode == "chunked":
            report = evaluate_drift(s, iter_file_chunks(current, list(s.columns), cfg.chunk_size), cfg)
        else:
            report = evaluate_drift(s, pd.read_parquet(current), cfg)
        json.dumps(report.to_dict())
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mb": peak_rss_mb()}


def child_phases(current: Path, summary: Path) -> dict:
    """Where a fresh process spends the full suite's time, phase by phase (one thread at a time)."""
    marks = {}
    t = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        marks[name] = now - t
        t = now

    import pandas as pd

    mark("import pandas")
    from driftloop.drift import DriftConfig, ReferenceSummary, evaluate_drift
    from driftloop.drift.multivariate import domain_classifier

    mark("import driftloop.drift")
    s = ReferenceSummary.load(summary)
    mark("load reference summary")
    df = pd.read_parquet(current)
    mark("read current")
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    report = evaluate_drift(s, df, cfg)
    json.dumps(report.to_dict())
    mark("univariate evaluation (2 threads)")
    sample = df.sample(min(len(df), 2000), random_state=0).reset_index(drop=True)
    domain_classifier(s.sample, sample, s.kinds, s, DriftConfig())
    mark("domain classifier (1 thread)")
    return marks


def peak_rss_mb() -> float:
    """Peak RSS of this process. ru_maxrss survives exec on Linux (a child forked from a big parent
    reports the parent's peak), so prefer VmHWM, which belongs to the new address space."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


EVIDENTLY_SCRIPT = r"""
import json, resource, sys, time
import pandas as pd
ref_path, cur_path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
try:  # evidently >= 0.7
    from evidently import Report
    from evidently.presets import DataDriftPreset
    Report([DataDriftPreset()]).run(cur, ref)
except ImportError:  # legacy API
    from evidently.report import Report
    from evidently.metric_preset import DataDriftPreset
    r = Report(metrics=[DataDriftPreset()]); r.run(reference_data=ref, current_data=cur); r.as_dict()
wall = time.perf_counter() - t0
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
mb = int(hwm[0].split()[1]) / 1024 if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "maxrss_mb": mb}))
"""


def run_child(mode: str, current: Path, summary: Path, quantiles: Path, ref_path: Path) -> dict | None:
    if mode == "evidently":
        py = os.environ.get("EVIDENTLY_PYTHON")
        if not py:
            return None
        cmd = [py, "-c", EVIDENTLY_SCRIPT, str(ref_path), str(current)]
    else:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--current",
            str(current),
            "--summary",
            str(summary),
            "--quantiles",
            str(quantiles),
        ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if res.returncode != 0:
        print(f"  {mode} failed:\n{res.stderr[-2000:]}")
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict | None:
    """Per-key median over successful runs (None when every run failed)."""
    runs = [r for r in runs if r]
    return (
        {k: float(np.median([r[k] for r in runs if k in r])) for k in runs[0]} | {"reps": len(runs)} if runs else None
    )


def measure(
    modes: tuple[str, ...],
    reps: int,
    current: Path,
    summary: Path,
    quantiles: Path,
    ref_path: Path,
    summaries: dict[str, Path] | None = None,
) -> dict[str, dict | None]:
    """``reps`` interleaved rounds over ``modes`` (each run its own child); medians per mode, and
    for each mode the median over rounds of its ratio to the same round's baseline run. A mode
    ``"<mode>@<variant>"`` runs ``<mode>`` on ``summaries[variant]``."""
    runs: dict[str, list] = {m: [] for m in modes}
    for _ in range(reps):
        for m in modes:
            mode, _, variant = m.partition("@")
            runs[m].append(run_child(mode, current, summaries[variant] if variant else summary, quantiles, ref_path))
    out = {m: median_of(r) for m, r in runs.items()}
    for m in modes:
        pairs = [(r, b) for r, b in zip(runs[m], runs["baseline"], strict=True) if r and b]
        if out[m] and pairs:
            out[m]["paired_time"] = float(np.median([r["wall"] / b["wall"] for r, b in pairs]))
            out[m]["paired_memory"] = float(np.median([r["maxrss_mb"] / b["maxrss_mb"] for r, b in pairs]))
    return out


def fmt(m: dict | None) -> str:
    if not m:
        return "skipped"
    cpu = f"  cpu {m['cpu']:7.2f} s" if "cpu" in m else ""
    return f"{m['wall']:8.2f} s  peak {m['maxrss_mb']:8.0f} MB{cpu}  (median of {m['reps']})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100k,1M,5M", help="current-window rows, e.g. 100k,1M,5M")
    ap.add_argument("--chunked-sizes", default="", help="sizes for the chunked memory-flatness check, e.g. 1M,20M")
    ap.add_argument("--quick", action="store_true", help="100k and 1M only, one repetition")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions per measurement (medians kept)")
    ap.add_argument("--reps-large", type=int, default=1, help="repetitions for sizes above 1M rows")
    ap.add_argument("--breakdown", action="store_true", help="also time the full suite's phases in a fresh process")
    ap.add_argument("--workdir", default=os.environ.get("BENCH_DIR", "/tmp/driftloop-bench"))
    ap.add_argument(
        "--ks-variants",
        default="",
        help="compare reference summaries built with numeric exact_max_values:sketch_size, e.g. "
        "20000:4096,100000000:4096 (the suite and univariate suite per variant, same rounds)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--current", help=argparse.SUPPRESS)
    ap.add_argument("--summary", help=argparse.SUPPRESS)
    ap.add_argument("--quantiles", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child == "phases":
        print(json.dumps(child_phases(Path(a.current), Path(a.summary))))
        return
    if a.child:
        print(json.dumps(child(a.child, Path(a.current), Path(a.summary), Path(a.quantiles))))
        return
    import compileall

    import driftloop

    compileall.compile_dir(Path(driftloop.__file__).parent, quiet=1)  # see the module docstring
    sizes = [100_000, 1_000_000] if a.quick else [parse_size(s) for s in a.sizes.split(",") if s]
    reps = 1 if a.quick else a.reps
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"driftloop drift benchmark: 25 columns (20 numeric w/ NaN, 5 categorical {CAT_LEVELS} levels); "
        f"median of {reps} interleaved reps (sizes > 1M: {a.reps_large}); workdir {work}"
    )
    rows = []
    for n in sizes:
        nref = min(n, 1_000_000)
        ref_path = write_parquet(work / f"ref_{nref}.parquet", nref, 1, False)
        cur_path = write_parquet(work / f"cur_{n}.parquet", n, 2, True)
        summ, quant = prepare_reference(ref_path, work)
        if a.ks_variants:
            variants = [v for v in a.ks_variants.split(",") if v]
            summaries = {v: prepare_reference(ref_path, work, v)[0] for v in variants}
            modes = ("baseline", *(f"{m}@{v}" for v in variants for m in ("suite", "suite_univariate")))
            r = {
                "n": n,
                **measure(modes, reps if n <= 1_000_000 else a.reps_large, cur_path, summ, quant, ref_path, summaries),
            }
            rows.append(r)
            print(f"\nN = {n:,} rows (reference {nref:,}), KS variants exact_max_values:sketch_size")
            for m in modes:
                print(f"  {m:34s} " + fmt(r[m]))
            b, first = r["baseline"], variants[0]
            for m in modes[1:]:
                mode, _, v = m.partition("@")
                if b and r[m]:
                    line = (
                        f"  {m:34s} / baseline: time {r[m]['wall'] / b['wall']:.2f}x "
                        f"(paired {r[m]['paired_time']:.2f}x), "
                        f"peak memory {r[m]['maxrss_mb'] / b['maxrss_mb']:.2f}x"
                    )
                    base = r.get(f"{mode}@{first}")
                    if v != first and base:
                        line += (
                            f"; / {first}: time {r[m]['wall'] / base['wall']:.2f}x, "
                            f"memory {r[m]['maxrss_mb'] / base['maxrss_mb']:.2f}x"
                        )
                    print(line)
            continue
        r = {
            "n": n,
            **measure(
                ("baseline", "suite", "suite_univariate", "chunked"),
                reps if n <= 1_000_000 else a.reps_large,
                cur_path,
                summ,
                quant,
                ref_path,
            ),
        }
        r["evidently"] = median_of([run_child("evidently", cur_path, summ, quant, ref_path)])
        rows.append(r)
        b, s, e = r["baseline"], r["suite"], r["evidently"]
        print(f"\nN = {n:,} rows (reference {nref:,})")
        for mode in ("baseline", "suite", "suite_univariate", "chunked", "evidently"):
            print(f"  {mode:17s} " + fmt(r[mode]))
        for mode, label in (
            ("suite", "full suite"),
            ("suite_univariate", "univariate suite"),
            ("chunked", "chunked suite"),
        ):
            m = r[mode]
            if b and m:
                tr, mr = m["wall"] / b["wall"], m["maxrss_mb"] / b["maxrss_mb"]
                print(
                    f"  {label:17s}/ baseline: time {tr:.2f}x ({'meets' if tr <= 1.3 else 'misses'} <= 1.3), "
                    f"peak memory {mr:.2f}x ({'meets' if mr <= 1.2 else 'misses'} <= 1.2); "
                    f"paired per round: time {m['paired_time']:.2f}x, memory {m['paired_memory']:.2f}x"
                )
        if a.breakdown:
            phases = [run_child("phases", cur_path, summ, quant, ref_path) for _ in range(reps)]
            phases = [p for p in phases if p]
            if phases:
                print(
                    "  where the full suite's time goes (fresh process, medians; "
                    "in the suite the classifier runs beside the column tests):"
                )
                for k in phases[0]:
                    print(f"    {k:36s} {np.median([p[k] for p in phases]):6.3f} s")
        if e and s:
            for mode, label in (("suite", "full suite"), ("suite_univariate", "univariate suite")):
                if r[mode]:
                    print(
                        f"  speed-up of the {label} vs Evidently: {e['wall'] / r[mode]['wall']:.1f}x "
                        f"(target >= 25 at 1M)"
                    )
        else:
            print("  Evidently: skipped (set EVIDENTLY_PYTHON to a venv's python with evidently installed)")
    if a.chunked_sizes:
        print("\nChunked mode, memory flatness:")
        mem = []
        for n in [parse_size(s) for s in a.chunked_sizes.split(",")]:
            ref_path = write_parquet(work / "ref_1000000.parquet", 1_000_000, 1, False)
            cur_path = write_parquet(work / f"cur_{n}.parquet", n, 2, True)
            summ, quant = prepare_reference(ref_path, work)
            m = median_of([run_child("chunked", cur_path, summ, quant, ref_path)])
            mem.append(m["maxrss_mb"])
            print(f"  N = {n:>12,}: {fmt(m)}")
        print(f"  peak memory largest/smallest: {max(mem) / min(mem):.3f} (target <= 1.15)")
    (work / "results.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
