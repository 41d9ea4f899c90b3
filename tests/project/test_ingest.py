"""``driftloop ingest`` in a real project made by ``driftloop init`` (git + DVC): good files are
added under names that sort after earlier batches and tracked by DVC; a bad file is refused
naming the user's file, the column and the row or line, and the batch folder is left as it was
(issue 14)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.batches import list_batches, read_incoming
from driftloop.errors import DataError
from driftloop.project.infer import AUTO_ID
from driftloop.project.ingest import content_ids, ingest
from driftloop.project.init import init_project, inside
from driftloop.schema import Schema
from tests.tables import write_table

pytestmark = pytest.mark.timeout(120)


def _rows(start: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(start, start + n)],
            "ts": pd.date_range("2026-01-01", periods=n, freq="6h").shift(start, freq="6h").strftime("%Y-%m-%dT%H:%M"),
            "amount": rng.normal(size=n).round(3),
            "city": rng.choice(["Paris", "Lyon", "Nice"], n),
            "y": rng.choice([0, 1], n),
        }
    )


def _make_project(root: Path, table: pd.DataFrame) -> Path:
    first = root / "first.csv"
    table.to_csv(first, index=False)
    init_project(root / "proj", first, "y")
    return root / "proj"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose table has an id column (``order_id``), with its first batch."""
    return _make_project(tmp_path_factory.mktemp("ingest"), _rows(0, 200, seed=0))


