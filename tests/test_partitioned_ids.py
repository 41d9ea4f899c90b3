"""Ids repeated across the partitions of a partitioned source (issue 17 item 2): the later partition's
row replaces the earlier one, as a later batch's does (:func:`driftloop.batches.read_incoming`), and an
id given twice within one partition is refused, as within one batch.

The strongest check: one folder of parquet files read both ways, as batch files (``read_incoming`` and
``select_windows``) and as partitions (``check_partitioned``, ``window_bounds``, ``split_partitioned``),
gives the same windows, the same row counts, the same replaced ids and the same warnings; on the local
engine and on a real ``distributed.LocalCluster`` (two worker processes on 127.0.0.1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.batches import read_incoming, window_summary
from driftloop.engine import open_engine, partitions, split_partitioned, window_bounds
from driftloop.engine import validation as engine_validation
from driftloop.engine.validation import check_partitioned, repeated_hashes, validate_partitioned
from driftloop.errors import DataError
from driftloop.partitioned_snapshot import replacement_warnings, window_accounting
from driftloop.windows import row_accounting, select_windows

from .local_cluster import local_client
from .test_engine_wiring import SCHEMA, START  # the same regression table's schema and first day

INITIAL, CURRENT = 21, 14


def rows(ids: list, days, seed: int) -> pd.DataFrame:
    """Rows with the given ids at START + ``days``; missing values in every other column."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    x = rng.normal(0, 1, n)
    x[rng.random(n) < 0.2] = np.nan
    c = pd.array(rng.choice(["L1", "L2", "L3"], n), dtype="string")
    c[rng.random(n) < 0.2] = pd.NA
    t = [None if r < 0.2 else f"w{i % 5}\nline {i}" for i, r in enumerate(rng.random(n))]
    y = rng.normal(0, 1, n)
    y[rng.random(n) < 0.2] = np.nan
    ts = START + pd.to_timedelta(np.asarray(days, dtype=float), unit="D")
    return pd.DataFrame({"id": pd.Series(ids), "ts": ts, "x": x, "c": c, "t": t, "y": y})


def corrected_source(folder: Path) -> Path:
    """Four parquet files, in name order, whose later files give ids again:

    * ``a``: integer ids 1-400 over days 0-35; id 1 is alone on day -3, the source's first row;
    * ``b``: text ids, some with line breaks (``"s\\n3"``, ``"s\\r\\n4"``), and ``"1"``, ``"5"``,
      ``"7"`` again (the spelling of ``a``'s integers: the same ids), id 1 now dated day 40;
    * ``c``: float ids (whole numbers: ``5.0`` is id ``"5"``, ``7.0`` id ``"7"``, both a third time), new ids
      from 1000, and the last row of the source;
    * ``d``: ``"s\\n3"`` and ``"s\\r\\n4"`` again, and new text ids; its times zone-aware (Berlin).
    """
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    a = rows([1, *range(2, 401)], [-3.0, *np.sort(rng.uniform(0, 35, 399))], seed=1)
    b_ids = ["1", "5", "7", "s\n3", "s\r\n4", *[f"s-{i}" for i in range(5, 200)], "ü\n\té"]
    b = rows(b_ids, [40.0, 12.0, 30.0, *np.sort(rng.uniform(20, 45, len(b_ids) - 3))], seed=2)
    c = rows([5.0, 7.0, *map(float, range(1000, 1150))], [3.0, 44.0, *np.sort(rng.uniform(40, 50, 150))], seed=3)
    d = rows(["s\n3", "s\r\n4", *[f"d-{i}" for i in range(60)]], [46.0, 10.0, *rng.uniform(30, 49, 60)], seed=4)
    d["ts"] = d["ts"].dt.tz_localize("Europe/Berlin")  # times with an offset: read as UTC, as in a batch
    for name, frame in zip("abcd", (a, b, c, d), strict=True):
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


