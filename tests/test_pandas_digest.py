"""driftloop.tracking.pandas_digest equals MLflow's own digest of a pandas frame
(mlflow.data.digest_utils.compute_pandas_digest) on frames of every dtype and missing kind, so the
digest a dataset input shows in MLflow is the one MLflow itself would have computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.data.digest_utils import compute_pandas_digest

from driftloop.tracking import pandas_dataset, pandas_digest


def frames() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(5)
    n = 12_000  # past MLflow's 10,000 hashed rows: the row count and the full-frame type test still count
    text = pd.Series([f"w{i}\nline {i % 7}" for i in range(n)], dtype="string")
    with_na = text.copy()
    with_na.iloc[11_500] = pd.NA  # below the hashed rows: only a whole-column test sees it
    obj = pd.Series([f"t{i}" for i in range(n)], dtype=object)
    obj_none = obj.copy()
    obj_none.iloc[11_000] = None
    obj_mixed = obj.copy()
    obj_mixed.iloc[10_500] = 3
    base = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 9, n),
            "b": rng.random(n) < 0.5,
            "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )
    cases = {
        "numeric": base,
        "string": base.assign(t=text),
        "string_na_far_down": base.assign(t=with_na),
        "object_str": base.assign(o=obj),
        "object_none": base.assign(o=obj_none),
        "object_mixed": base.assign(o=obj_mixed),
        "nullable_int_and_float": base.assign(
            i=pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 5, n)), dtype="Int64"),
            f=pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n)), dtype="Float64"),
        ),
        "categorical": base.assign(c=pd.Categorical(rng.choice(["a", "b", "c"], n))),
        "categorical_nan": base.assign(c=pd.Categorical(np.where(rng.random(n) < 0.1, None, "a"))),
        "tz_aware": base.assign(ts=base["ts"].dt.tz_localize("UTC")),
        "timedelta": base.assign(d=pd.to_timedelta(rng.integers(0, 100, n), unit="h")),
        "small": base.head(50).assign(t=text.head(50)),
        "empty": base.head(0).assign(o=obj.head(0)),  # (MLflow itself fails on an empty string-dtype column)
    }
    return cases


@pytest.mark.parametrize("name", list(frames()))
def test_the_digest_equals_mlflows(name):
    frame = frames()[name]
    assert pandas_digest(frame) == compute_pandas_digest(frame)


def test_the_dataset_carries_it():
    frame = frames()["string_na_far_down"]
    assert pandas_dataset(frame, source=None, name="w", targets=None).digest == compute_pandas_digest(frame)


def test_a_change_below_the_hashed_rows_keeps_mlflows_digest_a_change_of_type_does_not():
    """What MLflow's digest is: the first 10,000 rows, the length, the names and which columns are
    all text. The test would fail if pandas_digest hashed more or less than that."""
    frame = frames()["string"]
    later = frame.copy()
    later.loc[11_000, "x"] += 1.0
    assert pandas_digest(later) == pandas_digest(frame)
    early = frame.copy()
    early.loc[3, "x"] += 1.0
    assert pandas_digest(early) != pandas_digest(frame)
    missing = frame.copy()
    missing.loc[11_999, "t"] = pd.NA  # the text column stops being all text: MLflow drops it from the hash
    assert pandas_digest(missing) != pandas_digest(frame)
