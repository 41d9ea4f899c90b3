"""drift_command: files in, drift.json + drift.html out, exit codes, override grammar."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from driftloop.contracts import DriftResult
from driftloop.drift.cli import drift_cli, drift_command, infer_kinds, parse_overrides
from driftloop.errors import ConfigError


def test_parse_overrides_grammar():
    assert parse_overrides(
        [
            "alpha=0.01",
            "numeric.thresholds.psi=0.2",
            "text.ngram_range=[1,2]",
            "columns.a.b=text",
            "columns.x.thresholds.psi=0.3",
            "columns.y.skip=true",
        ]
    ) == {
        "alpha": 0.01,
        "numeric": {"thresholds": {"psi": 0.2}},
        "text": {"ngram_range": [1, 2]},
        "columns": {"a.b": {"kind": "text"}, "x": {"thresholds": {"psi": 0.3}}, "y": {"skip": True}},
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["alpha"])


def test_infer_kinds(demo_ref):
    assert infer_kinds(demo_ref) == {
        "comment": "text",
        "stars": "numeric",
        "comment_length": "numeric",
        "product_area": "categorical",
        "channel": "categorical",
        "label": "categorical",
    }  # id is identifier-like: skipped


def test_drift_command_end_to_end(tmp_path, demo_ref, demo_drift, capsys):
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    demo_ref.to_parquet(ref)
    demo_drift.to_csv(cur, index=False)
    code = drift_command(
        ref, cur, tmp_path / "out", ["columns.label=skip", "multivariate.max_rows=500", "chunk_size=1000"]
    )
    assert code == 1
    d = json.loads((tmp_path / "out" / "drift.json").read_text())
    assert set(d["dataset"]["drifted_columns"]) == {"comment", "comment_length", "channel"}
    # The drift stage's format number, first, as in reports/drift.json; read by its contract.
    assert next(iter(d)) == "format" and d["format"] == DriftResult.FORMAT
    assert DriftResult.from_dict(d).drifted and DriftResult.from_dict(d).report == {
        k: v for k, v in d.items() if k != "format"
    }
    assert "label" not in d["columns"]
    assert (tmp_path / "out" / "drift.html").read_text().startswith("<!DOCTYPE html>")
    assert drift_command(ref, cur, tmp_path / "o2", ["alpah=1"]) == 3
    assert "drift.alpah" in capsys.readouterr().err
    demo_drift.drop(columns=["channel"]).to_csv(cur, index=False)
    assert drift_command(ref, cur, tmp_path / "o3", ["multivariate.enabled=false"]) == 4
    assert "channel" in capsys.readouterr().err


def test_typer_wiring(tmp_path, demo_ref):
    demo_ref.to_parquet(tmp_path / "r.parquet")
    app = typer.Typer()
    app.command("drift")(drift_cli)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(
        app,
        [
            "drift",
            str(tmp_path / "r.parquet"),
            str(tmp_path / "r.parquet"),
            "--out",
            str(tmp_path / "o"),
            "-s",
            "multivariate.enabled=false",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "drift.json").read_text())["dataset"]["drifted"] is False