def split_both_ways(folder: Path, out: Path, engine=None, champion=False, chunk_size=37) -> dict:
    """The folder read as batch files and as partitions: what each gives."""
    incoming = read_incoming(folder, SCHEMA)
    data = incoming.data
    reference = data[data["ts"] < START + pd.Timedelta(days=25)].iloc[::2] if champion else None
    expected = select_windows(
        data, SCHEMA, initial_reference_days=INITIAL, current_max_days=CURRENT, champion_reference=reference
    )
    checked = check_partitioned(folder, SCHEMA, engine, chunk_size=chunk_size)
    ref_range = None if reference is None else (reference["ts"].min(), reference["ts"].max())
    bounds = window_bounds(
        pd.Timestamp(checked.start),
        pd.Timestamp(checked.end),
        initial_reference_days=INITIAL,
        current_max_days=CURRENT,
        reference_range=ref_range,
    )
    dirs = {"current": out / "cur"} | ({} if champion else {"reference": out / "ref"})
    for d in dirs.values():
        d.mkdir(parents=True)
    ids = None if reference is None else reference["id"]
    tally = split_partitioned(folder, SCHEMA, bounds, dirs, engine, ids, chunk_size, leave_out=checked.leave_out)
    return {
        "incoming": incoming,
        "expected": expected,
        "checked": checked,
        "bounds": bounds,
        "tally": tally,
        "dirs": dirs,
    }


