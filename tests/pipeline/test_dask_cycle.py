"""A whole cycle on a partitioned parquet source (issue 17): `dvc repro` with ``engine=dask`` (a real
``distributed.LocalCluster`` of two worker processes on 127.0.0.1, started and closed by each stage that
opens it) writes the same drift.json and compare.json as the same cycle with ``engine=local``.

The table is unlike the demo's: a regression target (a price), hive-style ``day=.../`` partitions with
several files a day, a numeric feature with NaN, a categorical with hundreds of levels and missing values
(None and pd.NA), and text with line breaks. (A missing event time, NaT, is refused by the schema: every
row needs a timestamp.)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.pipeline.project import make_project, run

pytest.importorskip("distributed")

START = pd.Timestamp("2026-01-01")
DATA_CONFIG = {
    "defaults": [
        {"override /compare@_global_.compare": "regression"},
        {"override /promote@_global_.promote": "regression"},
        {"override /registry@_global_.registry": "default"},
        "_self_",
    ],
    "source": {"path": "data/events", "format": "partitioned", "reviewed_labels": "data/reviewed"},
    "schema": {
        "id": "event_id",
        "timestamp": "ts",
        "label": "price",
        "task": "regression",
        "numeric": ["nights", "lead_days"],
        "categorical": ["city", "user"],
        "text": ["note"],
    },
    "windows": {"initial_reference_days": 21, "current_max_days": 14, "max_future_days": None},
}


def day_frame(day: int, part: int, n: int) -> pd.DataFrame:
    """One file of day ``day``: the newest days drift (longer lead times, a new word in the notes)."""
    rng = np.random.default_rng([day, part])
    drift = day >= 28
    ts = START + pd.Timedelta(days=day) + pd.to_timedelta(np.sort(rng.uniform(0, 86_400, n)), unit="s")
    city = pd.array(rng.choice(["lisbon", "porto", "faro"], n), dtype="string")
    city[rng.uniform(size=n) < 0.1] = pd.NA
    user = np.array([f"@u{u}" for u in rng.integers(0, 400, n)], dtype=object)
    user[rng.uniform(size=n) < 0.05] = None
    lead = rng.exponential(40.0 if drift else 20.0, n).round()
    lead[rng.uniform(size=n) < 0.08] = np.nan
    nights = rng.integers(1, 8, n).astype(float)
    words = np.array(["quiet", "view", "late", "noisy", "clean"] + (["outage"] * 3 if drift else []))
    note = [" ".join(rng.choice(words, 4)) + ("\nsecond line\r\nthird" if i % 7 == 0 else "") for i in range(n)]
    base = np.where(city.to_numpy(dtype=object, na_value=None) == "lisbon", 95.0, 80.0)
    price = base * (1 + 0.01 * np.nan_to_num(lead)) * (1 + 0.05 * nights) * rng.lognormal(0, 0.1, n)
    return pd.DataFrame(
        {
            "event_id": [f"e{day}-{part}-{i}" for i in range(n)],
            "ts": ts,
            "nights": nights,
            "lead_days": lead,
            "city": city,
            "user": user,
            "note": note,
            "price": price.round(2),
        }
    )


def write_events(root: Path, days: range = range(42), files_per_day: int = 2, rows: int = 60) -> int:
    """``root/day=YYYY-MM-DD/part-<k>.parquet``; returns the rows written."""
    total = 0
    for day in days:
        folder = root / f"day={(START + pd.Timedelta(days=day)).date()}"
        folder.mkdir(parents=True)
        for part in range(files_per_day):
            frame = day_frame(day, part, rows)
            frame.to_parquet(folder / f"part-{part}.parquet", index=False)
            total += len(frame)
    return total


def cycle(tmp_path: Path, name: str, template_db: Path, engine: str) -> Path:
    """A fresh project on the partitioned events, one `dvc repro` with ``engine``."""
    project = make_project(tmp_path / name, template_db)
    (project / "conf" / "data" / "events.yaml").write_text(yaml.safe_dump(DATA_CONFIG, sort_keys=False))
    write_events(project / "data" / "events")
    driftloop = [sys.executable, "-m", "driftloop"]
    run([*driftloop, "params", "data=events", "model=linear", f"engine={engine}"], project)
    repro = run([sys.executable, "-m", "dvc", "repro"], project)
    (project / "repro.log").write_text(repro.stdout + repro.stderr)
    return project


def next_cycle(project: Path) -> Path:
    """Two more weeks of partitions, and `dvc repro` again: a cycle against the champion cycle 1 promoted."""
    write_events(project / "data" / "events", range(42, 56))
    repro = run([sys.executable, "-m", "dvc", "repro"], project)
    (project / "repro.log").write_text(repro.stdout + repro.stderr)
    return project


def reports_of(project: Path) -> dict[str, Any]:
    return {f: json.loads((project / "reports" / f).read_text()) for f in ("drift.json", "compare.json")}


VARIES = {"created", "cycle_run_id", "challenger_uri", "champion_uri", "model_uri", "run_id", "duration_seconds"}


def assert_close(a: Any, b: Any, where: str = "") -> None:
    """Equal structure, equal strings and counts, floats within 1e-12 (keys that name runs skipped)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, sorted(set(a) ^ set(b or {})))
        for k in a:
            if k not in VARIES:
                assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, (int, float)), (where, a, b)
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12, (where, a, b)
    else:
        assert a == b, (where, a, b)


