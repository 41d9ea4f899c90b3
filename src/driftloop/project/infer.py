"""What a user's table is: each column's role and kind, the task, and windows that fit its cadence.

Pure: a sample of the table in, a :class:`TableGuess` out, every inference with the sentence
that justifies it (``driftloop init`` prints them in a table). Each can be overridden: the
target, time and id columns by name, the task, and any column's kind.

The rules, in the order they are tried for a column that is not the target, time or id:

* no value, or a single value: ``ignore`` (it carries no signal);
* a second date or datetime column: ``ignore`` (derive features from it in your data);
* booleans: ``categorical``;
* numbers: ``numeric``, except unique whole numbers named like an identifier (``ignore``) and
  whole numbers named like a code (``zip``, ``postal``, ``*_code``: ``categorical``);
* text that is numbers but for a few values (at least 95 %): ``numeric`` (the batch check then
  refuses the other values, naming them);
* text: ``text`` when values read as prose (on average at least 4 words or 40 characters);
  ``ignore`` when nearly every value is distinct (an identifier: an id-like column
  with thousands of levels is not a feature); otherwise ``categorical``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError
from driftloop.schema import class_name

Kind = Literal["numeric", "categorical", "text", "ignore"]
KINDS: tuple[Kind, ...] = ("numeric", "categorical", "text", "ignore")

# Words in a column name are separated by any non-alphanumeric character, not only "_": a
# table exported from a spreadsheet has "Zip Code", "customer id" or "order-date" (with "_" alone,
# those were read as plain numbers, not codes or ids). ``[\W_]``: a space, punctuation or "_".
#: Names that say "time" (a column named like this that parses as dates is the timestamp).
_TIME_NAME = re.compile(r"(^|[\W_])(time|timestamp|date|datetime|ts|created|updated|at)$", re.I)
#: Names that say "a code": whole numbers that name a category (zip codes lose nothing as levels).
_CODE_NAME = re.compile(r"(^|[\W_])(zip|zipcode|postal|postcode|code|cd|category|class|type)$", re.I)
#: Names that say "identifier".
_ID_NAME = re.compile(r"(^|[\W_])(id|uuid|guid|key|number|no)$|^id[\W_]", re.I)
#: A classification target has at most this many distinct values; a numeric one with more is regression.
MAX_CLASSES = 20
#: Prose: at least this many words, or characters, per value on average.
TEXT_MIN_WORDS, TEXT_MIN_CHARS = 4.0, 40.0
#: An identifier: at least this share of the values distinct, and at least this many of them.
ID_DISTINCT_SHARE, ID_MIN_DISTINCT = 0.9, 50
#: A column is a date column when at least this share of its values parse as dates.
DATE_SHARE = 0.95
#: A text column is numbers with stray values when at least this share (not all) of them parse as numbers.
NUMBER_SHARE = 0.95
#: Rows the holdout should hold to make a comparison worth having (compare's bootstrap needs them).
HOLDOUT_TARGET_ROWS = 300


@dataclass(frozen=True)
class ColumnGuess:
    """One column's role (``label``, ``timestamp``, ``id`` or ``feature``), kind and why."""

    name: str
    role: str
    kind: str
    why: str


@dataclass(frozen=True)
class Choice:
    """A config value ``driftloop init`` chose, the key it sets and why."""

    key: str
    value: Any
    why: str


@dataclass(frozen=True)
class TableGuess:
    """Everything ``driftloop init`` inferred from a table.

    ``id`` is None when the table has no identifier column: ``driftloop ingest`` then adds
    :data:`AUTO_ID`, a hash of each row's content.
    """

    columns: tuple[ColumnGuess, ...]
    target: str
    timestamp: str
    id: str | None
    task: str
    classes: tuple[str, ...]
    choices: tuple[Choice, ...] = field(default=())

    def of_kind(self, kind: str) -> list[str]:
        return [c.name for c in self.columns if c.role == "feature" and c.kind == kind]

    def schema(self) -> dict[str, Any]:
        """The ``data.schema`` config for this table."""
        return {
            "id": self.id or AUTO_ID,
            "timestamp": self.timestamp,
            "label": self.target,
            "task": self.task,
            "classes": list(self.classes),
            "numeric": self.of_kind("numeric"),
            "categorical": self.of_kind("categorical"),
            "text": self.of_kind("text"),
        }


