"""What the retrain stage logs stays cheap at scale (issue 17, item 6) and says the same: the
dataset schema inferred from a sample (driftloop.tracking.pandas_dataset, which the snapshot's
datasets go through too) equals MLflow's own over every row, and a model whose text
vocabulary is made of plain ints predicts exactly as before and saves fast."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftloop.tracking import pandas_dataset
from driftloop.train.mlflow_model import plain_vocabularies
from driftloop.train.model import build_model, features_frame, fit_model

from ..synthetic import make_frame, make_schema, small_window


def test_the_sampled_schema_equals_the_full_one_missing_values_far_down_included():
    from mlflow.data.pandas_dataset import from_pandas

    frame = make_frame(5000, "2026-01-01", 10, seed=3)
    frame["comment"] = frame["comment"].astype("string")
    frame.loc[4321, "comment"] = pd.NA  # past the first 1000 rows: only the full scan would see it
    frame.loc[2500, "stars"] = np.nan
    full = from_pandas(frame).schema
    sampled = pandas_dataset(frame, source=None, name="w", targets=None, schema_rows=100).schema
    assert sampled == full
    assert not {c.name: c.required for c in full.inputs}["comment"]  # the case that matters


def test_plain_vocabularies_predict_the_same_and_are_ints():
    schema = make_schema()
    window = small_window(schema)
    cfg = {
        "estimator": {"_target_": "sklearn.linear_model.LogisticRegression"},
        "preprocessing": {"text": {"max_features": 50}},
    }
    model = fit_model(build_model(cfg, schema), window, schema).model
    vectorizer = model.named_steps["preprocess"].named_transformers_["text_comment"][-1]
    assert any(isinstance(v, np.integer) for v in vectorizer.vocabulary_.values())  # what scikit-learn leaves
    X = features_frame(window.holdout, schema, "holdout")
    before = model.predict_proba(X)
    plain_vocabularies(model)
    assert all(type(v) is int for v in vectorizer.vocabulary_.values())
    assert np.array_equal(model.predict_proba(X), before)
