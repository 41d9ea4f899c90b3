"""A property test over generated tables (issue 14, item 6): whatever a user's table holds, each
stage accepts it or refuses it with a named error, and nothing crashes later.

The tables have column names with spaces and unicode, every pandas missing-value kind (NaN,
None, pd.NA, NaT) in every column kind and in plain, object, nullable and category dtypes, constant and
all-missing columns, single-level and many-level categoricals, prose, booleans, a second date
column, and labels mixing ``1``, ``1.0`` and ``"1"``. For each one:

1. :func:`~driftloop.project.infer.infer_table` returns, or raises ConfigError naming a column or
   a flag;
2. the table passes :func:`driftloop.batches.coerce` and ``check_classes`` with the inferred
   schema, or a DataError names a column (a hole in the timestamp column must be refused so);
3. every model config of ``conf/model`` for the task fits on the coerced labelled rows and
   predicts on rows with ``pd.NA``, ``None`` and ``NaN`` holes; the only error allowed is a
   DataError naming a column (a single-class window).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from driftloop.batches import check_classes, coerce, level_names
from driftloop.errors import ConfigError, DataError
from driftloop.project.infer import AUTO_ID, infer_table
from driftloop.project.ingest import content_ids
from driftloop.schema import Schema, labelled_mask
from driftloop.train.model import build_model, features_frame, fit_model

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
MODELS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(CONF.glob("*.yaml"))}

MISSING: dict[str, Any] = {"NaN": np.nan, "None": None, "pd.NA": pd.NA, "NaT": pd.NaT}
FEATURE_NAMES = ["prix €", "naïve col", "a b", "Zip Code", "ville", "note libre", "x", "compte 2", "日付 col"]
TIME_NAMES = ["ts", "event time", "créé_at", "quand"]  # the last one is found by its values alone
LABEL_NAMES = ["y", "target label", "étiquette"]
WORDS = ["the", "parcel", "box", "arrived", "late", "early", "damaged", "fine", "refund", "driver", "door", "rain"]
# Drawn uniformly from these lists: the kinds a model can use are listed twice, so that most
# tables reach the fit (a table of ignored columns stops at inference, which is checked too).
USEFUL = ["float", "int", "code", "few levels", "many levels", "prose", "bool"]
FEATURE_KINDS = [*USEFUL, *USEFUL, "one level", "constant", "all missing", "date", "numbers and a word"]
LABEL_KINDS = ["int 0/1", "float 0/1", "text 0/1", "1, 1.0 and '1'", "three words", "continuous", "continuous"]
LABEL_KINDS += ["one class"]
#: A hole in the timestamp column in about one table in five (each must be refused).
TIME_HOLES: list[str | None] = [None] * 12 + list(MISSING)


@dataclass(repr=False)
class Generated:
    """A table and what it was made of (the recipe is what hypothesis shows when a case fails)."""

    table: pd.DataFrame
    target: str
    time: str
    time_hole: str | None
    recipe: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Generated({'; '.join(self.recipe)})\n{self.table.head(8)}"


def _holes(values: list[Any], kind: str, share: float, rng: np.random.Generator) -> list[Any]:
    """``values`` with ``share`` of them replaced by ``kind`` ("mixed": every missing kind in turn)."""
    out = list(values)
    rows = rng.choice(len(out), size=int(len(out) * share), replace=False) if share else []
    kinds = list(MISSING.values())
    for i, row in enumerate(rows):
        out[row] = kinds[i % len(kinds)] if kind == "mixed" else MISSING[kind]
    return out


def _as_dtype(values: list[Any], dtype: str, kind: str) -> Any:
    """The column as pandas would hold it from a CSV or parquet (plain), as objects, or nullable."""
    if dtype == "object":
        return pd.Series(values, dtype=object)
    if dtype == "category":  # parquet files written from pandas keep it
        return pd.Series(values).astype("category")
    if dtype == "nullable":
        nullable = {"float": "Float64", "int": "Int64", "code": "Int64", "bool": "boolean"}.get(kind, "string")
        plain = [
            None if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v
            for v in values
        ]
        if nullable == "string":
            plain = [None if v is None else str(v) for v in plain]
        try:
            return pd.array(plain, dtype=nullable)
        except (TypeError, ValueError):
            return pd.Series(values, dtype=object)
    return values  # pandas infers the dtype (NaT among numbers: object)


def _feature(kind: str, n: int, rng: np.random.Generator) -> list[Any]:
    if kind == "float":
        return rng.normal(10, 3, n).round(2).tolist()
    if kind == "int":
        return rng.integers(0, 1000, n).tolist()
    if kind == "code":
        return (10000 + rng.integers(0, 25, n)).tolist()
    if kind == "few levels":
        return rng.choice(["nord", "sud", "est", "ouest"], n).tolist()
    if kind == "many levels":  # more levels than max_levels (100) and min_frequency (5) keep
        return [f"m{v}" for v in rng.integers(0, 150, n)]
    if kind == "one level":
        return ["seul"] * n
    if kind == "prose":
        return [" ".join(rng.choice(WORDS, rng.integers(4, 10))) for _ in range(n)]
    if kind == "bool":
        return rng.choice([True, False], n).tolist()
    if kind == "numbers and a word":  # a JSON-lines column: numbers and one bit of text
        return [*rng.normal(0, 1, n - 1).round(3).tolist(), "n/a"]
    if kind == "constant":
        return [3.5] * n
    if kind == "date":
        return (
            (pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D"))
            .strftime("%Y-%m-%d")
            .tolist()
        )
    raise AssertionError(kind)


def _label(kind: str, n: int, rng: np.random.Generator) -> list[Any]:
    bits = rng.integers(0, 2, n)
    if kind == "int 0/1":
        return bits.tolist()
    if kind == "float 0/1":
        return bits.astype(float).tolist()
    if kind == "text 0/1":
        return [str(b) for b in bits]
    if kind == "1, 1.0 and '1'":
        spellings = [[0, 0.0, "0", "0.0"], [1, 1.0, "1", " 1.0"]]
        return [spellings[b][i % 4] for i, b in enumerate(bits)]
    if kind == "three words":
        return rng.choice(["bas", "moyen", "haut"], n).tolist()
    if kind == "continuous":
        return rng.normal(50, 10, n).tolist()
    if kind == "one class":
        return ["oui"] * n
    raise AssertionError(kind)


@st.composite
def tables(draw: st.DrawFn) -> Generated:
    n = draw(st.sampled_from([60, 120, 200]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    recipe: list[str] = [f"{n} rows"]
    columns: dict[str, Any] = {}

    time = draw(st.sampled_from(TIME_NAMES))
    start = pd.Timestamp("2026-01-01")
    stamps = start + pd.to_timedelta(np.sort(rng.uniform(0, 40, n)), unit="D")
    form = draw(st.sampled_from(["iso text", "datetime", "utc datetime"]))
    ts: list[Any] = (
        stamps.strftime("%Y-%m-%dT%H:%M:%S").tolist()
        if form == "iso text"
        else (stamps.tz_localize("UTC") if form == "utc datetime" else stamps).tolist()
    )
    time_hole = draw(st.sampled_from(TIME_HOLES))
    if time_hole is not None:
        ts[int(rng.integers(0, n))] = MISSING[time_hole]
    columns[time] = ts if form == "iso text" else pd.Series(ts, dtype=object if time_hole else None)
    recipe.append(f"time {time!r} as {form}, hole {time_hole}")

    names = draw(st.lists(st.sampled_from(FEATURE_NAMES), min_size=1, max_size=4, unique=True))
    for name in names:
        kind = draw(st.sampled_from(FEATURE_KINDS))
        hole = draw(st.sampled_from([*MISSING, "mixed"]))
        dtype = draw(st.sampled_from(["plain", "object", "nullable", "category"]))
        if kind == "all missing":
            values = [MISSING[hole] if hole != "mixed" else list(MISSING.values())[i % 4] for i in range(n)]
        else:
            values = _holes(_feature(kind, n, rng), hole, draw(st.sampled_from([0.0, 0.05, 0.4])), rng)
        columns[name] = _as_dtype(values, dtype, kind)
        recipe.append(f"{name!r}: {kind}, holes {hole}, {dtype}")

    id_name = draw(st.sampled_from([None, "order id", "Customer ID"]))
    if id_name is not None:
        id_form = draw(st.sampled_from(["unique numbers", "unique text", "a repeat", "a hole"]))
        ids: list[Any] = list(rng.permutation(n) + 1000) if id_form != "unique text" else [f"c-{i}" for i in range(n)]
        if id_form == "a repeat":
            ids[-1] = ids[0]
        elif id_form == "a hole":
            ids[-1] = MISSING[draw(st.sampled_from(list(MISSING)))]
        columns[id_name] = ids
        recipe.append(f"id {id_name!r}: {id_form}")

    target = draw(st.sampled_from(LABEL_NAMES))
    kind = draw(st.sampled_from(LABEL_KINDS))
    hole = draw(st.sampled_from([*MISSING, "mixed"]))
    labels = _holes(_label(kind, n, rng), hole, draw(st.sampled_from([0.0, 0.1])), rng)
    columns[target] = labels
    recipe.append(f"label {target!r}: {kind}, holes {hole}")
    return Generated(pd.DataFrame(columns), target, time, time_hole, recipe)


def _names_a_column_or_flag(message: str, columns: Any) -> bool:
    return "--" in message or any(repr(str(c)) in message for c in [*columns, AUTO_ID])


def _attempt(call: Callable[[], Any], refusal: type[Exception]) -> tuple[Any, Exception | None]:
    """``(call(), None)``, or ``(None, the error)`` when it raises ``refusal`` (any other error fails the test)."""
    try:
        return call(), None
    except refusal as exc:
        return None, exc


def _with_holes(table: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``table`` (raw, as read) with a pd.NA, a None and a NaN in every feature column, coerced as
    the snapshot coerces a batch: the rows a model scores after a new batch arrives."""
    out = table.copy()
    for col in schema.features:
        values = out[col].astype(object)
        for row, hole in zip(out.index[:3], (pd.NA, None, np.nan), strict=False):
            values.loc[row] = hole
        out[col] = values
    return coerce(out, schema, where="scoring.csv", first_line=2)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same 60 tables on every run and machine
    database=None,  # nothing written into the checkout (.hypothesis/)
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(tables())
def test_every_table_is_accepted_or_refused_by_name(case: Generated) -> None:
    table, target = case.table, case.target
    # 1. inference
    guess, refused = _attempt(lambda: infer_table(table, target), ConfigError)
    if refused is not None:
        assert _names_a_column_or_flag(str(refused), table.columns), refused
        event(f"infer refused: {str(refused)[:30]}")
        return
    schema = Schema.from_config(guess.schema())
    if guess.id is None:  # as driftloop ingest stores it
        table = table.assign(**{AUTO_ID: content_ids(table)})

    # 2. the batch check
    def check() -> pd.DataFrame:
        out = coerce(table, schema, where="generated.csv", first_line=2)
        check_classes(out, schema, where="generated.csv", first_line=2)
        return out

    frame, refused = _attempt(check, DataError)
    if refused is not None:
        assert "generated.csv" in str(refused) and _names_a_column_or_flag(str(refused), table.columns), refused
        event(f"batch refused: {str(refused)[14:60]}")
        return
    assert not (guess.timestamp == case.time and case.time_hole), "a hole in the timestamp column was accepted"
    if guess.task == "classification":
        assert set(frame[schema.label].dropna()) <= set(schema.classes)
        if "1, 1.0 and '1'" in case.recipe[-1]:
            assert schema.classes == ("0", "1")

    # 3. every model config of the task fits and predicts through holes
    labelled = frame[labelled_mask(frame, schema)].reset_index(drop=True)
    cut = int(len(labelled) * 0.8)
    window = SimpleNamespace(train=labelled.iloc[:cut], validation=labelled.iloc[cut:], train_weight=None)
    scoring = _with_holes(table, schema)
    for name, cfg in MODELS.items():
        if cfg["task"] != schema.task:
            continue
        fit, refused = _attempt(lambda cfg=cfg: fit_model(build_model(cfg, schema), window, schema), DataError)
        if refused is not None:
            assert _names_a_column_or_flag(str(refused), table.columns), (name, refused)
            event(f"fit refused: {str(refused)[:30]}")
            continue
        event(f"fitted {schema.task}, {len(schema.features)} feature(s)")
        predictions = fit.model.predict(features_frame(scoring, schema, "scoring"))
        assert len(predictions) == len(scoring), name
        if schema.task == "classification":
            assert set(map(str, predictions)) <= set(schema.classes), name
        else:
            assert np.isfinite(np.asarray(predictions, dtype=float)).all(), name