#: The identifier column ``driftloop ingest`` adds to a table that has none.
AUTO_ID = "driftloop_row_id"


def parse_dates(values: pd.Series) -> pd.Series:
    """``values`` as UTC datetimes (NaT where a value is no date); numbers are never dates here."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.to_datetime(values, utc=True)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    text = values.astype("string")
    # Digits alone are a date only as YYYYMMDD: the "mixed" parser reads the zip code "02139" as
    # the year 2139 and "00012" as 0001-01-12, so a column of zip codes written as text (with
    # their leading zeros) was taken for a second date column, or for the timestamp.
    digits = text.str.strip().str.fullmatch(r"\d+").fillna(False) & text.str.strip().str.len().ne(8)
    return pd.to_datetime(text.mask(digits.astype(bool)), errors="coerce", utc=True, format="mixed")


def _date_share(values: pd.Series) -> float:
    present = values.dropna()
    if present.empty:
        return 0.0
    return float(parse_dates(present).notna().mean())


def find_time(sample: pd.DataFrame, given: str | None, exclude: Sequence[str]) -> tuple[str, str]:
    """The timestamp column and why: ``given``, else a date column named like one, else the first date column."""
    if given is not None:
        _check_named(sample, given, "--time")
        share = _date_share(sample[given])
        if share < DATE_SHARE:
            raise ConfigError(
                f"--time {given!r}: only {share:.0%} of its values are dates or datetimes; expected a timestamp "
                "on every row (ISO 8601)."
            )
        return given, "given (--time)"
    dates = [c for c in sample.columns if c not in exclude and _date_share(sample[c]) >= DATE_SHARE]
    named = [c for c in dates if _TIME_NAME.search(str(c))]
    if named:
        return named[0], f"named like a time and {DATE_SHARE:.0%}+ of its values are dates"
    if dates:
        return dates[0], f"the first column whose values are dates ({DATE_SHARE:.0%}+)"
    raise ConfigError(
        "no timestamp column found: no column has dates or datetimes in 95 % of its rows. Pass --time COLUMN "
        "(driftloop's windows are in event time, so every row needs one)."
    )


def find_id(sample: pd.DataFrame, given: str | None, exclude: Sequence[str]) -> tuple[str | None, str]:
    """The id column and why: ``given``, else a unique column named like an id, else None (added at ingest)."""
    if given is not None:
        _check_named(sample, given, "--id")
        dup = sample[given].duplicated(keep=False) & sample[given].notna()
        if dup.any() or sample[given].isna().any():
            what = f"{int(dup.sum())} repeated" if dup.any() else f"{int(sample[given].isna().sum())} missing"
            raise ConfigError(f"--id {given!r} has {what} value(s) in the sample; expected one distinct id per row.")
        return given, "given (--id)"
    for c in sample.columns:
        if c in exclude or not _ID_NAME.search(str(c)):
            continue
        col = sample[c]
        if col.notna().all() and not col.duplicated().any():
            return str(c), "named like an id and unique in the sample"
    return None, f"no unique column named like an id: `driftloop ingest` adds {AUTO_ID}, a hash of each row's content"


def infer_task(target: pd.Series, given: str | None) -> tuple[str, str]:
    """``classification`` or ``regression`` for ``target``, and why."""
    if given is not None:
        if given not in ("classification", "regression"):
            raise ConfigError(f"--task must be classification or regression. Got {given!r} instead.")
        return given, "given (--task)"
    present = target.dropna()
    numeric = pd.to_numeric(present, errors="coerce")
    distinct = present.map(class_name).nunique()
    if present.empty or numeric.isna().any():
        return "classification", "the target holds text values"
    whole = bool(np.all(np.isclose(numeric, np.round(numeric))))
    if whole and distinct <= MAX_CLASSES:
        return "classification", f"the target has {distinct} distinct whole-number values (<= {MAX_CLASSES})"
    return "regression", f"the target is numeric with {distinct} distinct values" + ("" if whole else ", not all whole")


def column_kind(values: pd.Series, name: str) -> tuple[str, str]:
    """A feature column's kind and why (the rules of the module docstring)."""
    present = values.dropna()
    n = len(present)
    if n == 0:
        return "ignore", "no values in the sample"
    distinct = int(present.astype("string").nunique())
    if distinct == 1:
        # tolist(): a plain Python value, so the reason reads 5, not np.int64(5)
        return "ignore", f"a single value ({present.tolist()[0]!r}) in the sample: it carries no signal"
    if pd.api.types.is_bool_dtype(values):
        return "categorical", "true/false values"
    if pd.api.types.is_numeric_dtype(values):
        whole = pd.api.types.is_integer_dtype(values) or bool(np.all(np.isclose(present, np.round(present))))
        if whole and distinct == n and n >= ID_MIN_DISTINCT and _ID_NAME.search(name):
            return "ignore", f"unique whole numbers named like an id ({distinct} of {n}): an identifier"
        if whole and _CODE_NAME.search(name):
            return "categorical", f"whole numbers named like a code ({distinct} distinct): levels, not quantities"
        return "numeric", f"numbers ({distinct} distinct)"
    if _date_share(values) >= DATE_SHARE:
        return "ignore", "dates or datetimes: a second time column is not a feature (derive features from it)"
    # Numbers with a few stray words ("?", "n/a" in JSON lines) are read as text by pandas; by the
    # text rules below nearly-distinct prices became an "identifier", silently ignored. As numeric,
    # the batch check refuses the stray values naming column, row and value.
    numbers = pd.to_numeric(present.astype("string"), errors="coerce")
    if NUMBER_SHARE <= float(numbers.notna().mean()) < 1.0:
        stray = present[numbers.isna().to_numpy()]
        return "numeric", (
            f"numbers except {len(stray)} value(s) such as {stray.tolist()[0]!r}: the batch check refuses "
            "those (leave them empty, or pass --kind to read the column otherwise)"
        )
    text = present.astype("string")
    words = float(text.str.count(r"\S+").mean())
    chars = float(text.str.len().mean())
    if words >= TEXT_MIN_WORDS or chars >= TEXT_MIN_CHARS:
        return "text", f"prose: {words:.1f} words, {chars:.0f} characters per value on average"
    if distinct >= ID_MIN_DISTINCT and distinct >= ID_DISTINCT_SHARE * n:
        return "ignore", f"{distinct} distinct values in {n} rows: an identifier, not a feature"
    return "categorical", f"{distinct} distinct short values"


