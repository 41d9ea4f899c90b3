"""compare.predict_outputs transforms a pipeline's input once for predict and predict_proba, and
gives exactly what the pipeline's own methods give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from driftloop.compare import predict_outputs
from driftloop.schema import Schema

CALLS = {"n": 0}


def _counted(x):
    CALLS["n"] += 1
    return x


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = np.array(["good", "bad", "fine", "awful", "great", "meh"])
    return pd.DataFrame(
        {
            "text": [" ".join(rng.choice(words, 4)) for _ in range(n)],
            "x": rng.normal(size=n),
            "label": rng.choice(["neg", "pos", "neu"], n),
            "y": rng.normal(size=n),
        }
    )


def _features() -> ColumnTransformer:
    return ColumnTransformer([("text", TfidfVectorizer(), "text"), ("x", StandardScaler(), ["x"])])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_pipeline_outputs_equal_its_own_methods_and_transform_once(task: str):
    train, test = _frame(300, 0), _frame(200, 1)
    target = "label" if task == "classification" else "y"
    final = LogisticRegression(max_iter=500) if task == "classification" else HistGradientBoostingRegressor(max_iter=20)
    pipe = Pipeline([("count", FunctionTransformer(_counted)), ("features", _features()), ("model", final)])
    pipe.fit(train[["text", "x"]], train[target])
    classes = ("neg", "neu", "pos") if task == "classification" else ()
    schema = Schema(id="id", timestamp="ts", label=target, numeric=("x",), text=("text",), task=task, classes=classes)
    CALLS["n"] = 0
    out = predict_outputs(pipe, test, schema)
    assert CALLS["n"] == 1  # one pass through the transforms, not one per method
    X = test[["text", "x"]]
    if task == "classification":
        assert out.pred.tolist() == pipe.predict(X).astype(str).tolist()
        np.testing.assert_array_equal(out.proba, pipe.predict_proba(X))
        assert out.classes == ("neg", "neu", "pos")
    else:
        np.testing.assert_array_equal(out.pred, pipe.predict(X).astype(np.float64))
        assert out.proba is None


def test_an_estimator_that_is_not_a_pipeline_is_called_as_it_is():
    train, test = _frame(200, 2), _frame(50, 3)
    model = LogisticRegression().fit(train[["x"]], train["label"])
    schema = Schema(id="id", timestamp="ts", label="label", numeric=("x",), classes=("neg", "neu", "pos"))
    out = predict_outputs(model, test, schema)
    np.testing.assert_array_equal(out.proba, model.predict_proba(test[["x"]]))
