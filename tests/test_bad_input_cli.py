"""Issue 13's bad-input matrix, the command-line part: ``driftloop drift``, ``driftloop compare`` and
config values. Each case asserts a message naming the file, column, key or URI and what was
expected; the documented exit code (README "Exit codes"); no traceback; the inputs unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftloop.cli import app


def run(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    text = (result.stdout or "") + (result.stderr or "")
    assert "Traceback" not in text, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, text


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(list("xyz"), 300)})
    d = tmp_path / "in"
    d.mkdir()
    df.to_csv(d / "ref.csv", index=False)
    df.to_csv(d / "cur.csv", index=False)
    df[["a"]].to_csv(d / "less.csv", index=False)
    (d / "empty.csv").write_bytes(b"")
    (d / "header.csv").write_text("a,b\n")
    (d / "garbage.parquet").write_bytes(b"not a parquet file")
    (d / "sheet.xlsx").write_bytes(b"PK\x03\x04 not really")
    return d


DRIFT_CASES = {
    "missing reference": ("nosuch.csv", "cur.csv", ["nosuch.csv", "does not exist"]),
    "missing current": ("ref.csv", "nosuch.csv", ["nosuch.csv", "does not exist"]),
    "empty reference": ("empty.csv", "cur.csv", ["empty.csv", "expected a CSV file with a header row"]),
    "empty current": ("ref.csv", "empty.csv", ["empty.csv", "expected a CSV file with a header row"]),
    "0-row reference": ("header.csv", "cur.csv", ["header.csv", "0 rows"]),
    "0-row current": ("ref.csv", "header.csv", ["header.csv", "0 rows"]),
    "current lacks a column": ("ref.csv", "less.csv", ["less.csv", "['b']", "present in the reference"]),
    "corrupt parquet reference": ("garbage.parquet", "cur.csv", ["garbage.parquet", "expected a parquet file"]),
    "corrupt parquet current": ("ref.csv", "garbage.parquet", ["garbage.parquet", "expected a parquet file"]),
    "unknown format": ("ref.csv", "sheet.xlsx", ["sheet.xlsx", "must be .parquet or .csv", "'.xlsx'"]),
}


@pytest.mark.parametrize("case", DRIFT_CASES)
def test_drift_cli_bad_input(tables, tmp_path, case):
    ref, cur, words = DRIFT_CASES[case]
    before = snapshot(tables)
    code, text = run("drift", tables / ref, tables / cur, "--out", tmp_path / "out")
    assert code == 4, text
    for w in words:
        assert w in text, (w, text)
    assert snapshot(tables) == before
    assert not (tmp_path / "out" / "drift.json").exists()


def test_drift_cli_negative_alpha_is_a_config_error(tables, tmp_path):
    before = snapshot(tables)
    code, text = run("drift", tables / "ref.csv", tables / "cur.csv", "--out", tmp_path / "out", "-s", "alpha=-0.1")
    assert code == 3 and "drift.alpha" in text and "> 0.0" in text and "-0.1" in text, text
    assert snapshot(tables) == before
