"""The snapshot stage on a partitioned source whose later partition gives ids again (issue 17 item 2), on
the local engine: the same files read as a batch folder and as partitions give the same windows, the same
manifest counts and the same warnings (one line per later partition, naming the ids it replaced).
(The library's side, on the local engine and a LocalCluster: tests/test_partitioned_ids.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from driftloop import paths

from .conftest import add_weeks
from .helpers import run_snapshot


def _replacements(err: str) -> list[str]:
    return [line for line in err.splitlines() if "id(s) again that" in line]


def test_a_later_partition_replaces_the_earlier_rows_as_a_later_batch_does(cfg, workspace: Path, capsys):
    incoming = workspace / "data" / "incoming"
    add_weeks(workspace, range(1, 7))
    week2, week5 = (pd.read_parquet(incoming / f"week_0{w}.parquet") for w in (2, 5))
    fixes = pd.concat([week2.iloc[:7], week5.iloc[10:14]], ignore_index=True)
    fixes["timestamp"] = fixes["timestamp"].max() + pd.Timedelta(hours=1)  # corrected late: a new time too
    fixes.to_parquet(incoming / "week_99_fixes.parquet", index=False)
    events = workspace / "data" / "events"
    events.mkdir()
    for path in sorted(incoming.glob("*.parquet")):  # the same files, as the partitions of a source
        shutil.copy(path, events / path.name)

    capsys.readouterr()
    batch_manifest = run_snapshot(cfg)
    batch_lines = _replacements(capsys.readouterr().err)
    batch_current = pd.read_parquet(workspace / paths.CURRENT)
    batch_reference = pd.read_parquet(workspace / paths.REFERENCE)

    cfg["data"]["source"] = {**cfg["data"]["source"], "path": "data/events", "format": "partitioned"}
    manifest = run_snapshot(cfg)
    lines = _replacements(capsys.readouterr().err)

    examples = list(fixes["id"].sort_values().head(3))
    assert batch_lines == [
        f"driftloop snapshot: warning: batch {incoming / 'week_99_fixes.parquet'} gives 11 id(s) again that "
        f"{incoming / 'week_02.parquet'}, {incoming / 'week_05.parquet'} gave (e.g. {examples}): "
        "the later batch's rows replace the earlier ones."
    ]
    assert lines == [line.replace("batch", "partition").replace(str(incoming), str(events)) for line in batch_lines]
    for got, expected in ((workspace / paths.CURRENT, batch_current), (workspace / paths.REFERENCE, batch_reference)):
        rows = pd.read_parquet(got).sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(rows, expected)
    assert manifest["source"]["rows"] == batch_manifest["source"]["rows"] == 6 * 150
    assert manifest["source"]["rows_by_window"] == batch_manifest["source"]["rows_by_window"]
    assert sum(manifest["source"]["rows_by_window"].values()) == manifest["source"]["rows"]
    for window in ("reference", "current", "skipped", "late"):
        assert {k: manifest[window][k] for k in ("rows", "start", "end")} == {
            k: batch_manifest[window][k] for k in ("rows", "start", "end")
        }, window
    assert len(batch_current) and set(fixes["id"]) <= set(batch_current["id"]) | set(batch_reference["id"])