def infer_table(
    sample: pd.DataFrame,
    target: str,
    *,
    time: str | None = None,
    id: str | None = None,
    task: str | None = None,
    kinds: Mapping[str, str] | None = None,
) -> TableGuess:
    """Infer a :class:`TableGuess` from ``sample`` (the first rows of the user's table).

    Parameters
    ----------
    sample : pandas.DataFrame
        As pandas reads the file (CSV, parquet or JSON lines).
    target : str
        The label column.
    time, id, task : str, optional
        Given instead of inferred.
    kinds : mapping of str to str, optional
        ``{column: kind}`` overriding the inferred kind (``numeric``, ``categorical``, ``text`` or
        ``ignore``).

    Raises
    ------
    ConfigError
        Naming the column or flag: a column the table lacks, a kind that does not exist, a
        target without values, no timestamp column, an id that repeats.

    Examples
    --------
    >>> t = pd.DataFrame({"when": ["2026-01-01", "2026-01-02"] * 30, "y": [1.0, 0.0] * 30,
    ...                   "note": ["a note about the day", "some words on the night"] * 30,
    ...                   "city": ["a", "b", "c"] * 20})
    >>> guess = infer_table(t, "y")
    >>> guess.task, guess.timestamp, guess.id, guess.schema()["text"], guess.schema()["categorical"]
    ('classification', 'when', None, ['note'], ['city'])
    >>> guess.classes
    ('0', '1')
    """
    _check_named(sample, target, "--target")
    kinds = dict(kinds or {})
    for col, kind in kinds.items():
        _check_named(sample, col, "--kind")
        if kind not in KINDS:
            raise ConfigError(f"--kind {col}={kind}: the kind must be one of {', '.join(KINDS)}. Got {kind!r}.")
    if sample[target].dropna().empty:
        raise ConfigError(f"--target {target!r} has no values in the sample; expected a label on (most) rows.")
    timestamp, time_why = find_time(sample, time, exclude=[target])
    id_col, id_why = find_id(sample, id, exclude=[target, timestamp])
    task_name, task_why = infer_task(sample[target], task)
    classes: tuple[str, ...] = ()
    if task_name == "classification":
        classes = tuple(sorted(sample[target].dropna().map(class_name).unique()))
    columns = [
        ColumnGuess(target, "label", task_name, task_why),
        ColumnGuess(timestamp, "timestamp", "timestamp", time_why),
    ]
    if id_col is not None:
        columns.append(ColumnGuess(id_col, "id", "id", id_why))
    for col in sample.columns:
        if col in (target, timestamp, id_col):
            continue
        kind, why = (kinds[col], "given (--kind)") if col in kinds else column_kind(sample[col], str(col))
        columns.append(ColumnGuess(str(col), "feature", kind, why))
    if not any(c.role == "feature" and c.kind != "ignore" for c in columns):
        raise ConfigError("no feature column left: every other column was ignored. Set one with --kind COLUMN=KIND.")
    return TableGuess(tuple(columns), target, timestamp, id_col, task_name, classes)


