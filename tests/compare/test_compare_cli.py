"""The ad-hoc compare command on two MLflow model URIs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from driftloop.compare.cli import compare_command
from driftloop.contracts import CompareResult
from driftloop.train.model import build_model, fit_model
from driftloop.train.windows import WindowConfig, select_training_window

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_compare_two_uris(mlflow_uri, tmp_path, make, schema, capsys):
    import mlflow

    from driftloop.train.mlflow_model import log_sklearn_model

    window = select_training_window(
        make(800, "2026-01-01", 21, 1), make(800, "2026-01-22", 21, 2), schema, WindowConfig()
    )
    exp = mlflow.create_experiment("cli", artifact_location=(tmp_path / "art").as_uri())
    uris = {}
    for name, c in (("champion", 0.001), ("challenger", 2.0)):
        cfg = yaml.safe_load((CONF / "model" / "logreg_tfidf.yaml").read_text())
        cfg["estimator"]["C"] = c
        model = fit_model(build_model(cfg, schema), window, schema).model
        with mlflow.start_run(experiment_id=exp):
            uris[name] = log_sklearn_model(model, name, window.train[list(schema.features)].head(3))
    holdout = tmp_path / "holdout.parquet"
    window.holdout.to_parquet(holdout)
    out = tmp_path / "report"
    code = compare_command(
        holdout,
        uris["champion"],
        uris["challenger"],
        out,
        ["label=label", "compare.n_bootstrap=200", "compare.slices=[channel]"],
    )
    assert code == 0
    doc = json.loads((out / "compare.json").read_text())
    assert doc["challenger_uri"] == uris["challenger"] and doc["metrics"]["f1_macro"]["ci_low"] > 0
    assert next(iter(doc)) == "format" and doc["format"] == CompareResult.FORMAT  # as in reports/compare.json
    printed = capsys.readouterr().out
    assert "f1_macro: challenger" in printed and "95% interval" in printed
    assert doc["metrics"]["roc_auc"]["challenger"] > doc["metrics"]["roc_auc"]["champion"]
    assert (out / "plots" / "roc.png").is_file()
    # A champion URI that does not resolve: exit code of ModelError, message naming the URI.
    code = compare_command(holdout, "models:/ghost@champion", uris["challenger"], out, ["label=label"])
    assert code == 6 and "models:/ghost@champion" in capsys.readouterr().err
    # Bad label override: DataError naming the column.
    code = compare_command(holdout, None, uris["challenger"], out, ["label=sentiment"])
    assert code == 4 and "'sentiment'" in capsys.readouterr().err