@pytest.fixture(scope="module")
def auto_id_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose table has no id column: ingest adds a content id."""
    return _make_project(tmp_path_factory.mktemp("ingest-auto"), _rows(0, 200, seed=0).drop(columns="order_id"))


def _incoming(project: Path) -> dict[str, bytes]:
    folder = project / "data" / "incoming"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _dvc_status(project: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json", "data/incoming.dvc"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_the_first_table_is_the_first_batch(project):
    assert list(_incoming(project)) == ["batch_0001_first.csv"]
    assert (project / "data" / "incoming.dvc").is_file()
    assert _dvc_status(project) == "{}"


def test_good_files_in_every_format_are_added_in_order_and_tracked(project, tmp_path):
    dvc_before = (project / "data" / "incoming.dvc").read_text()
    before = _incoming(project)
    files = [
        write_table(tmp_path / "week2.csv", _rows(200, 50, seed=1)),
        write_table(tmp_path / "week3.parquet", _rows(250, 50, seed=2)),
        write_table(tmp_path / "week4.jsonl", _rows(300, 50, seed=3)),
    ]
    with inside(project):
        added = ingest(files)
    names = [p.name for p in added]
    assert names == sorted(names)
    assert all(name > max(before) for name in names)  # after every earlier batch
    assert [Path(n).suffix for n in names] == [".csv", ".parquet", ".parquet"]  # JSON lines stored as parquet
    assert [n.split("_", 2)[2] for n in names] == ["week2.csv", "week3.parquet", "week4.parquet"]
    after = _incoming(project)
    assert {k: v for k, v in after.items() if k in before} == before  # earlier batches untouched
    assert set(after) == set(before) | set(names)
    # dvc add ran: the .dvc file moved on, and it matches the folder.
    assert (project / "data" / "incoming.dvc").read_text() != dvc_before
    assert _dvc_status(project) == "{}"
    # The snapshot reads the whole folder, the JSON-lines rows included, as the table's values.
    schema = Schema("order_id", "ts", "y", numeric=("amount",), categorical=("city",), classes=("0", "1"))
    data = read_incoming(project / "data" / "incoming", schema).data
    assert len(data) >= 350
    week4 = data.set_index("order_id").loc[[f"o{i}" for i in range(300, 350)]]
    expected = _rows(300, 50, seed=3).set_index("order_id")
    np.testing.assert_allclose(week4["amount"].to_numpy(), expected["amount"].to_numpy())
    assert week4["y"].tolist() == [str(v) for v in expected["y"]]


def test_names_count_on_from_the_highest_batch_number(project, tmp_path):
    with inside(project):
        first = ingest([write_table(tmp_path / "a.csv", _rows(1000, 5, seed=4))], track=False)[0]
        number = int(first.name.split("_")[1])
        removed = sorted((project / "data" / "incoming").iterdir())[0]
        gone = removed.read_bytes()
        removed.unlink()  # an earlier batch removed: the count drops, the numbers do not
        try:
            second = ingest([write_table(tmp_path / "b.csv", _rows(1010, 5, seed=5))], track=False)[0]
        finally:
            removed.write_bytes(gone)
    assert int(second.name.split("_")[1]) == number + 1
    assert second.name == max(p.name for p in list_batches(project / "data" / "incoming"))
    with inside(project):
        ingest([], track=True)  # brings the .dvc file back in step for the tests that follow
    assert _dvc_status(project) == "{}"


def _cell(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.astype({column: object})
        table.loc[row, column] = value
        return table

    return change


# (how a good 10-row table is broken, the file suffix, what the message must hold)
BAD = {
    "non-numeric csv": (_cell(3, "amount", "lots"), ".csv", ["'amount'", "line 5", "'lots'"]),
    "non-numeric parquet": (
        lambda t: _cell(3, "amount", "lots")(t).astype({"amount": str}),
        ".parquet",
        ["'amount'", "row 4", "'lots'"],
    ),
    "non-numeric jsonl": (_cell(3, "amount", "lots"), ".jsonl", ["'amount'", "row 4", "'lots'"]),
    "label outside the classes": (_cell(6, "y", 2), ".csv", ["'y'", "['2']", "line 8"]),
    "label outside the classes, jsonl": (_cell(6, "y", "2.0"), ".jsonl", ["'y'", "['2']", "row 7"]),
    "a missing column": (lambda t: t.drop(columns="city"), ".csv", ["missing column(s) ['city']"]),
    "a repeated id": (_cell(7, "order_id", "o5002"), ".csv", ["'o5002'", "lines 4, 9", "'order_id'"]),
    "a repeated id, parquet": (_cell(7, "order_id", "o5002"), ".parquet", ["'o5002'", "rows 3, 8"]),
    "not a timestamp": (_cell(2, "ts", "soon"), ".jsonl", ["'ts'", "row 3", "'soon'"]),
    "a missing timestamp": (_cell(2, "ts", None), ".csv", ["'ts'", "line 4", "missing timestamp"]),
    "a missing id": (_cell(4, "order_id", None), ".csv", ["'order_id'", "line 6", "1 missing id"]),
    "a missing id, jsonl": (_cell(4, "order_id", None), ".jsonl", ["'order_id'", "row 5", "1 missing id"]),
}


def _bad_file(tmp_path: Path, case: str) -> Path:
    change, suffix, _ = BAD[case]
    return write_table(tmp_path / f"bad batch{suffix}", change(_rows(5000, 10, seed=6)))


@pytest.mark.parametrize("case", BAD)
def test_a_bad_file_is_refused_naming_file_column_and_row(project, tmp_path, case):
    before = _incoming(project)
    bad = _bad_file(tmp_path, case)
    with inside(project), pytest.raises(DataError) as info:
        ingest([bad])
    message = str(info.value)
    assert str(bad) in message  # the user's file, not a staged copy
    assert "batch_0" not in message and "/tmp/tmp" not in message
    for fragment in BAD[case][2]:
        assert fragment in message, message
    assert _incoming(project) == before


@pytest.mark.parametrize("case", ["non-numeric jsonl", "a repeated id"])
def test_a_bad_second_file_adds_nothing(project, tmp_path, case):
    before = _incoming(project)
    good = write_table(tmp_path / "good.csv", _rows(6000, 10, seed=7))
    bad = _bad_file(tmp_path, case)
    with inside(project), pytest.raises(DataError, match="bad batch"):
        ingest([good, bad])
    assert _incoming(project) == before
    assert not [p for p in project.iterdir() if p.name.startswith("tmp")]  # no staging folder left behind
    with inside(project):  # the good file alone is accepted: the refusal was the bad one's
        assert len(ingest([good], track=False)) == 1


@pytest.mark.parametrize(
    "which, suffix",
    [("project", ".csv"), ("project", ".jsonl"), ("auto_id_project", ".csv")],
    ids=["csv", "jsonl", "csv read to add ids"],
)
def test_invalid_utf8_is_refused_naming_file_and_line(request, tmp_path, which, suffix):
    project = request.getfixturevalue(which)
    before = _incoming(project)
    rows = _rows(7000, 10, seed=8).assign(city="Orleans")
    good = write_table(tmp_path / f"latin{suffix}", rows if which == "project" else rows.drop(columns="order_id"))
    raw = good.read_bytes()
    at = raw.index(b"Orleans", raw.index(b"Orleans") + 1)  # the second row
    good.write_bytes(raw[:at] + "Orléans".encode("latin-1") + raw[at + len(b"Orleans") :])
    line = raw.count(b"\n", 0, at) + 1
    with inside(project), pytest.raises(DataError) as info:
        ingest([good])
    message = str(info.value)
    assert str(good) in message and "UTF-8" in message and f"line {line}" in message, message
    assert f"byte offset {at + 3}" in message  # "Orl" then the bad byte
    assert _incoming(project) == before


def test_the_cli_exits_4_naming_the_file(project, tmp_path, capsys):
    from driftloop.cli import main

    before = _incoming(project)
    bad = _bad_file(tmp_path, "non-numeric csv")
    with inside(project):
        code = main(["ingest", str(bad)])
    assert code == 4
    err = capsys.readouterr().err
    assert str(bad) in err and "'amount'" in err and "Traceback" not in err
    assert _incoming(project) == before


def test_a_table_without_an_id_gets_content_ids(auto_id_project, tmp_path):
    rows = _rows(8000, 6, seed=9).drop(columns="order_id")
    rows = pd.concat([rows, rows.iloc[[0, 0]]], ignore_index=True)  # a row given three times
    files = [write_table(tmp_path / "again.csv", rows), write_table(tmp_path / "again.jsonl", rows)]
    with inside(auto_id_project):
        added = ingest(files)
    stored = [pd.read_csv(added[0]), pd.read_parquet(added[1])]
    for table in stored:
        ids = table[AUTO_ID]
        assert table.columns[0] == AUTO_ID
        assert ids.is_unique  # repeated rows are distinct ...
        assert ids.str.rsplit("-", n=1).str[0].iloc[[0, 6, 7]].nunique() == 1  # ... by their repeat number
        assert ids.iloc[[0, 6, 7]].str.rsplit("-", n=1).str[1].tolist() == ["0", "1", "2"]
    assert _dvc_status(auto_id_project) == "{}"
    schema = Schema(AUTO_ID, "ts", "y", numeric=("amount",), categorical=("city",), classes=("0", "1"))
    assert len(read_incoming(auto_id_project / "data" / "incoming", schema).data) >= 200


def test_content_ids_are_stable_and_distinct():
    rows = _rows(0, 20, seed=10).drop(columns="order_id")
    again = pd.concat([rows, rows.iloc[[3]]], ignore_index=True)
    a, b = content_ids(again), content_ids(again.copy())
    assert a.tolist() == b.tolist()  # stable across runs
    assert a.is_unique
    assert a.iloc[20] == a.iloc[3].replace("-0", "-1")
    # A hash of the content: pinned, so a pandas upgrade that changed it would show here.
    assert content_ids(pd.DataFrame({"x": [1], "c": ["a"]})).tolist() == ["a0174708464e9194-0"]
    changed = rows.copy()
    changed.loc[0, "amount"] += 1
    assert content_ids(changed).iloc[0] != a.iloc[0] and content_ids(changed).iloc[1] == a.iloc[1]


def test_nested_json_values_get_content_ids(auto_id_project, tmp_path):
    """A JSON-lines batch with arrays and objects (pandas cannot hash a list: ingest stopped with
    "unhashable type: 'list'")."""
    rows = _rows(9000, 4, seed=11).drop(columns="order_id")
    rows["tags"] = [["late", "box"], ["late", "box"], [], None]
    rows["meta"] = [{"k": 1}, {"k": 1}, {"k": 2}, None]
    rows = pd.concat([rows, rows.iloc[[0]]], ignore_index=True)
    ids = content_ids(rows)
    assert ids.is_unique and ids.iloc[4] == ids.iloc[0].replace("-0", "-1")
    assert ids.tolist() == content_ids(rows.copy()).tolist()
    with inside(auto_id_project):
        added = ingest([write_table(tmp_path / "nested.jsonl", rows)])
    stored = pd.read_parquet(added[0])
    assert stored[AUTO_ID].is_unique and len(stored) == 5
    assert _dvc_status(auto_id_project) == "{}"
