"""The retrain stage's faster paths at scale (issue 17, item 6) give the results the slow ones gave:
the training sample's strata spelled once per distinct pair (the same rows drawn), the window's
Arrow sort and id filter (the same split), and the skops audit written without indentation (the
same trusted types, the same model loaded back)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from driftloop.engine import training as engine_training
from driftloop.engine import training_sample
from driftloop.ids import member_of
from driftloop.schema import Schema
from driftloop.train.windows import WindowConfig, _time_order, select_training_window

from ..synthetic import make_frame, make_schema, small_window


def _strata_row_by_row(chunk, label, timestamp, period):
    """The strata as they were spelled before: every row's label and period start as text."""
    when = pd.to_datetime(chunk[timestamp], utc=True, errors="coerce").dt.floor(period)
    return chunk[label].astype(str).where(chunk[label].notna(), "<missing>") + "|" + when.astype(str)


def _keys(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Labels (with missing ones), a regression decile, event times over 40 days (with missing and
    unparsable ones), in no particular order."""
    rng = np.random.default_rng(seed)
    times = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.uniform(0, 40, n), unit="D")
    when = pd.Series(times.astype(str), dtype=object)
    when[rng.random(n) < 0.02] = None
    when[rng.random(n) < 0.01] = "not a time"
    label = pd.Series(rng.choice(["negative", "neutral", "positive"], n), dtype=object)
    label[rng.random(n) < 0.03] = None
    return pd.DataFrame(
        {
            "label": label,
            "decile": rng.integers(0, 10, n),
            "timestamp": when,
            "aware": pd.to_datetime(times).tz_localize("Europe/Paris"),
            "row": np.arange(n),
        }
    )


@pytest.mark.parametrize("period", ["D", "7D", "h"])
@pytest.mark.parametrize(("label", "timestamp"), [("label", "timestamp"), ("decile", "timestamp"), ("label", "aware")])
def test_strata_are_spelled_as_row_by_row(period, label, timestamp):
    keys = _keys()
    pd.testing.assert_series_equal(
        engine_training._strata(keys, label, timestamp, period), _strata_row_by_row(keys, label, timestamp, period)
    )


def test_strata_keep_labels_apart_that_a_hash_table_would_merge():
    # 1, 1.0 and True are one key to pd.factorize but three names row by row.
    chunk = pd.DataFrame({"y": pd.Series([1, 1.0, True, None, "1"], dtype=object), "t": ["2026-01-01"] * 5})
    got = engine_training._strata(chunk, "y", "t", "D")
    assert got.str.split("|").str[0].tolist() == ["1", "1.0", "True", "<missing>", "1"]
    pd.testing.assert_series_equal(got, _strata_row_by_row(chunk, "y", "t", "D"))


@pytest.mark.parametrize(("label", "period"), [("label", "D"), ("decile", "h"), ("label", "7D")])
def test_the_sample_draws_the_rows_the_row_by_row_strata_drew(tmp_path, monkeypatch, label, period):
    path = tmp_path / "keys.parquet"
    _keys(6000, seed=4).drop(columns="aware").to_parquet(path, index=False)
    kwargs = {"label": label, "timestamp": "timestamp", "columns": ["row"], "period": period, "seed": 7}
    fast = training_sample(path, 900, chunk_size=1000, **kwargs)
    # The previous spelling, swapped in to draw the same sample the old way (not a fault: a reference).
    monkeypatch.setattr(engine_training, "_strata", _strata_row_by_row)
    slow = training_sample(path, 900, chunk_size=1000, **kwargs)
    assert len(fast) == 900
    pd.testing.assert_frame_equal(fast, slow)


def test_time_order_is_pandas_stable_sort_by_time_then_id():
    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame(
        {
            # Few distinct times: many ties, broken by id; non-ASCII ids and repeated ids.
            "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="h"),
            "id": pd.array(rng.choice(["b", "a", "é", "Z", "a10", "a9", "ß", "ab"], n), dtype="string[pyarrow]"),
        }
    )
    frame.loc[rng.random(n) < 0.05, "id"] = pd.NA
    expected = frame.reset_index(drop=True).sort_values(["ts", "id"], kind="mergesort").index.to_numpy()
    got = _time_order(frame, Schema("id", "ts", None, numeric=("x",)))
    assert np.array_equal(got, expected)
    plain = frame.astype({"id": object})  # the pandas path
    assert np.array_equal(_time_order(plain, Schema("id", "ts", None, numeric=("x",))), expected)


@pytest.mark.parametrize("dtype", ["string[pyarrow]", "str", "string[python]", object])
def test_isin_is_pandas_isin_of_a_set_missing_ids_included(dtype):
    values = pd.Series(["a", "b", None, "c", "é", "a"], dtype=dtype)
    for others in (["a", "é"], ["c", None], []):
        other = pd.Series(others, dtype=dtype)
        assert np.array_equal(member_of(values, other), values.isin(set(other)).to_numpy())


@pytest.mark.parametrize(
    "keys",
    [
        {"policy": "sliding", "window_days": 10},
        {"policy": "sliding", "window_rows": 700, "holdout_fraction": 0.2, "holdout_days": None},
        {"policy": "expanding"},
        {"policy": "weighted", "half_life_days": 5, "window_days": 15},
    ],
)
def test_text_ids_split_as_object_ids_do(keys):
    schema = make_schema()
    ref = make_frame(1500, "2026-01-01", 21, seed=1)
    cur = make_frame(1500, "2026-01-20", 14, seed=2)
    # Shared ids (a relabelled row wins in current, a holdout id leaks from reference), and ties in time.
    cur.loc[:99, "id"] = ref["id"].iloc[-100:].to_numpy()
    ref.loc[:49, "id"] = cur["id"].iloc[-50:].to_numpy()
    cur["timestamp"] = cur["timestamp"].dt.floor("h")
    cfg = WindowConfig.from_dict(keys)
    text = select_training_window(
        ref.astype({"id": "string[pyarrow]"}), cur.astype({"id": "string[pyarrow]"}), schema, cfg
    )
    plain = select_training_window(ref.astype({"id": object}), cur.astype({"id": object}), schema, cfg)
    for part in ("train", "validation", "holdout"):
        got, expected = getattr(text, part), getattr(plain, part)
        pd.testing.assert_frame_equal(got.astype({"id": object}), expected)
    assert text.description == plain.description
    assert (text.train_weight is None) == (plain.train_weight is None)
    if text.train_weight is not None:
        assert np.array_equal(text.train_weight, plain.train_weight)


def test_skops_audit_finds_what_skops_finds_and_the_model_loads_back(mlflow_uri, tmp_path):
    import mlflow
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    from driftloop.compare.predict import load_model, predict_outputs
    from driftloop.train.mlflow_model import log_sklearn_model, skops_untrusted_types
    from driftloop.train.model import build_model, features_frame, fit_model

    schema = make_schema()
    window = small_window(schema)
    cfg = {
        "estimator": {"_target_": "sklearn.linear_model.LogisticRegression"},
        "preprocessing": {"text": {"max_features": 50, "ngram_range": [1, 2]}},
    }
    model = fit_model(build_model(cfg, schema), window, schema).model
    assert skops_untrusted_types(model) == skops.io.get_untrusted_types(data=skops.io.dumps(model))
    assert "numpy.ravel" in skops_untrusted_types(model)  # the text columns' FunctionTransformer
    odd = FunctionTransformer(math.sqrt).fit(np.ones((3, 1)))
    assert skops_untrusted_types(odd) == skops.io.get_untrusted_types(data=skops.io.dumps(odd)) == ["math.sqrt"]

    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp):
        uri = log_sklearn_model(model, "challenger", window.train[list(schema.features)].head(5))
    loaded = load_model(uri)
    pred = predict_outputs(loaded, window.holdout, schema)
    X = features_frame(window.holdout, schema, "holdout")
    assert np.array_equal(pred.pred, model.predict(X))
    assert np.array_equal(pred.proba, model.predict_proba(X))
