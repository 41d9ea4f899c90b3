"""Window selection for the snapshot stage (pure)."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.demo.feedback import Scenario, generate_week
from driftloop.errors import ConfigError, DataError
from driftloop.schema import Schema
from driftloop.windows import row_accounting, select_windows
from driftloop.windows import windows_config as _windows_config

SCHEMA = Schema(id="id", timestamp="timestamp", label="label", numeric=("stars",), text=("comment",))


def _data(weeks):
    return pd.concat(
        [generate_week(w, rows=100, seed=1, start="2026-01-05", scenario=Scenario()) for w in weeks], ignore_index=True
    )


def test_first_cycle_reference_is_the_initial_days_and_current_follows():
    w = select_windows(_data(range(1, 7)), SCHEMA, initial_reference_days=21, current_max_days=28)
    assert set(w.reference["id"].str[:3]) == {"w01", "w02", "w03"}
    assert set(w.current["id"].str[:3]) == {"w04", "w05", "w06"}
    assert w.reference["timestamp"].max() < w.current["timestamp"].min()
    assert "initial window" in w.reference_source


def test_champion_reference_and_current_capped_to_newest_days():
    data = _data(range(1, 11))
    ref = data[data["id"].str[:3].isin(["w03", "w04", "w05"])]
    w = select_windows(
        data, SCHEMA, initial_reference_days=21, current_max_days=28, champion_reference=ref, champion_label="m v1"
    )
    assert w.reference.equals(ref.reset_index(drop=True))
    assert set(w.current["id"].str[:3]) == {"w07", "w08", "w09", "w10"}
    assert w.reference_source == "training data of m v1"


def test_no_new_data_is_a_clear_error():
    data = _data(range(1, 3))
    with pytest.raises(DataError, match="no data newer than the reference"):
        select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=28)


# Hand-built frames with known answers: two rows a day at 06:00 and 18:00, from 2026-01-01.
DAY0 = pd.Timestamp("2026-01-01")


def _days(first, last, *, label="positive"):
    rows = [
        {
            "id": f"d{d:03d}-{h:02d}",
            "timestamp": DAY0 + pd.Timedelta(days=d, hours=h),
            "label": label,
            "stars": 3.0,
            "comment": "fine",
        }
        for d in range(first, last + 1)
        for h in (6, 18)
    ]
    frame = pd.DataFrame(rows)
    frame["label"] = frame["label"].astype("string")
    return frame


def _tally(w):
    return {
        "reference": w.n_in_reference,
        "current": len(w.current),
        "skipped": len(w.skipped),
        "late": len(w.late),
        "older": w.n_older,
    }


def test_gap_between_reference_and_current_is_counted_exactly():
    # 60 days: reference days 0-20; newer days 21-59; the newest 28 whole days are days 32-59.
    data = _days(0, 59)
    w = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=28)
    assert _tally(w) == {"reference": 42, "current": 56, "skipped": 22, "late": 0, "older": 0}
    assert w.current_start == DAY0 + pd.Timedelta(days=32)
    assert w.skipped["timestamp"].min() == DAY0 + pd.Timedelta(days=21, hours=6)
    assert w.skipped["timestamp"].max() == DAY0 + pd.Timedelta(days=31, hours=18)
    record = row_accounting(w, SCHEMA, 28)
    assert record["skipped"]["rows"] == 22
    assert record["skipped"]["start"] == "2026-01-22T06:00:00"
    assert record["skipped"]["end"] == "2026-02-01T18:00:00"
    assert "current_max_days (28)" in record["skipped"]["reason"]
    assert "2026-02-02T00:00:00" in record["skipped"]["reason"]
    assert sum(record["rows"].values()) == len(data)


@pytest.mark.parametrize(
    "last_day, current_max_days",
    [(40, 28), (48, 28), (59, None)],
    ids=["shorter-than-cap", "exactly-the-cap", "no-cap"],
)
def test_no_gap_means_zero_skipped(last_day, current_max_days):
    data = _days(0, last_day)
    w = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=current_max_days)
    assert len(w.skipped) == 0
    assert len(w.current) == 2 * (last_day - 20)
    record = row_accounting(w, SCHEMA, current_max_days)
    assert record["skipped"] == {"rows": 0, "start": None, "end": None, "reason": None}
    assert record["rows"] == {"reference": 42, "current": len(w.current), "skipped": 0, "late": 0, "older": 0}


def test_row_at_the_current_start_is_current_and_one_before_is_skipped():
    data = _days(0, 40)  # newer: days 21-40; the newest 10 whole days start at midnight of day 31
    w = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=10)
    start = DAY0 + pd.Timedelta(days=31)
    assert w.current_start == start
    edge = _days(0, 0).assign(id=["at-start", "just-before"], timestamp=[start, start - pd.Timedelta(1, "ns")])
    w = select_windows(
        pd.concat([data, edge], ignore_index=True), SCHEMA, initial_reference_days=21, current_max_days=10
    )
    assert "at-start" in set(w.current["id"]) and "just-before" in set(w.skipped["id"])
    assert len(w.skipped) == 2 * 10 + 1  # days 21-30 and the row a nanosecond before day 31


def test_champion_cycle_counts_late_arrivals_and_older_rows():
    # The champion trained on days 10-20, but four rows dated there never reached it: three
    # labelled late arrivals and one unlabelled row. Days 0-9 are older history.
    data = _days(0, 59)
    unlabelled = data["id"] == "d015-06"
    data.loc[unlabelled, "label"] = pd.NA
    missing = {"d012-06", "d013-18", "d014-06", "d015-06"}
    in_period = data["timestamp"].between(DAY0 + pd.Timedelta(days=10), DAY0 + pd.Timedelta(days=21))
    champion = data[in_period & ~data["id"].isin(missing)]
    w = select_windows(
        data, SCHEMA, initial_reference_days=21, current_max_days=28, champion_reference=champion, champion_label="m v1"
    )
    assert _tally(w) == {"reference": 18, "current": 56, "skipped": 22, "late": 4, "older": 20}
    assert set(w.late["id"]) == missing
    record = row_accounting(w, SCHEMA, 28)
    assert record["late"]["rows"] == 4 and record["late"]["unlabelled"] == 1
    assert record["late"]["start"] == "2026-01-13T06:00:00" and record["late"]["end"] == "2026-01-16T06:00:00"
    assert "late arrivals" in record["late"]["reason"]
    assert sum(record["rows"].values()) == len(data)


def test_champion_cycle_without_late_rows_records_none():
    data = _days(0, 40)
    champion = data[data["timestamp"] < DAY0 + pd.Timedelta(days=21)]
    w = select_windows(
        data, SCHEMA, initial_reference_days=21, current_max_days=28, champion_reference=champion, champion_label="m v1"
    )
    assert row_accounting(w, SCHEMA, 28)["late"] == {
        "rows": 0,
        "start": None,
        "end": None,
        "unlabelled": None,
        "reason": None,
    }


def test_current_window_that_keeps_no_row_is_a_clear_error():
    # Rows at 06:00 and 18:00; a quarter-day cap starts the current window at 18:00 of the last day.
    data = _days(0, 30)
    w = select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=0.25)
    assert list(w.current["id"]) == ["d030-18"]
    with pytest.raises(DataError, match=r"current window is empty: data.windows.current_max_days \(0.2\)"):
        select_windows(data, SCHEMA, initial_reference_days=21, current_max_days=0.2)


@pytest.mark.parametrize(
    "cfg, expected",
    [
        ({}, (21.0, 28.0)),
        ({"initial_reference_days": 14, "current_max_days": "7"}, (14.0, 7.0)),
        ({"current_max_days": None}, (21.0, None)),
    ],
    ids=["defaults", "numbers", "no-cap"],
)
def test_windows_config(cfg, expected):
    assert _windows_config(cfg) == expected


@pytest.mark.parametrize(
    "cfg, match",
    [
        ({"current_max_days": 0}, r"data.windows.current_max_days must be a number of days > 0 \(or null"),
        ({"current_max_days": -3}, r"current_max_days must be .* Got -3 instead"),
        ({"initial_reference_days": None}, r"initial_reference_days must be a number of days > 0. Got None"),
        ({"initial_reference_days": "three"}, r"Got 'three' instead"),
        ({"current_max_days": True}, r"Got True instead"),
    ],
    ids=["zero", "negative", "null-initial", "text", "bool"],
)
def test_windows_config_rejects_bad_values(cfg, match):
    with pytest.raises(ConfigError, match=match):
        _windows_config(cfg)


def test_skipped_and_late_rows_reach_drift_json_and_html():
    from driftloop.drift.html import render_html
    from driftloop.drift.report import DriftReport

    w = select_windows(_days(0, 59), SCHEMA, initial_reference_days=21, current_max_days=28)
    record = row_accounting(w, SCHEMA, 28)
    report = DriftReport(
        False, 0.0, len(w.reference), len(w.current), {}, skipped=record["skipped"], late=record["late"]
    )
    assert report.to_dict()["skipped"]["rows"] == 22
    html = render_html(report)
    assert "Skipped: 22 row(s)</b> dated 2026-01-22T06:00:00 to 2026-02-01T18:00:00" in html
    assert "Late arrivals" not in html
    quiet = render_html(DriftReport(False, 0.0, 1, 1, {}, skipped={"rows": 0}, late={"rows": 0}))
    assert "Every incoming row newer than the reference is in the current window" in quiet
    older = render_html(DriftReport(False, 0.0, 1, 1, {}))  # a manifest written before the record existed
    assert "Skipped" not in older and "Every incoming row" not in older