@pytest.mark.parametrize("hole", list(MISSING))
@pytest.mark.parametrize("form", ["iso text", "datetime"])
def test_a_hole_in_the_timestamp_is_refused_naming_it(hole, form):
    """The timestamp rule on its own, for every missing kind (the property test draws some)."""
    stamps = pd.date_range("2026-01-01", periods=60, freq="D")
    ts: list[Any] = stamps.strftime("%Y-%m-%d").tolist() if form == "iso text" else stamps.tolist()
    ts[7] = MISSING[hole]
    table = pd.DataFrame({"event time": ts, "prix €": np.arange(60.0), "y": [0, 1] * 30})
    guess = infer_table(table, "y")
    assert guess.timestamp == "event time"
    schema = Schema.from_config(guess.schema())
    with pytest.raises(DataError, match=r"generated.csv: column 'event time' has 1 missing timestamp\(s\) \(line 9\)"):
        coerce(table.assign(**{AUTO_ID: content_ids(table)}), schema, where="generated.csv", first_line=2)


def test_a_text_column_with_holes_fits_every_model_config():
    """The case the property test found: hgb's text branch is sized to its vocabulary by a fit of
    its first steps, which was given the coerced frame itself (a pandas string column with pd.NA:
    "boolean value of NA is ambiguous") instead of the features_frame the fit gets."""
    n = 80
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "event time": pd.date_range("2026-01-01", periods=n, freq="6h").strftime("%Y-%m-%dT%H:%M"),
            "note libre": _holes(_feature("prose", n, rng), "mixed", 0.2, rng),
            "y": [0, 1] * (n // 2),
        }
    )
    guess = infer_table(table, "y")
    schema = Schema.from_config(guess.schema())
    assert schema.text == ("note libre",)
    frame = coerce(table.assign(**{AUTO_ID: content_ids(table)}), schema, where="t.csv")
    assert frame["note libre"].isna().sum() == 16
    window = SimpleNamespace(train=frame.iloc[:64], validation=frame.iloc[64:], train_weight=None)
    for name in ("hgb", "logreg_tfidf"):
        fit = fit_model(build_model(MODELS[name], schema), window, schema)
        assert fit.classes == ["0", "1"], name


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def test_a_level_or_id_is_spelled_one_way_with_or_without_holes():
    """A CSV integer column with an empty cell is read as floats: the zip code 10001 and the id 3
    must stay "10001" and "3" (not "10001.0", "3.0": an unseen level, an id that no longer
    matches the same row in another batch)."""
    schema = Schema("id", "ts", "y", numeric=("x",), categorical=("zip",), classes=("0", "1"))
    whole = coerce(_csv("id,ts,zip,x,y\n3,2026-01-01,10001,1,0\n4,2026-01-02,10002,2,1\n"), schema, "a.csv", 2)
    holed = coerce(_csv("id,ts,zip,x,y\n3.0,2026-01-01,10001,1,0\n4,2026-01-02,,2,1\n"), schema, "b.csv", 2)
    assert whole["zip"].tolist() == ["10001", "10002"]
    assert holed["zip"].tolist() == ["10001", pd.NA]
    assert holed["id"].tolist() == whole["id"].tolist() == ["3", "4"]
    # Text stays text: a zip code written "01234" is not the number 1234, and 2.5 is "2.5".
    mixed = pd.Series(["01234", 1234, 1234.0, 2.5, None, pd.NA, np.nan], dtype=object)
    assert level_names(mixed).tolist() == ["01234", "1234", "1234", "2.5", pd.NA, pd.NA, pd.NA]


def test_a_missing_id_is_refused_naming_the_column_and_line():
    schema = Schema("id", "ts", "y", numeric=("x",), classes=("0", "1"))
    with pytest.raises(DataError, match=r"b.csv: column 'id' has 1 missing id\(s\) \(line 3\)"):
        coerce(_csv("id,ts,x,y\n3,2026-01-01,1,0\n,2026-01-02,2,1\n"), schema, "b.csv", 2)