def choose_settings(guess: TableGuess, times: pd.Series, name: str) -> tuple[Choice, ...]:
    """The config ``driftloop init`` writes besides the schema, each with why.

    ``times``: the timestamp column of the whole initial table (parsed), for its span and cadence.
    """
    times = parse_dates(times).dropna()
    span_days = max((times.max() - times.min()).total_seconds() / 86400, 1.0) if len(times) else 1.0
    per_day = len(times) / span_days
    half = max(1, math.floor(span_days / 2))
    holdout = min(max(1, math.ceil(HOLDOUT_TARGET_ROWS / per_day)), max(1, math.floor(span_days / 4)))
    text = bool(guess.of_kind("text"))
    if guess.task == "classification":
        model, model_why = (
            ("logreg_tfidf", "text columns: TF-IDF + logistic regression")
            if text
            else (
                "hgb",
                "no text column: histogram gradient boosting (handles missing values and interactions)",
            )
        )
    else:
        model, model_why = "hgb_regressor", "regression: histogram gradient boosting (TF-IDF + SVD for text)"
    window_why = f"the table spans {span_days:.0f} days at {per_day:.0f} rows a day"
    return (
        Choice("model", model, model_why),
        Choice("registry.model_name", name, "the project's name"),
        Choice("data.windows.initial_reference_days", half, f"{window_why}: the first half is the first reference"),
        Choice(
            "data.windows.current_max_days",
            max(half, math.ceil(span_days - half)),
            "the rest of the table is the first current window",
        ),
        Choice(
            "train.window_days", math.ceil(span_days), "a challenger trains on as much history as the first table holds"
        ),
        Choice(
            "train.holdout_days",
            holdout,
            f"about {HOLDOUT_TARGET_ROWS} rows to compare champion and challenger on (at most a quarter of the span)",
        ),
        Choice("compare/promote", guess.task, f"the {guess.task} defaults of conf/compare and conf/promote"),
    )


def _check_named(sample: pd.DataFrame, column: str, flag: str) -> None:
    if column not in sample.columns:
        raise ConfigError(f"{flag} {column!r}: the table has no such column; its columns are {list(sample.columns)}.")
