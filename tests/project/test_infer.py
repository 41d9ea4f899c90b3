"""The inference rules of ``driftloop init`` on tables with known answers (issue 14).

Each rule is checked with a contrast where it matters (the same values under another name, the
same column with one more distinct value), so that a rule that stopped applying fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import ConfigError
from driftloop.project.infer import AUTO_ID, choose_settings, column_kind, infer_table, infer_task
from driftloop.schema import Schema

N = 60
DAYS = pd.date_range("2026-01-01", periods=N, freq="D")
PROSE = [f"the parcel {i} arrived late and the box was damaged" for i in range(N)]


def _table(**columns: object) -> pd.DataFrame:
    """A 60-row table with a time column ``ts`` (ISO text, as a CSV gives it) and a label ``y``."""
    base: dict[str, object] = {"ts": DAYS.strftime("%Y-%m-%d"), "y": [0, 1] * (N // 2), "x": np.linspace(0, 1, N)}
    base.update(columns)
    return pd.DataFrame(base)


# (values, column name, expected kind, a fragment of the reason)
KIND_CASES = {
    "id-like strings": ([f"C{i:05d}" for i in range(N)], "customer", "ignore", "60 distinct values in 60 rows"),
    "repeating short strings": (["a", "b", "c"] * 20, "customer", "categorical", "3 distinct short values"),
    "zip-code integers": ([10001 + i % 7 for i in range(N)], "zip", "categorical", "named like a code"),
    "zip codes, spaced name": ([10001 + i % 7 for i in range(N)], "Zip Code", "categorical", "named like a code"),
    "the same integers unnamed": ([10001 + i % 7 for i in range(N)], "amount", "numeric", "numbers (7 distinct)"),
    "unique integers named like an id": (list(range(N)), "customer_id", "ignore", "named like an id (60 of 60)"),
    "unique integers, spaced id name": (list(range(N)), "Customer ID", "ignore", "named like an id"),
    "unique integers unnamed": (list(range(N)), "visits", "numeric", "numbers (60 distinct)"),
    "prose": (PROSE, "comment", "text", "prose"),
    "short words": (["late", "on time", "early"] * 20, "comment", "categorical", "3 distinct short values"),
    "floats": (np.linspace(0, 3, N).tolist(), "amount", "numeric", "numbers (60 distinct)"),
    "booleans": ([True, False] * 30, "flag", "categorical", "true/false"),
    "constant number": ([5] * N, "amount", "ignore", "a single value (5)"),
    "constant text with holes": (["x", None] * 30, "channel", "ignore", "a single value ('x')"),
    "all NaN": ([np.nan] * N, "amount", "ignore", "no values"),
    "all None": ([None] * N, "channel", "ignore", "no values"),
    "all pd.NA (string dtype)": (pd.array([pd.NA] * N, dtype="string"), "channel", "ignore", "no values"),
    "numbers with a stray word": (
        pd.Series([*np.arange(59.0).tolist(), "n/a"], dtype=object),
        "prix €",
        "numeric",
        "numbers except 1 value(s) such as 'n/a'",
    ),
    "numbers with many words": ([*np.arange(50.0).tolist(), *["n/a"] * 10], "prix €", "categorical", "51 distinct"),
    "zip codes as text, leading zeros": (["02139", "01776", "02115", "01002"] * 15, "zip", "categorical", "4 distinct"),
    "a second date column": (DAYS.strftime("%Y-%m-%d").tolist(), "signup", "ignore", "second time column"),
}


@pytest.mark.parametrize("values, name, kind, why", KIND_CASES.values(), ids=KIND_CASES.keys())
def test_column_kind(values, name, kind, why):
    got, reason = column_kind(pd.Series(values), name)
    assert (got, why in reason) == (kind, True), reason


TASK_CASES = {
    "float 0.0/1.0": ([0.0, 1.0] * 30, "classification", "2 distinct whole-number values"),
    "1, 1.0 and '1' are one value": ([1, 1.0, "1", 0] * 15, "classification", "2 distinct whole-number values"),
    "continuous": (np.linspace(0, 10, N).tolist(), "regression", "not all whole"),
    "many whole numbers": (list(range(N)), "regression", "60 distinct values"),
    "20 whole numbers": ([i % 20 for i in range(N)], "classification", "20 distinct whole-number values"),
    "21 whole numbers": ([i % 21 for i in range(N)], "regression", "21 distinct values"),
    "three strings": (["low", "mid", "high"] * 20, "classification", "text values"),
}


@pytest.mark.parametrize("values, task, why", TASK_CASES.values(), ids=TASK_CASES.keys())
def test_infer_task(values, task, why):
    got, reason = infer_task(pd.Series(values), None)
    assert (got, why in reason) == (task, True), reason


@pytest.mark.parametrize(
    "labels, classes",
    [
        ([0.0, 1.0] * 30, ("0", "1")),
        ([1, 1.0, "1", 0, "0.0", np.nan] * 10, ("0", "1")),
        (["low", "mid", "high", None] * 15, ("high", "low", "mid")),
    ],
    ids=["float labels", "mixed spellings with a hole", "three strings"],
)
def test_classes_are_one_spelling_per_value(labels, classes):
    guess = infer_table(_table(y=labels), "y")
    assert guess.task == "classification"
    assert guess.classes == classes
    assert Schema.from_config(guess.schema()).classes == classes  # the config round-trips


def test_a_whole_table():
    table = _table(
        order_id=[f"o{i}" for i in range(N)],
        zip=[10001 + i % 7 for i in range(N)],
        note=PROSE,
        const=[1] * N,
        empty=[None] * N,
        signup=DAYS.strftime("%Y-%m-%d"),
    )
    guess = infer_table(table, "y")
    assert (guess.target, guess.timestamp, guess.id, guess.task) == ("y", "ts", "order_id", "classification")
    kinds = {c.name: c.kind for c in guess.columns if c.role == "feature"}
    assert kinds == {
        "x": "numeric",
        "zip": "categorical",
        "note": "text",
        "const": "ignore",
        "empty": "ignore",
        "signup": "ignore",
    }
    schema = guess.schema()
    assert (schema["numeric"], schema["categorical"], schema["text"]) == (["x"], ["zip"], ["note"])
    why = {c.name: c.why for c in guess.columns}
    assert "named like an id and unique" in why["order_id"]
    assert "named like a time" in why["ts"]


def test_time_found_by_name_before_an_earlier_date_column():
    table = _table(day=DAYS.strftime("%Y-%m-%d"), created_at=(DAYS + pd.Timedelta(hours=3)).astype(str))
    table = table.drop(columns="ts")[["day", "y", "x", "created_at"]]
    guess = infer_table(table, "y")
    assert guess.timestamp == "created_at"
    assert {c.name: c.kind for c in guess.columns}["day"] == "ignore"  # the second date column


def test_time_found_by_values_when_no_name_says_so():
    table = _table().rename(columns={"ts": "day"})
    guess = infer_table(table, "y")
    assert guess.timestamp == "day"
    assert "the first column whose values are dates" in guess.columns[1].why


def test_time_by_name_needs_dates_too():
    # A column named like a time that holds no dates is not the timestamp (a number, here).
    table = _table(updated_at=np.arange(N)).rename(columns={"ts": "day"})
    assert infer_table(table, "y").timestamp == "day"


def test_no_date_column_asks_for_time():
    with pytest.raises(ConfigError, match=r"no timestamp column found.*Pass --time COLUMN"):
        infer_table(_table().drop(columns="ts"), "y")


def test_time_given_must_hold_dates():
    with pytest.raises(ConfigError, match=r"--time 'x': only 0% of its values are dates"):
        infer_table(_table(), "y", time="x")
    assert infer_table(_table(), "y", time="ts").columns[1].why == "given (--time)"


def test_a_mostly_missing_time_column_is_refused_naming_time():
    ts = DAYS.strftime("%Y-%m-%d").tolist()
    ts[:10] = ["not a date"] * 10  # 83 % dates
    with pytest.raises(ConfigError, match=r"--time 'ts': only 83% of its values"):
        infer_table(_table(ts=ts), "y", time="ts")


@pytest.mark.parametrize(
    "ids, what",
    [([1, 2, 3] * 20, "60 repeated value"), ([*range(N - 1), None], "1 missing value")],
    ids=["repeats", "a hole"],
)
def test_id_given_must_be_unique(ids, what):
    with pytest.raises(ConfigError, match=rf"--id 'rid' has {what}"):
        infer_table(_table(rid=ids), "y", id="rid")
    assert infer_table(_table(rid=range(N)), "y", id="rid").id == "rid"  # the same flag on a unique column


def test_an_id_named_column_that_repeats_is_not_the_id():
    guess = infer_table(_table(order_id=[1, 2, 3] * 20), "y")
    assert guess.id is None
    assert guess.schema()["id"] == AUTO_ID
    assert not [c for c in guess.columns if c.role == "id"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: infer_table(t, "label"), r"--target 'label': the table has no such column; its columns are \['ts'"),
        (
            lambda t: infer_table(t, "y", kinds={"citty": "categorical"}),
            r"--kind 'citty': the table has no such column",
        ),
        (lambda t: infer_table(t, "y", time="when"), r"--time 'when': the table has no such column"),
        (lambda t: infer_table(t, "y", id="key"), r"--id 'key': the table has no such column"),
        (lambda t: infer_table(t, "y", kinds={"x": "number"}), r"--kind x=number: the kind must be one of numeric"),
        (lambda t: infer_table(t, "y", task="ranking"), r"--task must be classification or regression"),
    ],
    ids=["target", "kind column", "time", "id", "kind name", "task"],
)
def test_unknown_names_are_refused_naming_the_flag_and_columns(call, message):
    with pytest.raises(ConfigError, match=message) as info:
        call(_table())
    if "no such column" in message:
        assert "['ts', 'y', 'x']" in str(info.value)


def test_kind_and_task_overrides():
    guess = infer_table(_table(zip=[10001 + i % 7 for i in range(N)]), "y", kinds={"zip": "numeric"}, task="regression")
    features = {c.name: (c.kind, c.why) for c in guess.columns if c.role == "feature"}
    assert features["zip"] == ("numeric", "given (--kind)")
    assert (guess.task, guess.classes) == ("regression", ())


def test_a_target_without_values_is_refused():
    with pytest.raises(ConfigError, match=r"--target 'y' has no values"):
        infer_table(_table(y=[np.nan] * N), "y")


def test_a_table_without_a_usable_feature_is_refused_naming_kind():
    with pytest.raises(ConfigError, match=r"no feature column left.*--kind COLUMN=KIND"):
        infer_table(_table(x=[7.0] * N), "y")


def _times(days: int, per_day: int) -> pd.Series:
    return pd.Series(pd.date_range("2026-01-01", periods=days * per_day, freq=pd.Timedelta(days=1) / per_day))


@pytest.mark.parametrize(
    "days, per_day, reference, current, window, holdout",
    [
        (60, 10, 29, 31, 60, 14),  # 300 rows would be 30 days: capped at a quarter of the span
        (100, 100, 49, 51, 100, 3),  # 300 rows at 100 a day: 3 days
        (10, 1000, 4, 6, 10, 1),  # at least a day
        (365, 1, 182, 182, 364, 91),
    ],
)
def test_choose_settings_windows(days, per_day, reference, current, window, holdout):
    choices = {c.key: c for c in choose_settings(infer_table(_table(), "y"), _times(days, per_day), "shop")}
    got = tuple(
        choices[k].value
        for k in (
            "data.windows.initial_reference_days",
            "data.windows.current_max_days",
            "train.window_days",
            "train.holdout_days",
        )
    )
    assert got == (reference, current, window, holdout)
    assert f"{per_day} rows a day" in choices["data.windows.initial_reference_days"].why
    assert choices["registry.model_name"].value == "shop"


@pytest.mark.parametrize(
    "columns, target, model",
    [
        ({}, "y", "hgb"),
        ({"note": PROSE}, "y", "logreg_tfidf"),
        ({"amount": np.linspace(0, 9, N)}, "amount", "hgb_regressor"),
    ],
    ids=["classification", "with text", "regression"],
)
def test_choose_settings_model(columns, target, model):
    guess = infer_table(_table(**columns), target)
    choices = {c.key: c.value for c in choose_settings(guess, _times(30, 10), "shop")}
    assert choices["model"] == model
    assert choices["compare/promote"] == guess.task


def test_zip_codes_as_text_are_no_timestamp():
    # The "mixed" date parser reads "02139" as the year 2139: digits alone are a date only as YYYYMMDD.
    table = _table(zip=["02139", "01776", "02115", "01002"] * 15).drop(columns="ts")
    with pytest.raises(ConfigError, match="no timestamp column found"):
        infer_table(table, "y")
    table["day"] = DAYS.strftime("%Y%m%d")
    assert infer_table(table, "y").timestamp == "day"