@pytest.mark.slow
def test_a_cycle_on_a_partitioned_source_is_the_same_on_dask_and_local(tmp_path, mlflow_template_db):
    local = cycle(tmp_path, "local", mlflow_template_db, "local")
    dask = cycle(tmp_path, "dask", mlflow_template_db, "dask")

    # Dask ran (each stage that opens the engine says where) only where the engine says so: the
    # snapshot (validation, split, reference summary), drift and compare.
    opened = "driftloop: engine dask at tcp://127.0.0.1:"
    assert (dask / "repro.log").read_text().count(opened) == 3
    assert "engine dask" not in (local / "repro.log").read_text()
    reports = {"local": reports_of(local), "dask": reports_of(dask)}
    drift = reports["local"]["drift.json"]
    assert drift["dataset"]["n_current"] > 0 and drift["drifted_columns"], drift["dataset"]
    assert reports["local"]["compare.json"]["challenger_trained"], reports["local"]["compare.json"]
    for f in ("drift.json", "compare.json"):
        assert_close(reports["local"][f], reports["dask"][f], f)

    # The snapshot wrote the windows as directories of per-partition files, DVC-tracked with the md5s
    # the manifest names (the md5 of a directory output is DVC's own).
    manifest = json.loads((dask / "data" / "snapshot" / "manifest.json").read_text())
    lock = yaml.safe_load((dask / "dvc.lock").read_text())
    outs = {o["path"]: o["md5"] for o in lock["stages"]["snapshot"]["outs"]}
    for window in ("reference", "current"):
        folder = dask / "data" / "snapshot" / f"{window}.parquet"
        assert folder.is_dir() and len(list(folder.glob("part-*.parquet"))) > 1
        assert manifest[window]["md5"] == outs[f"data/snapshot/{window}.parquet"]
        assert len(pd.read_parquet(folder)) == manifest[window]["rows"]
    rows = manifest["source"]["rows_by_window"]
    assert sum(rows.values()) == manifest["source"]["rows"] == 42 * 2 * 60, rows
    assert manifest["source"]["batches"][0] == "day=2026-01-01/part-0.parquet"
    assert manifest == {
        **json.loads((local / "data" / "snapshot" / "manifest.json").read_text()),
        **{k: manifest[k] for k in ("created", "cycle_run_id")},
    }

    # Cycle 2, against champion v1: its training data is the reference (one file in the directory), the
    # rows dated inside it but not in it are late, and compare scores both models per partition.
    local, dask = next_cycle(local), next_cycle(dask)
    assert (dask / "repro.log").read_text().count(opened) == 3
    second = {"local": reports_of(local), "dask": reports_of(dask)}
    assert second["local"]["compare.json"]["has_champion"], second["local"]["compare.json"]
    for f in ("drift.json", "compare.json"):
        assert_close(second["local"][f], second["dask"][f], f)
    manifest = json.loads((dask / "data" / "snapshot" / "manifest.json").read_text())
    assert manifest["champion"]["version"] == "1"
    assert manifest["reference"]["source"].startswith("training data of")
    rows = manifest["source"]["rows_by_window"]
    assert rows["late"] > 0 and sum(rows.values()) == manifest["source"]["rows"] == 56 * 2 * 60, rows
    assert len(list((dask / "data" / "snapshot" / "reference.parquet").iterdir())) == 1
