"""`driftloop drift` knows which columns are features (issue 14, item 4): a project's schema inside
one, --id/--time/--label/--exclude outside; its exit codes are in --help."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from driftloop.cli import main

from .conftest import make_demo

ROOT = Path(__file__).resolve().parents[2]
FEATURES = {"stars", "comment_length", "product_area", "channel", "comment"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    """Calm reference and current tables whose ids count on (0.., then 3000..) and carry a time and a
    label: an id or a time measured as a feature always 'drifts'."""
    folder = tmp_path_factory.mktemp("tables")
    frames = []
    for seed, start in ((1, 0), (2, 3000)):
        df = make_demo(3000, seed=seed)
        df["id"] = range(start, start + len(df))
        df["timestamp"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(df["id"], unit="h")
        frames.append(df)
    ref, cur = folder / "ref.parquet", folder / "cur.parquet"
    frames[0].to_parquet(ref)
    frames[1].to_parquet(cur)
    return ref, cur


def measured(out: Path) -> set[str]:
    return set(json.loads((out / "drift.json").read_text())["columns"])


def test_outside_a_project_an_id_counting_on_is_measured_and_drifts(files, tmp_path, monkeypatch):
    """What the issue saw: without roles the id is a numeric feature, and it drifts."""
    monkeypatch.chdir(tmp_path)
    code = main(["drift", *map(str, files), "-o", "out", "-s", "multivariate.enabled=false"])
    report = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert {"id", "label"} <= set(report["columns"]) and "id" in report["dataset"]["drifted_columns"]
    assert code == 1


def test_roles_given_by_flags_are_not_features(files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--id", "id", "--time", "timestamp", "--label", "label", "-s", "multivariate.enabled=false"]
    assert main(["drift", *map(str, files), "-o", "out", *args]) == 0
    assert measured(tmp_path / "out") == FEATURES
    assert main(["drift", *map(str, files), "-o", "o2", *args, "--exclude", "channel", "--exclude", "stars"]) == 0
    assert measured(tmp_path / "o2") == FEATURES - {"channel", "stars"}


def test_inside_a_project_its_schema_decides(files, tmp_path, monkeypatch, capsys):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")  # the demo's schema
    monkeypatch.chdir(tmp_path)
    assert main(["drift", *map(str, files), "-o", "out", "-s", "multivariate.enabled=false"]) == 0
    assert measured(tmp_path / "out") == FEATURES
    assert "Using the project's schema" in capsys.readouterr().out


def test_a_role_the_reference_lacks_is_a_data_error_naming_it(files, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["drift", *map(str, files), "-o", "out", "--id", "row_id"]) == 4
    err = capsys.readouterr().err
    assert "row_id" in err and "ref.parquet" in err
    assert not (tmp_path / "out").exists()


def test_help_documents_the_exit_codes(capsys):
    assert main(["drift", "--help"]) == 0
    text = capsys.readouterr().out
    for line in ("0  no drift", "1  drift", "8  too few rows", "3  configuration error", "4  data error"):
        assert line in text


def test_inside_a_project_other_tables_are_measured_with_no_project(files, tmp_path, monkeypatch, capsys):
    """Tables that are not the project's: the refusal says how to measure them anyway."""
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.csv"
    pd.DataFrame({"a": range(100), "b": ["x", "y"] * 50}).to_csv(other, index=False)
    assert main(["drift", str(other), str(other), "-o", "out"]) == 4
    assert "--no-project" in capsys.readouterr().err
    assert main(["drift", str(other), str(other), "-o", "out", "--no-project"]) == 0
    assert measured(tmp_path / "out") == {"a", "b"}
