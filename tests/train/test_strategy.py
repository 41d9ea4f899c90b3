"""train.strategy (issue 17, item 5): full, a stratified time-aware sample, incremental partial_fit.

Real scikit-learn models, real MLflow (sqlite under tmp_path), the real training_sample and
fit_incremental of driftloop.engine.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from driftloop.config import compose
from driftloop.contracts import TrainResult
from driftloop.engine import allocate
from driftloop.errors import ConfigError
from driftloop.preflight import check_config, config_problems
from driftloop.schema import Schema
from driftloop.train.challenger import fit_and_log
from driftloop.train.model import build_model, fit_model
from driftloop.train.strategy import fit_with_strategy
from driftloop.train.windows import WindowConfig, select_training_window

from ..synthetic import make_frame, make_schema

CONF = Path(__file__).resolve().parents[2] / "conf"

LOGREG = {
    "task": "classification",
    "estimator": {"_target_": "sklearn.linear_model.LogisticRegression", "max_iter": 500},
}
SGD = {
    "task": "classification",
    "estimator": {"_target_": "sklearn.linear_model.SGDClassifier", "loss": "log_loss", "random_state": 0},
}
RIDGE = {"task": "regression", "estimator": {"_target_": "sklearn.linear_model.Ridge"}}
SGD_REGRESSOR = {
    "task": "regression",
    "estimator": {"_target_": "sklearn.linear_model.SGDRegressor", "random_state": 0},
}


def _window(task: str = "classification", policy: str = "expanding"):
    schema = make_schema(task)
    ref = make_frame(1500, "2026-01-01", 21, seed=1, task=task)
    cur = make_frame(1500, "2026-01-22", 14, seed=2, task=task)
    extra = {"half_life_days": 7} if policy == "weighted" else {}
    return select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": policy, **extra})), schema


def _cfg(strategy: str, **keys) -> WindowConfig:
    return WindowConfig.from_dict({"policy": "expanding", "strategy": strategy, **keys})


def _strata(frame: pd.DataFrame, label: pd.Series, period: str = "D") -> pd.Series:
    return label.astype(str) + "|" + frame["timestamp"].dt.floor(period).astype(str)


@pytest.mark.parametrize(
    ("strategy", "model", "used"),
    [("full", LOGREG, None), ("sample", LOGREG, 400), ("incremental", SGD, None)],
)
def test_each_strategy_trains_logs_its_params_and_records_them(mlflow_uri, tmp_path, strategy, model, used):
    window, schema = _window()
    n = len(window.train)
    pipeline = build_model(model, schema)
    record = TrainResult(trained=False, trigger="always", model="m", rows={})
    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    cfg = _cfg(strategy, sample_size=400, sample_period="D", sample_seed=3)
    with mlflow.start_run(experiment_id=exp) as run:
        result = fit_and_log(
            pipeline, window, schema, record, run_id=run.info.run_id, training_uri="file:///t", strategy=cfg
        )
    params = mlflow.get_run(run.info.run_id).data.params
    assert params["training.strategy"] == strategy
    assert params["training.rows_window"] == str(n)
    assert params["training.rows_used"] == str(used or n)
    assert result.trained and result.validation_metrics["accuracy"] > 0.5
    training = TrainResult.from_dict(result.to_dict()).training
    assert training is not None and training["strategy"] == strategy and training["rows_used"] == (used or n)
    if strategy == "full":
        assert "training.sample_size" not in params and set(training) == {"strategy", "rows_window", "rows_used"}
    else:
        assert (params["training.sample_size"], params["training.period"], params["training.seed"]) == ("400", "D", "3")
        assert params["training.rows_sampled"] == "400" and params["training.strata"] == "label x D"


def test_full_is_the_plain_fit_unchanged():
    window, schema = _window()
    pipeline = build_model(LOGREG, schema)
    fit, record = fit_with_strategy(pipeline, window, schema, WindowConfig.from_dict({"policy": "expanding"}))
    plain = fit_model(pipeline, window, schema)
    assert record.strategy == "full" and fit.validation_metrics == plain.validation_metrics
    X = window.holdout.loc[:, list(schema.features)]
    assert np.array_equal(fit.model.predict_proba(X), plain.model.predict_proba(X))


def test_sample_has_the_asked_rows_and_each_label_and_day_its_share(tmp_path):
    from driftloop.train.strategy import sample_training_rows

    window, schema = _window()
    size = 500
    sample, weights, strata = sample_training_rows(window, schema, _cfg("sample", sample_size=size), tmp_path)
    assert len(sample) == size and weights is None and strata == "label x D"
    counts = _strata(window.train, window.train["label"]).value_counts().to_dict()
    expected = {k: v for k, v in allocate(counts, size).items() if v}
    assert _strata(sample, sample["label"]).value_counts().to_dict() == expected
    # the class balance kept (largest remainders: within one row per stratum)
    share = window.train["label"].value_counts(normalize=True)
    got = sample["label"].value_counts(normalize=True)
    days = window.train["timestamp"].dt.floor("D").nunique()
    assert (abs(got - share) <= days / size).all()
    # rows of the window, each once and unchanged, in window order
    assert sample["id"].is_unique and list(sample.columns) == list(window.train.columns)
    by_id = window.train.set_index("id").loc[sample["id"]].reset_index()
    pd.testing.assert_frame_equal(sample, by_id[sample.columns])
    assert sample["timestamp"].is_monotonic_increasing


def test_the_same_seed_draws_the_same_rows_and_another_seed_others(tmp_path):
    from driftloop.train.strategy import sample_training_rows

    window, schema = _window()

    a = sample_training_rows(window, schema, _cfg("sample", sample_size=300, sample_seed=1), tmp_path)[0]
    b = sample_training_rows(window, schema, _cfg("sample", sample_size=300, sample_seed=1), tmp_path)[0]
    c = sample_training_rows(window, schema, _cfg("sample", sample_size=300, sample_seed=2), tmp_path)[0]
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_regression_strata_are_target_deciles_by_day_not_one_per_value(tmp_path):
    from driftloop.train.strategy import sample_training_rows

    window, schema = _window("regression")
    y = window.train["label"]
    assert y.nunique() == len(y)  # every float distinct: one stratum each would be a copy, not a sample
    size = 400
    sample, _, strata = sample_training_rows(window, schema, _cfg("sample", sample_size=size), tmp_path)
    assert strata == "target decile x D" and len(sample) == size
    decile = sample.pop("_target_decile")
    days = window.train["timestamp"].dt.floor("D").nunique()
    assert _strata(sample, decile).nunique() <= 10 * days
    # each decile holds a tenth of the sample (within one row per day), and really is a decile
    assert (abs(decile.value_counts() - size / 10) <= days).all()
    edges = y.quantile([0.1, 0.9])
    assert sample.loc[decile == 0, "label"].max() <= edges[0.1] + 1e-9
    assert sample.loc[decile == 9, "label"].min() >= edges[0.9] - 1e-9


@pytest.mark.parametrize(("strategy", "model"), [("sample", RIDGE), ("incremental", SGD_REGRESSOR)])
def test_a_regression_model_trains_with_each_strategy(strategy, model):
    window, schema = _window("regression")
    fit, record = fit_with_strategy(build_model(model, schema), window, schema, _cfg(strategy, sample_size=300))
    assert record.strategy == strategy and record.strata == "target decile x D"
    assert record.rows_used == (300 if strategy == "sample" else len(window.train))
    assert fit.validation_metrics["rmse"] < window.validation["label"].std() * 2


def test_sample_keeps_the_weighted_policys_recency_weights(tmp_path):
    window, schema = _window(policy="weighted")
    cfg = WindowConfig.from_dict({"policy": "weighted", "half_life_days": 7, "strategy": "sample", "sample_size": 300})
    from driftloop.train.strategy import sample_training_rows

    sample, weights, _ = sample_training_rows(window, schema, cfg, tmp_path)
    assert weights is not None and len(weights) == len(sample) == 300
    by_time = pd.Series(window.train_weight, index=window.train["timestamp"])
    assert np.allclose(weights, by_time.groupby(level=0).first().reindex(sample["timestamp"]).to_numpy())


def test_incremental_on_a_model_without_partial_fit_is_refused_naming_the_key():
    window, schema = _window()
    with pytest.raises(ConfigError, match=r"train\.strategy is 'incremental' but model\.estimator LogisticRegression"):
        fit_with_strategy(build_model(LOGREG, schema), window, schema, _cfg("incremental"))
    cfg = {"train": {"strategy": "incremental"}, "model": LOGREG}
    assert config_problems(cfg, schema)[0].startswith("train.strategy is 'incremental' but model.estimator Logistic")
    # the first stage refuses it: the shipped config (model logreg_tfidf) with train.strategy=incremental
    composed = compose(["train.strategy=incremental"], conf_dir=CONF)
    with pytest.raises(ConfigError, match=r"train\.strategy is 'incremental' but model\.estimator LogisticRegression"):
        check_config(composed, Schema.from_config(composed["data"]["schema"]))
    assert config_problems({"train": {"strategy": "incremental"}, "model": SGD}, schema) == []
    assert config_problems({"train": {"strategy": "sample"}, "model": LOGREG}, schema) == []


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"strategy": "spark"}, r"train\.strategy must be one of"),
        ({"sample_size": 0}, r"train\.sample_size"),
        ({"sample_period": "W"}, r"train\.sample_period must be a fixed pandas frequency"),
        ({"sample_period": "fortnight"}, r"train\.sample_period"),
        ({"policy": "weighted", "half_life_days": 3, "strategy": "incremental"}, r"train\.strategy 'incremental'"),
    ],
)
def test_bad_strategy_keys_are_refused_naming_them(keys, message):
    with pytest.raises(ConfigError, match=message):
        WindowConfig.from_dict(keys)


def test_the_default_is_full_and_a_train_json_without_training_reads_as_before():
    assert WindowConfig().strategy == "full" and WindowConfig.from_dict({}).sample_size == 100_000
    fitted = {"trained": True, "model_uri": "models:/m-1", "run_id": "r", "classes": None}
    assert TrainResult.from_dict(fitted).training is None
    record = TrainResult.from_dict({**fitted, "training": {"strategy": "sample", "rows_used": 5}})
    assert record.to_dict()["training"] == {"strategy": "sample", "rows_used": 5}
    assert TrainResult.from_dict(record.to_dict()) == record
