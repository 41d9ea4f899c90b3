"""Model zoo: every config builds and fits; seeds make fits reproducible; the allow-list holds."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.errors import ConfigError, DataError
from driftloop.train.model import build_model, fit_model
from driftloop.train.windows import WindowConfig, select_training_window

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def _window(make, make_schema_for, task, policy="sliding"):
    ref = make(1500, "2026-01-01", 21, seed=1, task=task)
    cur = make(1500, "2026-01-22", 21, seed=2, task=task)
    schema = make_schema_for(task)
    params = {"policy": policy, "half_life_days": 7} if policy == "weighted" else {"policy": policy}
    return select_training_window(ref, cur, schema, WindowConfig.from_dict(params)), schema


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_model_config_builds_fits_and_learns(path, make, make_schema_for):
    cfg = yaml.safe_load(path.read_text())
    window, schema = _window(make, make_schema_for, cfg["task"])
    start = time.perf_counter()
    fit = fit_model(build_model(cfg, schema), window, schema)
    assert time.perf_counter() - start < 15  # the demo budget is ~5 s on ~5k rows; generous for CI noise
    if cfg["task"] == "classification":
        assert fit.classes == ["negative", "neutral", "positive"]
        assert fit.validation_metrics["accuracy"] > 0.6  # well above the ~0.4 majority rate
        assert set(fit.train_metrics) >= {"f1_macro", "log_loss", "roc_auc", "ece"}
    else:
        assert fit.classes == []
        assert fit.validation_metrics["r2"] > 0.5


@pytest.mark.parametrize("name", ["logreg_tfidf", "hgb"])
def test_same_data_and_params_give_the_same_metrics(name, make, make_schema_for):
    cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    window, schema = _window(make, make_schema_for, "classification")
    a = fit_model(build_model(cfg, schema), window, schema)
    b = fit_model(build_model(cfg, schema), window, schema)
    assert a.validation_metrics == b.validation_metrics
    # ...and the seed is really in play: another seed changes the fitted HGB.
    if name == "hgb":
        cfg["estimator"]["random_state"] = 1
        cfg["preprocessing"]["seed"] = 1
        c = fit_model(build_model(cfg, schema), window, schema)
        assert c.validation_metrics != a.validation_metrics


def test_recency_weights_reach_the_estimator(make, make_schema_for):
    cfg = yaml.safe_load((CONF / "logreg_tfidf.yaml").read_text())
    window, schema = _window(make, make_schema_for, "classification", policy="weighted")
    weighted = fit_model(build_model(cfg, schema), window, schema)
    unweighted = fit_model(
        build_model(cfg, schema),
        window.__class__(window.train, window.validation, window.holdout, None, window.description),
        schema,
    )
    assert not np.allclose(weighted.model[-1].coef_, unweighted.model[-1].coef_)


def test_svd_shrinks_to_a_small_vocabulary(make, make_schema_for):
    cfg = yaml.safe_load((CONF / "hgb.yaml").read_text())
    cfg["preprocessing"]["text"].update(max_features=12, ngram_range=[1, 1], svd_components=64)
    window, schema = _window(make, make_schema_for, "classification")
    fit = fit_model(build_model(cfg, schema), window, schema)
    svd = fit.model.named_steps["preprocess"].named_transformers_["text_comment"][-1]
    assert svd.n_components == 11
    assert fit.validation_metrics["accuracy"] > 0.6


@pytest.mark.parametrize(
    "estimator, match",
    [
        ({"_target_": "os.system", "command": "echo pwned"}, "not allowed"),
        ({"_target_": "sklearn.linear_model.Ridge"}, "not a classifier"),
        ({"C": 1.0}, "needs a _target_"),
        ({"_target_": "sklearn.linear_model.LogisticRegression", "nonsense": 1}, "cannot instantiate"),
    ],
    ids=["allow-list", "wrong-task", "no-target", "bad-param"],
)
def test_bad_estimator_configs(estimator, match, schema):
    with pytest.raises(ConfigError, match=match):
        build_model({"task": "classification", "estimator": estimator}, schema)


def test_unknown_model_key_and_task_mismatch(schema):
    with pytest.raises(ConfigError, match="preprocesing"):
        build_model({"preprocesing": {}, "estimator": {"_target_": "sklearn.linear_model.LogisticRegression"}}, schema)
    with pytest.raises(ConfigError, match=r"model\.task is 'regression'"):
        build_model(yaml.safe_load((CONF / "linear.yaml").read_text()), schema)


def test_single_class_training_window_is_a_data_error(make, make_schema_for):
    window, schema = _window(make, make_schema_for, "classification")
    one = window.train.assign(label="positive")
    with pytest.raises(DataError, match="single class"):
        fit_model(
            build_model(yaml.safe_load((CONF / "logreg_tfidf.yaml").read_text()), schema),
            window.__class__(one, window.validation, window.holdout, None, {}),
            schema,
        )


@pytest.mark.parametrize("model_file", ["logreg_tfidf"])
def test_missing_values_of_every_pandas_kind_fit_and_predict(model_file):
    # pd.NA in a nullable string column once stopped the fit with "boolean value of NA is
    # ambiguous", naming no column; None, NaN, pd.NA and NaT-free nullable ints must all impute.
    import numpy as np
    import pandas as pd
    import yaml

    from driftloop.compare.predict import predict_outputs
    from driftloop.schema import Schema
    from driftloop.train.model import build_model, features_frame

    rng = np.random.default_rng(0)
    n = 300
    schema = Schema(
        id="id",
        timestamp="ts",
        label="label",
        numeric=("x", "k"),
        categorical=("city",),
        text=("note",),
        task="classification",
    )
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "city": pd.array(rng.choice(["a", "b", "c"], n), dtype="string"),
            "note": pd.array(rng.choice(["good day", "bad\nday", "okay then"], n), dtype="string"),
        }
    )
    frame.loc[::7, "city"] = pd.NA
    frame.loc[::11, "k"] = pd.NA
    frame.loc[::13, "x"] = np.nan
    frame.loc[::17, "note"] = pd.NA
    y = np.where(frame["x"].fillna(0) > 0, "up", "down")
    cfg = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf" / "model" / f"{model_file}.yaml").read_text())
    model = build_model(cfg, schema).fit(features_frame(frame, schema, "train"), y)
    out = predict_outputs(model, frame, schema)
    assert len(out.pred) == n and set(out.pred) <= {"up", "down"}


@pytest.mark.parametrize("model_file", ["logreg_tfidf", "hgb"])
def test_a_categorical_with_thousands_of_levels_keeps_at_most_max_levels_columns(model_file):
    """An id-like categorical (3,000 merchants) pools all but its most frequent levels into one
    infrequent column: model.preprocessing.categorical.max_levels (default 100)."""
    import pandas as pd

    from driftloop.schema import Schema
    from driftloop.train.model import features_frame

    rng = np.random.default_rng(1)
    n = 6000
    schema = Schema(
        id="id", timestamp="ts", label="label", numeric=("x",), categorical=("merchant",), task="classification"
    )
    frame = pd.DataFrame(
        {"x": rng.normal(size=n), "merchant": pd.array([f"m{i}" for i in rng.integers(0, 3000, n)], dtype="string")}
    )
    y = np.where(frame["x"] > 0, "up", "down")
    cfg = yaml.safe_load((CONF / f"{model_file}.yaml").read_text())
    cfg["preprocessing"]["categorical"].pop("min_frequency", None)  # the level cap alone
    X = features_frame(frame, schema, "train")
    model = build_model(cfg, schema).fit(X, y)
    encoder = model.named_steps["preprocess"].named_transformers_["cat"][-1]
    assert 2 <= len(encoder.get_feature_names_out()) <= 100
    unseen = X.assign(merchant=pd.array(["never-seen"] * n, dtype="string"))
    assert len(model.predict(unseen)) == n  # an unseen level goes to the infrequent column
    cfg["preprocessing"]["categorical"]["max_levels"] = 10
    capped = build_model(cfg, schema).fit(X, y).named_steps["preprocess"].named_transformers_["cat"][-1]
    assert len(capped.get_feature_names_out()) <= 10


def test_max_levels_must_be_an_integer_of_at_least_two(schema):
    cfg = yaml.safe_load((CONF / "logreg_tfidf.yaml").read_text())
    cfg["preprocessing"]["categorical"]["max_levels"] = 1
    with pytest.raises(ConfigError, match=r"categorical\.max_levels must be an integer >= 2 or null\. Got 1"):
        build_model(cfg, schema)
