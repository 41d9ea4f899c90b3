"""train.strategy through the real stages (issue 17, item 5): the retrain stage fits on the sample
and says so in train.json and on its MLflow run; incremental with the shipped pipeline (no
partial_fit) is refused by the first stage, naming the key."""

from __future__ import annotations

import json

import pytest

from driftloop import paths
from driftloop.errors import ConfigError

from .conftest import add_weeks
from .helpers import run_drift, run_retrain, run_snapshot


def test_the_retrain_stage_fits_on_the_sample_and_logs_and_records_it(cfg, workspace, mlflow_uri):
    from mlflow import MlflowClient

    add_weeks(workspace, range(1, 7))
    cfg["train"].update(strategy="sample", sample_size=200, sample_seed=5)
    run_snapshot(cfg)
    run_drift(cfg)
    out = run_retrain(cfg)
    assert out == json.loads((workspace / paths.TRAIN_JSON).read_text())
    training = out["training"]
    assert training == {
        "strategy": "sample",
        "rows_window": out["rows"]["train"],
        "rows_used": 200,
        "sample_size": 200,
        "rows_sampled": 200,
        "period": "D",
        "seed": 5,
        "strata": "label x D",
    }
    assert out["rows"]["train"] > 200  # a sample, not the window
    params = MlflowClient(mlflow_uri).get_run(out["run_id"]).data.params
    assert (params["training.strategy"], params["training.rows_used"], params["train.strategy"]) == (
        "sample",
        "200",
        "sample",
    )


def test_incremental_with_the_shipped_pipeline_is_refused_by_the_first_stage(cfg, workspace):
    add_weeks(workspace, range(1, 7))
    cfg["train"]["strategy"] = "incremental"
    with pytest.raises(ConfigError, match=r"train\.strategy is 'incremental' but model\.estimator LogisticRegression"):
        run_snapshot(cfg)
    assert not (workspace / paths.MANIFEST).exists()
