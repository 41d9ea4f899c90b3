"""bench/bench_cycle_scale.py (issue 17, item 6) stays runnable: its generator gives the shipped data
config's schema with drift where it says, and a tiny whole run prints every stage and the verdict.
Not a timed test: the figures are printed, never asserted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "bench_cycle_scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_cycle_scale", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_generator_fits_the_shipped_schema_and_drifts_where_it_says(bench):
    import yaml

    from driftloop.schema import Schema

    conf = yaml.safe_load((_PATH.parents[1] / "conf" / "data" / "feedback.yaml").read_text())
    schema = Schema.from_config(conf["schema"])
    calm, drifted = bench.generate_week(1, 5000, drifted=False), bench.generate_week(2, 5000, drifted=True)
    schema.check_columns(calm.columns, "the generated week")
    assert set(calm["label"]) == set(schema.classes) and calm["id"].is_unique
    assert calm["timestamp"].is_monotonic_increasing
    assert calm["comment"].str.split().str.len().eq(8).all()
    # the drifted week: more negatives, fewer stars, more chat
    assert (drifted["label"] == "negative").mean() > (calm["label"] == "negative").mean() + 0.1
    assert drifted["stars"].mean() < calm["stars"].mean() - 0.3
    assert (drifted["channel"] == "chat").mean() > (calm["channel"] == "chat").mean() + 0.2
    again = bench.generate_week(1, 5000, drifted=False)
    assert again.equals(calm)  # seeded


@pytest.mark.slow
def test_a_tiny_run_prints_each_stage_the_baseline_and_the_verdict():
    proc = subprocess.run(
        [sys.executable, str(_PATH), "--rows-per-window", "6000", "--sample-size", "2000"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for stage in ("snapshot", "drift", "retrain", "compare", "promote", "total"):
        assert f"  {stage} " in out
    assert "cycle 2 retrain: strategy sample, 2,000 of " in out
    assert "baseline (one process)" in out and "target <= 1.5 x" in out
    assert "(with workers)" in out  # the memory of the scoring workers counted too
    assert "work a cycle cannot skip beyond the baseline" in out and "x the baseline" in out
