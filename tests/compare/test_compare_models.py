"""compare_models end to end: the compare.json format, stable keys, standard errors, bad input, plots."""

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
        f"{m}_{c}" for m in ("precision", "recall") for c in ("negative", "neutral", "positive")
    }
    assert expected <= set(doc["metrics"])
    for name, m in doc["metrics"].items():
        assert {"champion", "challenger", "delta", "ci_low", "ci_high"} <= set(m), name
        assert m["ci_low"] <= m["delta"] <= m["ci_high"], name
        assert m["delta"] == pytest.approx(m["challenger"] - m["champion"])
    assert doc["metrics"]["accuracy"]["test"] == "mcnemar_exact" and 0 <= doc["metrics"]["accuracy"]["p_value"] <= 1
    assert doc["metrics"]["roc_auc"]["test"] == "delong"
    assert "improved" not in doc and "reasons" not in doc  # evidence only: promote decides
    # each model's own bootstrap standard error, from the same resamples as the interval
    f1 = doc["metrics"]["f1_macro"]
    assert 0 < f1["challenger_se"] < 0.1 and 0 < f1["champion_se"] < 0.1
    assert (f1["ci_high"] - f1["ci_low"]) < 2 * 1.96 * (f1["challenger_se"] + f1["champion_se"])
    assert doc["n_holdout"] == len(window.holdout)
    assert set(doc["slices"]) == {"product_area", "channel"}
    flat = result.metrics()
    for key in (
        "compare.challenger.f1_macro",
        "compare.champion.accuracy",
        "compare.delta.f1_macro",
        "compare.ci_low.f1_macro",
        "compare.ci_high.roc_auc",
        "compare.p_value.accuracy",
        "compare.n_holdout",
        "compare.challenger.recall_negative",
        "compare.slice.channel.email.delta.f1_macro",
    ):
        assert key in flat, key
    swapped = compare_models(window.holdout, schema, bad, good, CompareConfig.from_dict(FAST)).to_dict()
    assert swapped["metrics"]["f1_macro"]["delta"] == pytest.approx(-doc["metrics"]["f1_macro"]["delta"])


def test_se_is_the_standard_deviation_of_the_bootstrap_replicates():
    # Independent check: recompute the challenger's accuracy over the same Poisson resamples
    # (keyed by the row ids, rows in the canonical order of their id hashes).
    from driftloop.compare.bootstrap import hash_rows, resample_weights, row_keys

    rng = np.random.default_rng(5)
    y = rng.choice(["a", "b"], 3000)
    ids = np.array([f"r{i}" for i in range(3000)])
    chall = Predictions(np.where(rng.random(3000) < 0.8, y, np.where(y == "a", "b", "a")), None, ("a", "b"))
    champ = Predictions(np.where(rng.random(3000) < 0.7, y, np.where(y == "a", "b", "a")), None, ("a", "b"))
    cfg = CompareConfig.from_dict({"n_bootstrap": 400, "seed": 3})
    doc = compare_predictions(y, chall, champ, cfg, ids=ids).to_dict()
    assert doc["bootstrap_keys"] == "id"
    order, keys = row_keys(hash_rows(ids))
    w = np.vstack(
        list(
            resample_weights(
                3000, 400, np.random.default_rng(np.random.SeedSequence(3).spawn(1)[0]), "poisson", keys=keys
            )
        )
    ).astype(np.float64)
    acc = (w * (chall.pred == y)[order]).sum(axis=1) / w.sum(axis=1)
    assert doc["metrics"]["accuracy"]["challenger_se"] == pytest.approx(acc.std(ddof=1), rel=1e-6)
    assert doc["metrics"]["accuracy"]["challenger_se"] == pytest.approx(np.sqrt(0.8 * 0.2 / 3000), rel=0.15)
    assert doc["disagreement_rate"] == pytest.approx(np.mean(chall.pred != champ.pred))


def test_same_seed_same_result_and_identical_models_do_not_improve(trained):
    schema, window, good, _ = trained
    cfg = CompareConfig.from_dict(FAST)
    a = compare_models(window.holdout, schema, good, good, cfg).to_dict()
    assert a == compare_models(window.holdout, schema, good, good, cfg).to_dict()
    assert a["metrics"]["f1_macro"]["delta"] == 0 and a["metrics"]["f1_macro"]["ci_high"] == 0


