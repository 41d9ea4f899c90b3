"""Reading and validating incoming batches: errors name the file and column."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.batches import check_classes, list_batches, read_batches
from driftloop.demo.feedback import Scenario, generate_week, write_weeks
from driftloop.errors import DataError
from tests.synthetic import make_schema

SCHEMA = make_schema()


def test_reads_parquet_and_csv_alike(tmp_path):
    write_weeks(tmp_path / "a", [1, 2], rows=50)
    write_weeks(tmp_path / "b", [1, 2], rows=50, fmt="csv")
    a, _ = read_batches(tmp_path / "a", SCHEMA)
    b, _ = read_batches(tmp_path / "b", SCHEMA)
    pd.testing.assert_frame_equal(a, b)
    assert a["timestamp"].is_monotonic_increasing and len(a) == 100


def test_empty_folder_names_the_folder(tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(DataError, match=r"in is empty"):
        list_batches(tmp_path / "in")


def test_missing_folder_names_the_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_batches(tmp_path / "nope")


def test_missing_column_names_file_and_column(tmp_path):
    write_weeks(tmp_path / "in", [1, 2], rows=20)
    df = pd.read_parquet(tmp_path / "in" / "week_02.parquet").drop(columns=["channel"])
    df.to_parquet(tmp_path / "in" / "week_02.parquet")
    with pytest.raises(DataError, match=r"week_02\.parquet: missing column\(s\) \['channel'\]"):
        read_batches(tmp_path / "in", SCHEMA)


def test_non_numeric_value_names_column_and_example(tmp_path):
    df = generate_week(1, rows=10, seed=1, start="2026-01-05", scenario=Scenario())
    df["stars"] = df["stars"].astype(str)
    df.loc[3, "stars"] = "five"
    (tmp_path / "in").mkdir()
    df.to_csv(tmp_path / "in" / "w.csv", index=False)
    with pytest.raises(DataError, match=r"w\.csv: numeric column 'stars'.*'five'"):
        read_batches(tmp_path / "in", SCHEMA)


def test_unknown_label_is_named(tmp_path):
    df = generate_week(1, rows=10, seed=1, start="2026-01-05", scenario=Scenario())
    df.loc[0, "label"] = "angry"
    with pytest.raises(DataError, match="angry"):
        check_classes(df, SCHEMA, "batch")


def test_duplicate_ids_keep_the_last_version(tmp_path):
    write_weeks(tmp_path / "in", [1], rows=10)
    df = pd.read_parquet(tmp_path / "in" / "week_01.parquet").head(1).assign(label="positive")
    df.to_parquet(tmp_path / "in" / "week_99.parquet")
    data, _ = read_batches(tmp_path / "in", SCHEMA)
    assert len(data) == 10 and data.loc[data["id"] == df["id"].iloc[0], "label"].item() == "positive"
