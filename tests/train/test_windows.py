"""Training windows: time order, no holdout leakage, policies, config validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from driftloop.errors import ConfigError, DataError
from driftloop.train.windows import WindowConfig, select_training_window

CONF = Path(__file__).resolve().parents[2] / "conf" / "train"

POLICIES = {
    "sliding-days": {"policy": "sliding", "window_days": 10},
    "sliding-rows": {"policy": "sliding", "window_rows": 300},
    "expanding": {"policy": "expanding"},
    "weighted": {"policy": "weighted", "half_life_days": 7},
    "sliding-fraction": {"policy": "sliding", "window_days": 14, "holdout_fraction": 0.25},
}


@pytest.mark.parametrize("params", POLICIES.values(), ids=POLICIES.keys())
def test_no_holdout_row_reaches_training(frames, schema, params):
    ref, cur = frames
    # A holdout row re-sent with an older timestamp must not leak through by time alone.
    cur = cur.copy()
    resent = cur.iloc[[-1]].assign(timestamp=cur["timestamp"].iloc[0])
    cur = pd.concat([cur, resent], ignore_index=True)
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict(params))
    hold_ids = set(w.holdout["id"])
    assert hold_ids, "holdout must not be empty"
    for part in (w.train, w.validation):
        assert not hold_ids & set(part["id"]), "a holdout id reached training"
        assert part["timestamp"].max() < w.holdout["timestamp"].min(), "a training row is not older than the holdout"
    assert w.train["timestamp"].max() <= w.validation["timestamp"].min()
    assert not set(w.train["id"]) & set(w.validation["id"])


def test_holdout_is_the_last_days_of_current(frames, schema):
    ref, cur = frames
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict({"holdout_days": 7}))
    cutoff = cur["timestamp"].max() - pd.Timedelta(days=7)
    assert set(w.holdout["id"]) == set(cur.loc[cur["timestamp"] > cutoff, "id"])


def test_sliding_days_and_rows(frames, schema):
    ref, cur = frames
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict({"window_days": 10}))
    start = w.holdout["timestamp"].min()
    assert w.train["timestamp"].min() >= start - pd.Timedelta(days=10)
    w = select_training_window(
        ref, cur, schema, WindowConfig.from_dict({"window_rows": 300, "validation_fraction": 0.2})
    )
    assert len(w.train) + len(w.validation) == 300
    assert len(w.validation) == 60


def test_expanding_uses_reference_and_current(frames, schema):
    ref, cur = frames
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": "expanding"}))
    n_pool = len(ref) + len(cur) - len(w.holdout)
    assert len(w.train) + len(w.validation) == n_pool
    assert w.description["n_from_reference"] == len(ref)


def test_weighted_halves_every_half_life(frames, schema):
    ref, cur = frames
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": "weighted", "half_life_days": 5}))
    assert w.train_weight is not None and len(w.train_weight) == len(w.train)
    assert w.train_weight.mean() == pytest.approx(1.0)
    age = (w.holdout["timestamp"].min() - w.train["timestamp"]) / pd.Timedelta(days=1)
    ratio = w.train_weight / np.power(0.5, age.to_numpy() / 5)
    assert np.allclose(ratio, ratio[0])  # exactly exponential in age, up to normalisation
    assert w.train_weight[-1] > w.train_weight[0]  # newer rows weigh more


def test_unlabelled_rows_are_dropped(frames, schema):
    ref, cur = frames
    cur = cur.copy()
    cur.loc[cur.index[-5:], "label"] = None
    cur.loc[cur.index[:5], "label"] = ""
    w = select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": "expanding"}))
    for part in (w.train, w.validation, w.holdout):
        assert part["label"].notna().all() and (part["label"] != "").all()
    assert w.description["n_unlabelled_dropped"] == 10


def test_same_input_same_split(frames, schema):
    ref, cur = frames
    a = select_training_window(ref, cur, schema, WindowConfig())
    b = select_training_window(
        ref.sample(frac=1, random_state=3), cur.sample(frac=1, random_state=4), schema, WindowConfig()
    )
    pd.testing.assert_frame_equal(a.train, b.train)
    pd.testing.assert_frame_equal(a.holdout, b.holdout)


def test_too_few_rows_is_a_data_error(frames, schema):
    ref, cur = frames
    with pytest.raises(DataError, match="min_holdout_rows"):
        select_training_window(ref, cur, schema, WindowConfig.from_dict({"holdout_days": 0.01}))
    with pytest.raises(DataError, match="min_train_rows"):
        select_training_window(ref.iloc[:0], cur, schema, WindowConfig.from_dict({"window_rows": 10}))


@pytest.mark.parametrize(
    "mapping, match",
    [
        ({"windw_days": 3}, "windw_days"),
        ({"policy": "rolling"}, "train.policy"),
        ({"window_days": "x"}, "train.window_days"),
        ({"holdout_days": 7, "holdout_fraction": 0.2}, "exactly one of holdout_days"),
        ({"policy": "weighted"}, "half_life_days"),
        ({"policy": "expanding", "window_days": 3}, "expanding"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
    ],
    ids=["unknown", "policy", "type", "holdout-both", "no-half-life", "expanding-window", "val-range"],
)
def test_config_errors_name_the_key(mapping, match):
    with pytest.raises(ConfigError, match=match):
        WindowConfig.from_dict(mapping)


@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_train_config_loads(path, frames, schema):
    cfg = WindowConfig.from_dict(yaml.safe_load(path.read_text()))
    ref, cur = frames
    w = select_training_window(ref, cur, schema, cfg)
    assert len(w.train) > 0 and len(w.holdout) > 0


def test_sliding_default_is_the_demo_window():
    cfg = WindowConfig.from_dict(yaml.safe_load((CONF / "sliding.yaml").read_text()))
    assert (cfg.policy, cfg.window_days, cfg.holdout_days, cfg.validation_fraction) == ("sliding", 21, 7, 0.2)
