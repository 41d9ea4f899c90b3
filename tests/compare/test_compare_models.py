"""compare_models end to end: the compare.json format, stable keys, decisions, bad input, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.compare import CompareConfig, compare_models, write_plots
from driftloop.compare.comparison import compare_predictions
from driftloop.compare.predict import Predictions
from driftloop.errors import ConfigError, DataError, ModelError
from driftloop.train.model import build_model, fit_model
from driftloop.train.windows import WindowConfig, select_training_window

CONF = Path(__file__).resolve().parents[2] / "conf"
FAST = {"n_bootstrap": 200, "slices": ["product_area", "channel"]}


def test_compare_json_has_every_metric_and_stable_keys(trained):
    schema, window, good, bad = trained
    result = compare_models(window.holdout, schema, good, bad, CompareConfig.from_dict(FAST))
    doc = json.loads(json.dumps(result.to_dict()))  # JSON-ready
    expected = {"accuracy", "f1_macro", "log_loss", "brier_score", "ece", "roc_auc"} | {
        f"{m}_{c}" for m in ("precision", "recall") for c in ("negative", "neutral", "positive")}
    assert expected <= set(doc["metrics"])
    for name, m in doc["metrics"].items():
        assert {"champion", "challenger", "delta", "ci_low", "ci_high"} <= set(m), name
        assert m["ci_low"] <= m["delta"] <= m["ci_high"], name
        assert m["delta"] == pytest.approx(m["challenger"] - m["champion"])
    assert doc["metrics"]["accuracy"]["test"] == "mcnemar_exact" and 0 <= doc["metrics"]["accuracy"]["p_value"] <= 1
    assert doc["metrics"]["roc_auc"]["test"] == "delong"
    assert doc["improved"] is True and doc["primary_metric"] == "f1_macro" and doc["reasons"]
    assert doc["n_holdout"] == len(window.holdout)
    assert set(doc["slices"]) == {"product_area", "channel"}
    flat = result.metrics()
    for key in ("compare.challenger.f1_macro", "compare.champion.accuracy", "compare.delta.f1_macro",
                "compare.ci_low.f1_macro", "compare.ci_high.roc_auc", "compare.p_value.accuracy",
                "compare.improved", "compare.n_holdout", "compare.challenger.recall_negative",
                "compare.slice.channel.email.delta.f1_macro"):
        assert key in flat, key
    # Swapped roles: the worse model is not an improvement, and the reasons say why.
    swapped = compare_models(window.holdout, schema, bad, good, CompareConfig.from_dict(FAST))
    assert swapped.improved is False and any("below the margin" in r for r in swapped.reasons)


def test_same_seed_same_result_and_identical_models_do_not_improve(trained):
    schema, window, good, _ = trained
    cfg = CompareConfig.from_dict(FAST)
    a = compare_models(window.holdout, schema, good, good, cfg).to_dict()
    assert a == compare_models(window.holdout, schema, good, good, cfg).to_dict()
    assert a["improved"] is False
    assert a["metrics"]["f1_macro"]["delta"] == 0 and a["metrics"]["f1_macro"]["ci_high"] == 0


def test_no_champion(trained):
    schema, window, good, _ = trained
    result = compare_models(window.holdout, schema, good, None, CompareConfig.from_dict(FAST))
    doc = result.to_dict()
    assert doc["improved"] is None and doc["has_champion"] is False and "no champion" in doc["reasons"][0]
    assert doc["metrics"]["f1_macro"]["champion"] is None and doc["metrics"]["f1_macro"]["challenger"] > 0.5
    assert "compare.improved" not in result.metrics() and "compare.challenger.f1_macro" in result.metrics()


def test_lower_is_better_primary_and_guards(trained):
    schema, window, good, bad = trained
    result = compare_models(window.holdout, schema, good, bad, CompareConfig.from_dict(
        {**FAST, "primary_metric": "log_loss", "margin": 0.01, "guards": {"recall_neutral": 0.0}}))
    assert result.greater_is_better is False
    assert result.metrics_table["log_loss"].delta < 0 and result.improved is (
        result.metrics_table["recall_neutral"].delta >= 0)
    with pytest.raises(ConfigError, match="rmse"):
        compare_models(window.holdout, schema, good, bad, CompareConfig.from_dict({"primary_metric": "rmse"}))


def test_require_mcnemar_adds_a_reason():
    y = np.array(["a", "b"] * 200)
    champ = Predictions(np.where(np.arange(400) < 300, y, "a"), None, ("a", "b"))
    chall = Predictions(np.where(np.arange(400) < 310, y, "a"), None, ("a", "b"))
    r = compare_predictions(y, chall, champ, CompareConfig.from_dict({"primary_metric": "accuracy",
                                                                     "require_mcnemar": True, "margin": 0.0}))
    assert any("McNemar" in reason for reason in r.reasons)
    assert r.mcnemar.challenger_only == 5 and r.mcnemar.champion_only == 0


def test_regression(make, make_schema_for, tmp_path):
    schema = make_schema_for("regression")
    window = select_training_window(make(800, "2026-01-01", 21, 1, "regression"),
                                    make(800, "2026-01-22", 21, 2, "regression"), schema, WindowConfig())
    lin = fit_model(build_model(yaml.safe_load((CONF / "model" / "linear.yaml").read_text()), schema),
                    window, schema).model
    cfg = CompareConfig.from_dict(yaml.safe_load((CONF / "compare" / "regression.yaml").read_text()))
    r = compare_models(window.holdout, schema, lin, lin, cfg)
    assert set(r.to_dict()["metrics"]) == {"rmse", "mae", "r2"}
    assert r.primary_metric == "rmse" and r.improved is False
    files = write_plots(r, tmp_path)
    assert {p.name for p in files} == {"predictions.csv", "predicted_vs_actual.png", "residuals.png"}


def test_plots_for_classification(trained, tmp_path):
    schema, window, good, bad = trained
    r = compare_models(window.holdout, schema, good, bad, CompareConfig.from_dict(FAST))
    names = {p.name for p in write_plots(r, tmp_path)}
    assert {"roc.png", "precision_recall.png", "confusion.png", "calibration.png", "roc.csv", "pr.csv",
            "calibration.csv", "confusion_champion.csv", "confusion_challenger.csv"} <= names
    assert all((tmp_path / n).stat().st_size > 0 for n in names)


def test_single_class_holdout(trained):
    schema, window, good, bad = trained
    one = window.holdout[window.holdout["label"] == "positive"]
    with pytest.raises(DataError, match="single class"):
        compare_models(one, schema, good, bad, CompareConfig())


def test_challenger_schema_differs(trained):
    schema, window, good, bad = trained
    with pytest.raises(ModelError, match=r"challenger's input schema differs.*\['channel'\]"):
        compare_models(window.holdout.drop(columns="channel"), schema, good, bad,
                       CompareConfig.from_dict({"slices": []}))


def test_labels_unseen_in_training(trained):
    schema, window, good, bad = trained
    holdout = window.holdout.copy()
    holdout.loc[holdout.index[:20], "label"] = "furious"
    with pytest.raises(DataError, match=r"\['furious'\] were unseen in training by the challenger"):
        compare_models(holdout, schema, good, bad, CompareConfig())


def test_champion_uri_that_does_not_resolve(mlflow_uri):
    from driftloop.compare.predict import load_model

    with pytest.raises(ModelError, match="models:/nobody@champion"):
        load_model("models:/nobody@champion")


@pytest.mark.parametrize("mapping, match", [({"margn": 0.1}, "margn"), ({"confidence": 1.5}, "confidence"),
                                            ({"bootstrap": "jackknife"}, "bootstrap"),
                                            ({"guards": {"x": -1}}, "guards.x")])
def test_compare_config_errors(mapping, match):
    with pytest.raises(ConfigError, match=match):
        CompareConfig.from_dict(mapping)


def test_every_compare_config_loads():
    for path in sorted((CONF / "compare").glob("*.yaml")):
        CompareConfig.from_dict(yaml.safe_load(path.read_text()))
    cfg = CompareConfig.from_dict(yaml.safe_load((CONF / "compare" / "default.yaml").read_text()))
    assert (cfg.primary_metric, cfg.margin, cfg.n_bootstrap, cfg.confidence) == ("f1_macro", 0.01, 1000, 0.95)
