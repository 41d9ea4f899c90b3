"""Reading the current window in chunks: the same rows as one read, in at most chunk_size rows each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftloop.drift.chunks import iter_file_chunks, read_table
from driftloop.drift_files import current_chunks
from driftloop.errors import DataError


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"x": rng.normal(size=1_000), "c": rng.choice(["a", "b", None], 1_000), "unused": np.arange(1_000)}
    )


def _parquet(path, df, row_group_size=300):
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=row_group_size)
    return path


@pytest.mark.parametrize("chunk_size", [1_000, 5_000, 333, 1], ids=["exactly-all", "whole-file", "batches", "one-row"])
def test_parquet_chunks_cover_the_file_in_order(tmp_path, table, chunk_size):
    path = _parquet(tmp_path / "cur.parquet", table)
    if chunk_size == 1:
        path = _parquet(tmp_path / "small.parquet", table.iloc[:7])
        table = table.iloc[:7]
    chunks = list(iter_file_chunks(path, ["x", "c"], chunk_size))
    assert all(len(ch) <= chunk_size for ch in chunks)
    assert len(chunks) == -(-len(table) // chunk_size)
    got = pd.concat(chunks, ignore_index=True)
    pd.testing.assert_frame_equal(got, table[["x", "c"]], check_dtype=False)


def test_csv_chunks_and_whole_reads_agree(tmp_path, table):
    path = tmp_path / "cur.csv"
    table.to_csv(path, index=False)
    chunks = list(iter_file_chunks(path, ["x", "c"], 400))
    assert [len(c) for c in chunks] == [400, 400, 200]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), read_table(path, ["x", "c"]))


def test_empty_files_give_one_empty_chunk(tmp_path, table):
    pq_path = _parquet(tmp_path / "empty.parquet", table.iloc[:0])
    csv_path = tmp_path / "empty.csv"
    table.iloc[:0].to_csv(csv_path, index=False)
    for path in (pq_path, csv_path):
        chunks = list(iter_file_chunks(path, ["x", "c"], 100))
        assert len(chunks) == 1 and chunks[0].empty and list(chunks[0].columns) == ["x", "c"]


@pytest.mark.parametrize(
    "case, match",
    [
        ("absent-column", r"cur\.parquet lacks column\(s\) \['ghost'\]"),
        ("no-file", r"nope\.parquet does not exist"),
        ("bad-suffix", r"cur\.json must be \.parquet or \.csv"),
    ],
)
def test_bad_input_names_the_file_and_column(tmp_path, table, case, match):
    path = _parquet(tmp_path / "cur.parquet", table)
    args = {
        "absent-column": (path, ["x", "ghost"]),
        "no-file": (tmp_path / "nope.parquet", ["x"]),
        "bad-suffix": (tmp_path / "cur.json", ["x"]),
    }[case]
    if case == "bad-suffix":
        args[0].write_text("{}")
    with pytest.raises(DataError, match=match):
        list(iter_file_chunks(*args, 100))


def test_drift_stage_reads_in_the_configured_chunk_size(tmp_path, table):
    path = _parquet(tmp_path / "current.parquet", table)
    assert [len(c) for c in current_chunks(path, ["x"], 400)] == [400, 400, 200]
    with pytest.raises(DataError, match="run the snapshot stage first"):
        current_chunks(tmp_path / "missing.parquet", ["x"], 400)
