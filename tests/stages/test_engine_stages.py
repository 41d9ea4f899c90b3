"""The snapshot and drift stages in-process on a partitioned source (issue 17), on the local engine: the
demo's weekly batches rewritten as hive-style ``week=N/`` partitions give the windows and the per-column
drift statistics the batch folder gives; a bad ``engine`` group stops the snapshot before a batch is read.
(The Dask side, equal to this, is tests/pipeline/test_dask_cycle.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from driftloop import paths
from driftloop.batches import read_batches
from driftloop.errors import ConfigError

from .conftest import add_weeks
from .helpers import run_drift, run_snapshot


def test_a_bad_engine_key_stops_the_snapshot_before_any_batch_is_read(cfg, workspace):
    cfg["engine"] = {"kind": "dask", "adress": "tcp://10.0.0.5:8786"}  # and no data/incoming at all
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['engine\.adress'\]"):
        run_snapshot(cfg)
    assert not (workspace / paths.MANIFEST).exists()


def test_a_partitioned_source_gives_the_windows_and_statistics_of_the_batch_folder(cfg, workspace: Path):
    _weeks_as_partitions(cfg, workspace)

    batch_manifest = run_snapshot(cfg)
    batch_drift = run_drift(cfg)
    batch_current = pd.read_parquet(workspace / paths.CURRENT)

    cfg["data"]["source"] = {**cfg["data"]["source"], "path": "data/events", "format": "partitioned"}
    manifest = run_snapshot(cfg)
    drift = run_drift(cfg)
    current = workspace / paths.CURRENT
    assert current.is_dir() and (workspace / paths.REFERENCE).is_dir()
    same_rows = pd.read_parquet(current).sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(same_rows, batch_current)
    for window in ("reference", "current"):
        assert {k: manifest[window][k] for k in ("rows", "start", "end")} == {
            k: batch_manifest[window][k] for k in ("rows", "start", "end")
        }
    assert manifest["source"]["rows_by_window"] == batch_manifest["source"]["rows_by_window"]
    assert manifest["source"]["batches"][0].startswith("week=")
    assert manifest["schema"] == batch_manifest["schema"]

    # Row order differs (partition order, not time order), so the row-sampled parts (the domain
    # classifier, token_js' permutations) may; counts and the per-column statistics may not.
    assert drift["dataset"]["n_current"] == batch_drift["dataset"]["n_current"]
    for name, column in drift["columns"].items():
        other = batch_drift["columns"][name]
        assert column["missing_rate"] == other["missing_rate"], name
        for test, result in column["tests"].items():
            if test != "token_js":
                assert result["statistic"] == pytest.approx(other["tests"][test]["statistic"], abs=1e-12), (name, test)
    assert json.loads((workspace / paths.DRIFT_JSON).read_text()) == drift


def _weeks_as_partitions(cfg: dict, workspace: Path) -> None:
    """The demo's first six weekly batches in data/incoming, and the same rows as hive-style
    ``week=N/`` partitions under data/events."""
    add_weeks(workspace, range(1, 7))
    data, _ = read_batches(workspace / "data" / "incoming", _schema(cfg))
    for week, rows in data.groupby(data["timestamp"].dt.isocalendar().week):
        folder = workspace / "data" / "events" / f"week={week}"
        folder.mkdir(parents=True)
        rows.to_parquet(folder / "part-0.parquet", index=False)


def _schema(cfg: dict):
    from driftloop.schema import Schema

    return Schema.from_config(cfg["data"]["schema"])


def test_a_partitioned_snapshot_logs_both_windows_as_dataset_inputs(cfg, workspace: Path):
    """Each window directory is a dataset input of the snapshot run, known by its URI and its DVC
    md5 (the digest a reader can check against dvc.lock), as the batch path's windows are."""
    import mlflow

    from driftloop.partitioned_snapshot import dir_md5

    _weeks_as_partitions(cfg, workspace)
    cfg["data"]["source"] = {**cfg["data"]["source"], "path": "data/events", "format": "partitioned"}
    manifest = run_snapshot(cfg)
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.mlflow.parentRunId = '{manifest['cycle_run_id']}'",
        output_format="list",
    )
    inputs = {d.dataset.name: d for r in runs for d in r.inputs.dataset_inputs}
    assert set(inputs) == {"reference-window", "current-window"}
    for window, path in (("reference", paths.REFERENCE), ("current", paths.CURRENT)):
        dataset = inputs[f"{window}-window"]
        assert dataset.dataset.digest == dir_md5(workspace / path).removesuffix(".dir")
        assert json.loads(dataset.dataset.source)["uri"] == (workspace / path).resolve().as_uri()
        assert [t.value for t in dataset.tags if t.key == "mlflow.data.context"] == [window]
