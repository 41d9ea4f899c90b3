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


def test_labels_equal_as_values_are_one_class_across_files_and_formats(tmp_path):
    """A loan table's label was 1.0 in one file and 1 in another (issue 14): one class, "1"."""
    import dataclasses

    from driftloop.schema import Schema

    schema = dataclasses.replace(SCHEMA, classes=Schema.from_config({**_schema_cfg(), "classes": [0, 1.0]}).classes)
    assert schema.classes == ("0", "1")
    week = generate_week(1, rows=12, seed=1, start="2026-01-05", scenario=Scenario())
    folder = tmp_path / "in"
    folder.mkdir()
    ints = week.iloc[:4].assign(label=[0, 1, 1, 0])
    floats = week.iloc[4:8].assign(label=[1.0, 0.0, float("nan"), 1.0])
    texts = week.iloc[8:].assign(label=["1", "0.0", " 1", None])
    ints.to_csv(folder / "a.csv", index=False)
    floats.to_parquet(folder / "b.parquet")
    texts.to_csv(folder / "c.csv", index=False)
    data, _ = read_batches(folder, schema)
    labels = data.set_index("id").loc[week["id"], "label"]
    assert labels.dtype == "string"
    assert labels.tolist() == ["0", "1", "1", "0", "1", "0", pd.NA, "1", "1", "0", "1", pd.NA]


def test_a_float_label_outside_the_classes_is_still_named(tmp_path):
    import dataclasses

    schema = dataclasses.replace(SCHEMA, classes=("0", "1"))
    week = generate_week(1, rows=3, seed=1, start="2026-01-05", scenario=Scenario()).assign(label=[0.0, 1.0, 2.0])
    (tmp_path / "in").mkdir()
    week.to_parquet(tmp_path / "in" / "a.parquet")
    with pytest.raises(DataError, match=r"a\.parquet.*label\(s\) \['2'\] outside data\.schema\.classes"):
        read_batches(tmp_path / "in", schema)


def _schema_cfg() -> dict:
    return {
        "id": SCHEMA.id,
        "timestamp": SCHEMA.timestamp,
        "label": SCHEMA.label,
        "numeric": list(SCHEMA.numeric),
        "categorical": list(SCHEMA.categorical),
        "text": list(SCHEMA.text),
        "task": SCHEMA.task,
    }