def test_no_champion(trained):
    schema, window, good, _ = trained
    result = compare_models(window.holdout, schema, good, None, CompareConfig.from_dict(FAST))
    doc = result.to_dict()
    assert doc["has_champion"] is False
    assert doc["metrics"]["f1_macro"]["champion"] is None and doc["metrics"]["f1_macro"]["challenger"] > 0.5
    assert doc["metrics"]["f1_macro"]["delta"] is None and doc["metrics"]["f1_macro"]["challenger_se"] is None
    assert "compare.delta.f1_macro" not in result.metrics() and "compare.challenger.f1_macro" in result.metrics()


def test_mcnemar_counts_are_evidence():
    y = np.array(["a", "b"] * 200)
    champ = Predictions(np.where(np.arange(400) < 300, y, "a"), None, ("a", "b"))
    chall = Predictions(np.where(np.arange(400) < 310, y, "a"), None, ("a", "b"))
    r = compare_predictions(y, chall, champ, CompareConfig())
    assert r.mcnemar.challenger_only == 5 and r.mcnemar.champion_only == 0
    assert r.to_dict()["metrics"]["accuracy"]["test"] == "mcnemar_exact"


def test_regression(make, make_schema_for, tmp_path):
    schema = make_schema_for("regression")
    window = select_training_window(
        make(800, "2026-01-01", 21, 1, "regression"),
        make(800, "2026-01-22", 21, 2, "regression"),
        schema,
        WindowConfig(),
    )
    lin = fit_model(
        build_model(yaml.safe_load((CONF / "model" / "linear.yaml").read_text()), schema), window, schema
    ).model
    cfg = CompareConfig.from_dict(yaml.safe_load((CONF / "compare" / "regression.yaml").read_text()))
    r = compare_models(window.holdout, schema, lin, lin, cfg)
    assert set(r.to_dict()["metrics"]) == {"rmse", "mae", "r2"}
    assert r.to_dict()["metrics"]["rmse"]["greater_is_better"] is False
    files = write_plots(r, tmp_path)
    assert {p.name for p in files} == {"predictions.csv", "predicted_vs_actual.png", "residuals.png"}


def test_plots_for_classification(trained, tmp_path):
    schema, window, good, bad = trained
    r = compare_models(window.holdout, schema, good, bad, CompareConfig.from_dict(FAST))
    names = {p.name for p in write_plots(r, tmp_path)}
    assert {
        "roc.png",
        "precision_recall.png",
        "confusion.png",
        "calibration.png",
        "roc.csv",
        "pr.csv",
        "calibration.csv",
        "confusion_champion.csv",
        "confusion_challenger.csv",
    } <= names
    assert all((tmp_path / n).stat().st_size > 0 for n in names)


def test_single_class_holdout(trained):
    schema, window, good, bad = trained
    one = window.holdout[window.holdout["label"] == "positive"]
    with pytest.raises(DataError, match="single class"):
        compare_models(one, schema, good, bad, CompareConfig())


def test_challenger_schema_differs(trained):
    schema, window, good, bad = trained
    with pytest.raises(ModelError, match=r"challenger's input schema differs.*\['channel'\]"):
        compare_models(
            window.holdout.drop(columns="channel"), schema, good, bad, CompareConfig.from_dict({"slices": []})
        )


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


@pytest.mark.parametrize(
    "mapping, match",
    [
        ({"margn": 0.1}, "margn"),
        ({"confidence": 1.5}, "confidence"),
        ({"bootstrap": "jackknife"}, "bootstrap"),
        ({"guards": {"x": -1}}, r"compare\.guards is now promote\.rules"),
        ({"margin": 0.01}, r"compare\.margin is now promote\.rules\[\]\.min_gain"),
        ({"primary_metric": "f1_macro"}, r"compare\.primary_metric is now"),
    ],
)
def test_compare_config_errors(mapping, match):
    with pytest.raises(ConfigError, match=match):
        CompareConfig.from_dict(mapping)


def test_every_compare_config_loads():
    from driftloop.config import compose

    for path in sorted((CONF / "compare").glob("*.yaml")):
        CompareConfig.from_dict(compose([f"compare={path.stem}"], conf_dir=CONF)["compare"])
    for task in ("classification", "regression"):
        cfg = CompareConfig.from_dict(yaml.safe_load((CONF / "compare" / f"{task}.yaml").read_text()))
        assert (cfg.n_bootstrap, cfg.confidence, cfg.slices) == (1000, 0.95, ())