def in_time_order(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values(["ts", "id"], kind="stable").reset_index(drop=True)


def assert_as_the_batch_path(got: dict) -> None:
    """The windows, counts, replaced ids and warnings of the batch path."""
    incoming, expected, checked, tally = got["incoming"], got["expected"], got["checked"], got["tally"]
    pd.testing.assert_frame_equal(in_time_order(got["dirs"]["current"]), expected.current, check_dtype=True)
    if "reference" in got["dirs"]:
        pd.testing.assert_frame_equal(in_time_order(got["dirs"]["reference"]), expected.reference)
    # the batch path's source rows: counted after the later batches' rows replaced the earlier ones
    assert checked.rows == len(incoming.data) == checked.given - len(incoming.corrected)
    summary = window_summary(incoming.data, SCHEMA)
    assert (checked.start, checked.end) == (summary["start"], summary["end"])
    accounting = row_accounting(expected, SCHEMA, CURRENT)
    ref_ts = expected.reference["ts"]
    span = f"{ref_ts.min().isoformat()} to {ref_ts.max().isoformat()}"
    ours = window_accounting(tally, got["bounds"], span, CURRENT)
    assert ours["rows"] == accounting["rows"]
    assert ours["skipped"] == accounting["skipped"] and ours["late"] == accounting["late"]
    assert sum(ours["rows"].values()) == checked.rows
    # the same replaced rows, and the same warnings (but for the word: batch / partition)
    assert checked.corrected["id"].tolist() == incoming.corrected["id"].tolist()
    for column in ("file", "replaced_in"):
        assert [Path(p) for p in checked.corrected[column]] == list(incoming.corrected[column])
    batch_lines = replacement_warnings(incoming.corrected)
    assert replacement_warnings(checked.corrected) == batch_lines


def dir_digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- the local engine -------------------------------------------------------------------------------


@pytest.mark.parametrize("champion", [False, True])
def test_a_later_partition_replaces_the_earlier_rows_as_a_later_batch_does(tmp_path, champion):
    folder = corrected_source(tmp_path / "src")
    got = split_both_ways(folder, tmp_path / "out", champion=champion)
    assert_as_the_batch_path(got)
    checked, names = got["checked"], {p.index: Path(p.path).name for p in partitions(folder)}
    # what the source holds: 1 twice, 5 and 7 three times, s\n3 and s\r\n4 twice: 7 rows replaced
    assert sorted(checked.corrected["id"]) == sorted(["1", "5", "5", "7", "7", "s\n3", "s\r\n4"])
    assert {names[i]: sorted(ids) for i, ids in checked.leave_out.items()} == {
        "a.parquet": ["1", "5", "7"],
        "b.parquet": ["5", "7", "s\n3", "s\r\n4"],
    }
    # the source's first row (id 1 on day -3) was replaced: the range (and the bounds) moved
    assert pd.Timestamp(checked.start) > START
    current = pd.read_parquet(got["dirs"]["current"])
    assert current["id"].is_unique
    lines = replacement_warnings(checked.corrected)
    assert len(lines) == 3 and lines[0].startswith(f"partition {folder / 'b.parquet'} gives 1 id(s) again that ")
    assert "the later partition's rows replace the earlier ones" in lines[1] and "a.parquet, " in lines[1]


def test_an_id_twice_within_one_partition_is_refused_naming_the_file_the_id_and_its_rows(tmp_path):
    folder = corrected_source(tmp_path / "src")
    c = pd.read_parquet(folder / "c.parquet")
    c.loc[120, "id"] = c.loc[7, "id"]  # 1005.0 again, on row 121
    c.to_parquet(folder / "c.parquet", index=False)
    message = (
        rf"partition {folder / 'c.parquet'}: id '1005' is given 2 times \(rows 8, 121\); 1 id\(s\) repeat "
        r"within this partition in all \('1005'\)\. Expected each 'id' once per partition"
    )
    with pytest.raises(DataError, match=message):
        check_partitioned(folder, SCHEMA, chunk_size=50)
    with pytest.raises(DataError, match=message):
        validate_partitioned(folder, SCHEMA, chunk_size=50)
    with pytest.raises(DataError, match=r"c\.parquet: id '1005' is given 2 times \(rows 8, 121\)"):
        read_incoming(folder, SCHEMA)  # the batch path refuses the same file the same way


def test_no_repeated_id_changes_nothing(tmp_path):
    folder = corrected_source(tmp_path / "src")
    (folder / "d.parquet").unlink()
    b = pd.read_parquet(folder / "b.parquet")
    b.iloc[3:].to_parquet(folder / "b.parquet", index=False)  # without "1", "5", "7"
    c = pd.read_parquet(folder / "c.parquet")
    c.iloc[2:].to_parquet(folder / "c.parquet", index=False)  # without 5.0, 7.0
    got = split_both_ways(folder, tmp_path / "out")
    assert_as_the_batch_path(got)
    checked = got["checked"]
    assert checked.leave_out == {} and not len(checked.corrected) and checked.rows == checked.given
    assert checked.rows == 400 + len(b) - 3 + len(c) - 2
    # the split without anything to leave out writes the same bytes as with no leave_out at all
    bounds, plain = got["bounds"], {"current": tmp_path / "plain" / "cur", "reference": tmp_path / "plain" / "ref"}
    for d in plain.values():
        d.mkdir(parents=True)
    assert split_partitioned(folder, SCHEMA, bounds, plain, chunk_size=37) == got["tally"]
    for window in ("current", "reference"):
        assert dir_digest(plain[window]) == dir_digest(got["dirs"][window])
    assert validate_partitioned(folder, SCHEMA, chunk_size=37) == {
        "rows": checked.rows,
        "start": checked.start,
        "end": checked.end,
    }


def test_shared_hashes_are_resolved_by_the_exact_ids(tmp_path, monkeypatch):
    """Two different ids with one 64-bit hash cannot be made for real; a hash of 3 bits gives many:
    they are neither a repeat within a partition nor a replacement across partitions."""
    real = engine_validation.id_hashes
    monkeypatch.setattr(engine_validation, "id_hashes", lambda ids: real(ids) % np.uint64(8))
    folder = corrected_source(tmp_path / "src")
    assert_as_the_batch_path(split_both_ways(folder, tmp_path / "out", chunk_size=64))
    monkeypatch.undo()
    assert_as_the_batch_path(split_both_ways(folder, tmp_path / "again", chunk_size=64))


def test_repeated_hashes_are_those_of_more_than_one_partition():
    parts = [
        np.array([1, 5, 9], np.uint64),
        np.array([2, 5], np.uint64),
        np.array([], np.uint64),
        np.array([9, 11, 5], np.uint64),
    ]
    parts = [np.sort(p) for p in parts]
    assert repeated_hashes(parts).tolist() == [5, 9]
    assert repeated_hashes([np.array([3], np.uint64)]).tolist() == []


# --- a real LocalCluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    with local_client() as dask_client:
        yield dask_client


@pytest.mark.parametrize("champion", [False, True])
def test_on_dask_a_later_partition_replaces_the_earlier_rows_as_locally(client, tmp_path, champion):
    folder = corrected_source(tmp_path / "src")
    with open_engine(client=client) as engine:
        got = split_both_ways(folder, tmp_path / "dask", engine=engine, champion=champion)
    assert_as_the_batch_path(got)
    local = split_both_ways(folder, tmp_path / "local", champion=champion)
    assert got["tally"] == local["tally"] and got["checked"].leave_out == local["checked"].leave_out
    for window, folder_ in got["dirs"].items():
        assert dir_digest(folder_) == dir_digest(local["dirs"][window])  # byte for byte, in partition order


def test_on_dask_an_id_twice_within_one_partition_is_refused_naming_the_file(client, tmp_path):
    folder = corrected_source(tmp_path / "src")
    d = pd.read_parquet(folder / "d.parquet")
    d.loc[40, "id"] = "s\n3"
    d.to_parquet(folder / "d.parquet", index=False)
    with (
        open_engine(client=client) as engine,
        pytest.raises(
            DataError, match=rf"partition {folder / 'd.parquet'}: id 's\\n3' is given 2 times \(rows 1, 41\)"
        ),
    ):
        check_partitioned(folder, SCHEMA, engine, chunk_size=16)
