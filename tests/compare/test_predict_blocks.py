"""compare.predict_outputs with workers > 1: a large frame scored in contiguous row blocks, one
worker process each, gives the one-process outputs row for row (real scikit-learn pipelines,
real worker processes), for the shipped model configs, classification and regression."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.base import BaseEstimator, ClassifierMixin

from driftloop.compare import predict_outputs
from driftloop.engine import scoring_workers
from driftloop.errors import ModelError
from driftloop.train.model import build_model, fit_model
from driftloop.train.windows import WindowConfig, select_training_window

from ..synthetic import make_frame, make_schema

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def _fitted(model_name: str, task: str):
    schema = make_schema(task)
    window = select_training_window(
        make_frame(900, "2026-01-01", 21, seed=1, task=task),
        make_frame(700, "2026-01-22", 14, seed=2, task=task),
        schema,
        WindowConfig.from_dict({"policy": "expanding"}),
    )
    cfg = OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "model" / f"{model_name}.yaml"))
    return fit_model(build_model(cfg, schema), window, schema).model, schema


@pytest.mark.parametrize(
    ("model_name", "task"),
    [("logreg_tfidf", "classification"), ("hgb", "classification"), ("hgb_regressor", "regression")],
)
def test_blocks_equal_one_process(model_name, task):
    model, schema = _fitted(model_name, task)
    frame = make_frame(2_001, "2026-02-10", 14, seed=9, task=task)  # odd: blocks of unequal size
    frame.loc[[5, 1500], "stars"] = np.nan  # missing values in both blocks
    one = predict_outputs(model, frame, schema)
    blocks = predict_outputs(model, frame, schema, workers=2, min_rows=1_000)
    assert np.array_equal(blocks.pred, one.pred)
    assert blocks.classes == one.classes
    if one.proba is None:
        assert blocks.proba is None
    else:
        assert np.array_equal(blocks.proba, one.proba)  # bit for bit, not approximately


def test_too_few_rows_for_two_blocks_score_here():
    """min_rows decides: 1,500 rows at 1,000 a block make one block, scored in this process (a
    model that cannot be pickled shows it: a worker would need it pickled)."""
    model, schema = _fitted("logreg_tfidf", "classification")
    frame = make_frame(1_500, "2026-02-10", 14, seed=9)
    model.unpicklable = threading.Lock()  # a lock cannot be sent to a worker
    out = predict_outputs(model, frame, schema, workers=2, min_rows=1_000)
    assert len(out.pred) == 1_500
    with pytest.raises(Exception, match=r"pickle|lock"):
        predict_outputs(model, make_frame(2_001, "2026-02-10", 14, seed=9), schema, workers=2, min_rows=1_000)


def test_a_worker_failure_names_the_model():
    model, schema = _fitted("logreg_tfidf", "classification")
    frame = make_frame(2_001, "2026-02-10", 14, seed=9)
    frame["stars"] = frame["stars"].astype(object)
    frame.loc[1900, "stars"] = "five"  # in the second block only
    with pytest.raises(ModelError, match="the champion failed to predict"):
        predict_outputs(model, frame, schema, "champion", workers=2, min_rows=1_000)


def test_scoring_workers_follow_the_engine():
    assert scoring_workers({"engine": {"kind": "local", "n_workers": 3}}) == 3
    assert scoring_workers({"engine": {"kind": "local", "n_workers": 1}}) == 1
    assert scoring_workers({"engine": {"kind": "dask", "n_workers": 4}}) == 1
    assert scoring_workers({}) == 2  # the shipped default


class DiesInAWorker(BaseEstimator, ClassifierMixin):
    """A real fault: the process scoring it is killed (SIGKILL, as the kernel's out-of-memory
    killer does) unless it is the process that built it."""

    def __init__(self, parent: int = 0):
        self.parent = parent

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return np.full(len(X), self.classes_[0])


def test_a_killed_worker_is_a_clear_error_naming_the_way_out():
    schema = make_schema()
    frame = make_frame(2_001, "2026-02-10", 14, seed=9)
    model = DiesInAWorker(parent=os.getpid()).fit(frame[["stars"]], frame["label"])
    assert len(predict_outputs(model, frame, schema, "champion").pred) == 2_001  # in this process: fine
    with pytest.raises(ModelError, match=r"the champion could not be scored: a worker process .* died") as err:
        predict_outputs(model, frame, schema, "champion", workers=2, min_rows=1_000)
    assert "engine.n_workers=1" in str(err.value)
