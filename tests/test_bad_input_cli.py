"""Issue 13's bad-input matrix, the command-line part: ``driftloop drift``, ``driftloop compare`` and
config values. Each case asserts a message naming the file, column, key or URI and what was
expected; the documented exit code (README "Exit codes"); no traceback; the inputs unchanged."""

from __future__ import annotations

import importlib.util
import json
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


@pytest.fixture(autouse=True)
def outside_any_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLIs run from an empty folder: inside a project (this repository has a params.yaml),
    `driftloop drift` measures the project's schema instead of the files' own columns."""
    monkeypatch.chdir(tmp_path)


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
    df.assign(extra=1.0, note="n").to_csv(d / "more.csv", index=False)
    df.assign(extra=1.0).to_parquet(d / "more.parquet")
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
    "current has a column the reference lacks": (
        "ref.csv",
        "more.csv",
        ["more.csv", "['extra', 'note']", "ref.csv", "does not have", "-s columns.extra=skip -s columns.note=skip"],
    ),
    "current parquet has a column the reference lacks": (
        "ref.csv",
        "more.parquet",
        ["more.parquet", "['extra']", "ref.csv", "expected the reference's columns", "-s columns.extra=skip"],
    ),
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


def test_drift_cli_a_column_only_the_current_file_has_can_be_left_out_on_purpose(tables, tmp_path):
    args = ("drift", tables / "ref.csv", tables / "more.csv", "--out", tmp_path / "out", "-s", "columns.extra=skip")
    code, text = run(*args)
    assert code == 4 and "['note']" in text and "'extra'" not in text, text  # each one named, each one skipped
    code, text = run(*args, "-s", "columns.note=skip")
    assert code in (0, 1), text
    assert set(json.loads((tmp_path / "out" / "drift.json").read_text())["columns"]) == {"a", "b"}


def test_drift_cli_negative_alpha_is_a_config_error(tables, tmp_path):
    before = snapshot(tables)
    code, text = run("drift", tables / "ref.csv", tables / "cur.csv", "--out", tmp_path / "out", "-s", "alpha=-0.1")
    assert code == 3 and "drift.alpha" in text and "> 0.0" in text and "-0.1" in text, text
    assert snapshot(tables) == before


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A small challenger model as a local MLflow model folder, and a holdout it was not fitted on."""
    import os

    import mlflow
    import yaml

    from driftloop.train.mlflow_model import log_sklearn_model
    from driftloop.train.model import build_model, fit_model
    from driftloop.train.windows import WindowConfig, select_training_window

    from .synthetic import make_frame, make_schema

    base = tmp_path_factory.mktemp("model")
    sch = make_schema()
    window = select_training_window(
        make_frame(400, "2026-01-01", 21, 1), make_frame(400, "2026-01-22", 21, 2), sch, WindowConfig()
    )
    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "model" / "logreg_tfidf.yaml").read_text())
    model = fit_model(build_model(cfg, sch), window, sch).model
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    os.environ["MLFLOW_TRACKING_URI"] = os.environ["MLFLOW_REGISTRY_URI"] = f"sqlite:///{base / 'mlflow.db'}"
    try:
        exp = mlflow.create_experiment("bad-input", artifact_location=(base / "art").as_uri())
        with mlflow.start_run(experiment_id=exp):
            uri = log_sklearn_model(model, "challenger", window.train[list(sch.features)].head(3))
        folder = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(base / "challenger")))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    holdout = base / "holdout.parquet"
    window.holdout.to_parquet(holdout)
    window.holdout.drop(columns=["label"]).to_parquet(base / "unlabelled.parquet")
    return folder, holdout


def _compare(holdout, challenger, out, *extra):
    return run("compare", holdout, "--challenger", challenger, "--out", out, *extra)


def test_compare_cli_sanity(model_dir, tmp_path):
    folder, holdout = model_dir
    code, text = _compare(holdout, folder, tmp_path / "out", "-s", "compare.n_bootstrap=100")
    assert code == 0, text


@pytest.mark.parametrize(
    "case", ["no such folder", "folder without MLmodel", "unknown alias", "s3 without boto3", "no label column"]
)
def test_compare_cli_bad_input(model_dir, tmp_path, mlflow_uri, case):
    folder, holdout = model_dir
    (tmp_path / "empty_model").mkdir()
    (tmp_path / "empty_model" / "notes.txt").write_text("no MLmodel here")
    challenger, data, code_wanted, words = {
        "no such folder": (str(tmp_path / "nosuch"), holdout, 6, [str(tmp_path / "nosuch")]),
        "folder without MLmodel": (
            str(tmp_path / "empty_model"),
            holdout,
            6,
            [str(tmp_path / "empty_model"), "MLmodel"],
        ),
        "unknown alias": ("models:/ghost@champion", holdout, 6, ["models:/ghost@champion"]),
        "s3 without boto3": ("s3://bucket/models/challenger", holdout, 6, ["s3://bucket/models/challenger", "boto3"]),
        "no label column": (str(folder), holdout.parent / "unlabelled.parquet", 4, ["'label'", "-s label="]),
    }[case]
    if case == "s3 without boto3" and importlib.util.find_spec("boto3") is not None:
        pytest.skip("boto3 is installed: an s3:// URI would be tried for real")
    before = snapshot(holdout.parent) | snapshot(tmp_path)
    code, text = _compare(data, challenger, tmp_path / "out")
    assert code == code_wanted, text
    for w in words:
        assert w in text, (w, text)
    assert snapshot(holdout.parent) | snapshot(tmp_path) == before
    assert not (tmp_path / "out" / "compare.json").exists()


@pytest.mark.parametrize(
    "override, words",
    [
        ("model=nosuch", ["model/nosuch", "Available options in 'model'", "hgb"]),
        ("drift.alpha=-0.1", ["drift.alpha", "> 0.0", "-0.1"]),
        ("promote.rules=[{metric: nosuch, min_gain: 0.0}]", ["promote.rules[0].metric", "'nosuch'", "f1_macro"]),
        ("compare.nosuch=1", ["compare.nosuch"]),
    ],
)
def test_params_bad_config_value_is_exit_3_and_writes_nothing(project, override, words):
    before = snapshot(project)
    code, text = run("params", override)
    assert code == 3, text
    for w in words:
        assert w in text, (w, text)
    assert snapshot(project) == before and not (project / "params.yaml").exists()


def test_compare_cli_unknown_key_is_exit_3(model_dir, tmp_path):
    folder, holdout = model_dir
    code, text = _compare(holdout, folder, tmp_path / "out", "-s", "compare.primary_metric=nosuch")
    assert code == 3 and "compare.primary_metric" in text and "promote.rules" in text, text
