"""Logging the challenger and its datasets to MLflow, and loading it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.train.model import build_model, fit_model
from driftloop.train.windows import WindowConfig, select_training_window

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


@pytest.fixture
def fitted(frames, schema):
    ref, cur = frames
    window = select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": "expanding"}))
    cfg = yaml.safe_load((CONF / "hgb.yaml").read_text())
    return window, fit_model(build_model(cfg, schema), window, schema)


@pytest.mark.parametrize("fmt", ["cloudpickle", "skops"])
def test_log_and_load_back(mlflow_uri, tmp_path, fitted, schema, fmt):
    import mlflow

    from driftloop.compare.predict import load_model, predict_outputs
    from driftloop.train.mlflow_model import log_sklearn_model, log_training_datasets

    window, fit = fitted
    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    example = window.train[list(schema.features)].head(5)
    with mlflow.start_run(experiment_id=exp) as run:
        uri = log_sklearn_model(fit.model, "challenger", example, serialization_format=fmt)
        digests = log_training_datasets(window, schema, source="data/snapshot/current.parquet")
    loaded = load_model(uri, allow_pickle=fmt == "cloudpickle")  # pickles load only on request
    sig = loaded.input_schema
    assert sig.input_names() == list(schema.features)
    info = mlflow.models.get_model_info(uri)
    assert info.signature.outputs.input_names() == fit.classes  # predict_proba columns
    reqs = (Path(mlflow.artifacts.download_artifacts(uri)) / "requirements.txt").read_text()
    assert "scikit-learn==" in reqs and "numpy==" in reqs
    pred = predict_outputs(loaded, window.holdout, schema)
    X = window.holdout[list(schema.features)]
    assert np.array_equal(pred.pred, fit.model.predict(X))
    assert np.allclose(pred.proba, fit.model.predict_proba(X))
    # The run records training/validation/holdout datasets with their digests.
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    logged = {d.tags[0].value: d.dataset.digest for d in inputs}
    assert logged == digests and set(digests) == {"training", "validation", "holdout"}
