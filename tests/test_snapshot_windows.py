"""Window selection for the snapshot stage (pure)."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.demo.feedback import Scenario, generate_week
from driftloop.errors import DataError
from driftloop.schema import Schema
from driftloop.stages.snapshot import select_windows

SCHEMA = Schema(id="id", timestamp="timestamp", label="label", numeric=("stars",), text=("comment",))


def _data(weeks):
    return pd.concat([generate_week(w, rows=100, seed=1, start="2026-01-05", scenario=Scenario()) for w in weeks],
                     ignore_index=True)


def test_first_cycle_reference_is_the_initial_days_and_current_follows():
    w = select_windows(_data(range(1, 7)), SCHEMA, initial_reference_days=21, current_max_days=28)
    assert set(w.reference["id"].str[:3]) == {"w01", "w02", "w03"}
    assert set(w.current["id"].str[:3]) == {"w04", "w05", "w06"}
    assert w.reference["timestamp"].max() < w.current["timestamp"].min()
    assert "initial window" in w.reference_source


def test_champion_reference_and_current_capped_to_newest_days():
    data = _data(range(1, 11))
    ref = data[data["id"].str[:3].isin(["w03", "w04", "w05"])]
    w = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=28,
                       champion_reference=ref, champion_label="m v1")
    assert w.reference.equals(ref.reset_index(drop=True))
    assert set(w.current["id"].str[:3]) == {"w07", "w08", "w09", "w10"}
    assert w.reference_source == "training data of m v1"


def test_no_new_data_is_a_clear_error():
    data = _data(range(1, 3))
    with pytest.raises(DataError, match="no data newer than the reference"):
        select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=28)
