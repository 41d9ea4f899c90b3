"""The engine wired into the stages (issue 17), one fast test per wiring function, on the local engine
(the Dask side of each is the same map on a LocalCluster: tests/test_dask_engine.py and the slow cycle
in tests/pipeline/test_dask_cycle.py).

* the snapshot's split of a partitioned source puts every row in the window ``select_windows`` puts it
  in, on a first cycle and against a champion's reference;
* the drift stage's current side: the file read in chunks on the local engine (as before), the
  partitioned window folded per partition, and the two give the same counts;
* the compare stage's scoring: the partitioned path gives the comparison and predictions of the
  frame path;
* preflight refuses a bad engine group, naming the key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import Ridge

from driftloop.batches import coerce
from driftloop.compare import CompareConfig
from driftloop.compare_files import score_holdout
from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference
from driftloop.drift.summary import CurrentSummary
from driftloop.drift_files import current_chunks, current_window
from driftloop.engine import split_partitioned, summarize_partitioned, window_bounds
from driftloop.errors import ConfigError, DataError
from driftloop.partitioned_snapshot import dir_md5, window_accounting
from driftloop.preflight import check_config, check_engine
from driftloop.schema import Schema
from driftloop.windows import row_accounting, select_windows

SCHEMA = Schema(
    id="id",
    timestamp="ts",
    label="y",
    task="regression",
    numeric=("x",),
    categorical=("c",),
    text=("t",),
)
START = pd.Timestamp("2026-03-01")


def rows(day0: int, days: int, per_day: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = days * per_day
    x = rng.normal(day0 / 30, 1, n)
    x[rng.random(n) < 0.1] = np.nan
    c = pd.array(rng.choice([f"L{i}" for i in range(200)], n), dtype="string")
    c[rng.random(n) < 0.1] = pd.NA
    y = 2 * np.nan_to_num(x) + rng.normal(0, 0.1, n)
    y[rng.random(n) < 0.05] = np.nan  # unlabelled rows
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(n)],
            "ts": START + pd.to_timedelta(day0 + np.sort(rng.uniform(0, days, n)), unit="D"),
            "x": x,
            "c": c,
            "t": [f"w{i % 5} w{i % 3}" + ("\nline" if i % 4 == 0 else "") for i in range(n)],
            "y": y,
        }
    )


def write_days(root, data: pd.DataFrame):
    """One file per day, hive-style."""
    for day, part in data.groupby(data["ts"].dt.normalize()):
        folder = root / f"day={day.date()}"
        folder.mkdir(parents=True)
        part.drop(columns=[]).to_parquet(folder / "part-0.parquet", index=False)
    return root


@pytest.mark.parametrize("with_champion", [False, True])
def test_the_split_puts_every_row_where_select_windows_puts_it(tmp_path, with_champion):
    data = coerce(rows(0, 50, 20, seed=1), SCHEMA, "test")
    source = write_days(tmp_path / "src", data)
    champion = data[data["ts"] < START + pd.Timedelta(days=25)].iloc[::2] if with_champion else None
    expected = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=14, champion_reference=champion)
    ref_range = None if champion is None else (champion["ts"].min(), champion["ts"].max())
    bounds = window_bounds(
        data["ts"].min(), data["ts"].max(), initial_reference_days=21, current_max_days=14, reference_range=ref_range
    )
    out = {"current": tmp_path / "cur"} | ({} if with_champion else {"reference": tmp_path / "ref"})
    for folder in out.values():
        folder.mkdir()
    ids = None if champion is None else champion["id"]
    tally = split_partitioned(source, SCHEMA, bounds, out, reference_ids=ids, chunk_size=7)

    current = pd.read_parquet(tmp_path / "cur")
    pd.testing.assert_frame_equal(current, expected.current, check_dtype=True)
    if not with_champion:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ref"), expected.reference)
    accounting = row_accounting(expected, SCHEMA, 14)
    span = f"{expected.reference['ts'].min().isoformat()} to {expected.reference['ts'].max().isoformat()}"
    ours = window_accounting(tally, bounds, span, 14)
    assert ours["rows"] == accounting["rows"]
    assert ours["skipped"] == accounting["skipped"] and ours["late"] == accounting["late"]
    assert (accounting["rows"]["late"] > 0) == with_champion
    assert tally["dtypes"] == {c: str(expected.current[c].dtype) for c in SCHEMA.required}
    assert dir_md5(tmp_path / "cur").endswith(".dir") and dir_md5(tmp_path / "cur") != dir_md5(source)


def test_a_bad_row_in_one_partition_is_named_by_the_split(tmp_path):
    data = rows(0, 30, 10, seed=2)
    data["ts"] = data["ts"].astype(object)
    data.loc[123, "ts"] = "not a time"
    data["ts"] = data["ts"].astype(str)
    (tmp_path / "src").mkdir()
    data.iloc[:150].to_parquet(tmp_path / "src" / "a.parquet")
    data.iloc[150:].to_parquet(tmp_path / "src" / "b.parquet")
    bounds = window_bounds(START, START + pd.Timedelta(days=29), initial_reference_days=21, current_max_days=None)
    (tmp_path / "cur").mkdir()
    with pytest.raises(DataError, match=r"a\.parquet \(rows 1-150; .*\): column 'ts' has 1 value\(s\) .*row 124"):
        split_partitioned(tmp_path / "src", SCHEMA, bounds, {"current": tmp_path / "cur"})


def test_no_newer_rows_is_refused_like_select_windows():
    with pytest.raises(DataError, match="no data newer than the reference"):
        window_bounds(START, START + pd.Timedelta(days=5), initial_reference_days=21, current_max_days=None)


def test_the_drift_stage_reads_a_file_as_before_and_a_partitioned_window_per_partition(tmp_path):
    cfg = DriftConfig(chunk_size=50)
    reference = coerce(rows(0, 21, 20, seed=3), SCHEMA, "ref")
    current = coerce(rows(21, 14, 20, seed=4), SCHEMA, "cur")
    summary = summarize_reference(reference[list(SCHEMA.features)], SCHEMA.kinds, cfg)
    current.to_parquet(tmp_path / "current.parquet", index=False)
    folder = write_days(tmp_path / "current_dir", current)
    features = list(SCHEMA.features)

    as_before = current_window(tmp_path / "current.parquet", summary, features, cfg, {"engine": {"kind": "local"}})
    assert not isinstance(as_before, CurrentSummary)
    expected = list(current_chunks(tmp_path / "current.parquet", features, 50))
    assert all(a.equals(b) for a, b in zip(as_before, expected, strict=True))

    folded = current_window(folder, summary, features, cfg, {})
    assert isinstance(folded, CurrentSummary)
    per_partition = evaluate_drift(summary, folded, cfg).to_dict()
    one_file = evaluate_drift(summary, current_chunks(tmp_path / "current.parquet", features, 50), cfg).to_dict()
    assert per_partition["dataset"]["n_current"] == one_file["dataset"]["n_current"] == len(current)
    for column in features:
        a, b = per_partition["columns"][column], one_file["columns"][column]
        assert a["missing_rate"] == b["missing_rate"], column
        for name, test in a["tests"].items():
            if name not in ("token_js",):  # its permutation draws per partition (docs/dask.md)
                assert test["statistic"] == pytest.approx(b["tests"][name]["statistic"], abs=1e-12), (column, name)
    # engine=dask on a batch folder's single-file window folds it as one partition: the same report, exactly
    single = evaluate_drift(summary, summarize_partitioned(summary, tmp_path / "current.parquet", cfg), cfg)
    assert single.to_dict() == one_file
    with pytest.raises(DataError, match="run the snapshot stage first"):
        current_window(tmp_path / "nothing", summary, features, cfg, {"engine": {"kind": "dask"}})


def test_the_compare_stage_scores_a_partitioned_source_as_the_frame(tmp_path):
    train = coerce(rows(0, 20, 20, seed=5), SCHEMA, "train")
    holdout = coerce(rows(20, 5, 40, seed=6), SCHEMA, "holdout")
    labelled = train[train["y"].notna()]
    challenger = Ridge().fit(labelled[["x"]].fillna(0), labelled["y"])
    champion = Ridge(alpha=50).fit(labelled[["x"]].fillna(0), labelled["y"])
    holdout["x"] = holdout["x"].fillna(0)  # the bare Ridge has no imputer
    path = tmp_path / "holdout.parquet"
    holdout.to_parquet(path, index=False)
    compare_cfg = CompareConfig(n_bootstrap=200)

    frame = score_holdout(path, holdout, SCHEMA, challenger, champion, compare_cfg, {})
    partitioned_cfg = {"data": {"source": {"format": "partitioned"}}, "engine": {"kind": "local"}}
    parts = score_holdout(path, holdout, SCHEMA, challenger, champion, compare_cfg, partitioned_cfg)

    assert parts.comparison.to_dict() == frame.comparison.to_dict()
    np.testing.assert_array_equal(parts.challenger.pred, frame.challenger.pred)
    assert parts.champion is not None and frame.champion is not None
    np.testing.assert_array_equal(parts.champion.pred, frame.champion.pred)
    assert len(parts.challenger.pred) == len(holdout) > int(holdout["y"].notna().sum())


def test_preflight_refuses_a_bad_engine_group_naming_the_key():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['engine\.adress'\]"):
        check_engine({"kind": "dask", "adress": "tcp://10.0.0.1:8786"})
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())
    schema = Schema.from_config(cfg["data"]["schema"])
    check_config({**cfg, "engine": {"kind": "dask", "n_workers": 2}}, schema)
    with pytest.raises(ConfigError, match=r"engine\.n_workers must be an integer >= 1\. Got 0"):
        check_config({**cfg, "engine": {"kind": "dask", "n_workers": 0}}, schema)
    check_engine(None)  # a params.yaml composed before the group existed runs locally
    check_engine({"kind": "dask", "address": None})


def test_a_window_file_becomes_a_directory_and_back(tmp_path):
    """A project that moves from a batch folder to a partitioned source (and back): the staged window
    replaces the other shape in place."""
    from driftloop.io import StagedOutputs

    window = tmp_path / "current.parquet"
    window.write_bytes(b"one file")
    with StagedOutputs() as staged:
        folder = staged.path(window)
        folder.mkdir()
        (folder / "part-00000.parquet").write_bytes(b"a part")
    assert window.is_dir() and (window / "part-00000.parquet").read_bytes() == b"a part"
    with StagedOutputs() as staged:
        staged.path(window).write_bytes(b"one file again")
    assert window.read_bytes() == b"one file again"
