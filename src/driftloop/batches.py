"""Reading incoming batches and holding them to the schema.

Each batch file is read and validated on its own, so an error names the file as
well as the column. Values are coerced to one dtype per role: timestamps to
``datetime64``, numeric features to ``float64`` (missing stays NaN: the missing
rate is a drift signal), categorical and text features to pandas strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftloop.config import reject_unknown
from driftloop.errors import DataError
from driftloop.schema import Schema, class_name

if TYPE_CHECKING:
    from driftloop.review import ReviewProblem

_SOURCE = "__driftloop_batch__"  # read_incoming's temporary column: which file a row came from
SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def list_batches(folder: Path, fmt: str = "auto") -> list[Path]:
    """Batch files in ``folder`` in name order.

    Raises
    ------
    DataError
        When the folder does not exist or holds no batch file.
    """
    if fmt not in ("auto", "parquet", "csv"):
        raise DataError(f"data.source.format must be auto, parquet, csv or partitioned. Got {fmt!r} instead.")
    if not folder.is_dir():
        raise DataError(f"batch folder {folder} does not exist (data.source.path).")
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and (fmt == "auto" or SUFFIXES[p.suffix.lower()] == fmt)
    )
    if not files:
        kinds = "parquet or csv" if fmt == "auto" else fmt
        raise DataError(f"batch folder {folder} is empty: no {kinds} files to snapshot (data.source.path).")
    return files


def read_batch(path: Path, schema: Schema) -> pd.DataFrame:
    """Read one batch file and coerce it to the schema.

    A CSV must be UTF-8 (an invalid byte is refused naming its offset and line, never replaced),
    and a batch must hold at least one row.
    """
    csv = SUFFIXES[path.suffix.lower()] == "csv"
    try:
        df = pd.read_csv(path) if csv else pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise DataError(_utf8_error(path)) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"batch {path} is empty: expected a header line naming the columns {list(schema.required)} "
            "and at least one row."
        ) from exc
    except Exception as exc:  # pyarrow/pandas raise many types; the cause is kept
        raise DataError(f"cannot read batch {path}: {exc}") from exc
    if df.empty:
        raise DataError(f"batch {path} holds no rows: expected at least one row (remove the file if it is not data).")
    out = coerce(df, schema, where=str(path), first_line=2 if csv else None)
    check_classes(out, schema, where=str(path), first_line=2 if csv else None)
    return out


def _utf8_error(path: Path) -> str:
    """Where a file stops being UTF-8: byte offset, line and data row (C-speed decode, no row loop)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return (
            f"batch {path} is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} "
            f"(line {line}, data row {line - 1}) ({exc.reason}); expected UTF-8 text. "
            "Re-export the file as UTF-8: no byte is replaced, that would alter rows."
        )
    return f"batch {path} is not valid UTF-8; expected UTF-8 text."


def _rows(mask: Any, first_line: int | None, limit: int = 5) -> str:
    """The first rows where ``mask`` holds, as CSV lines or 1-based parquet rows."""
    pos = np.flatnonzero(np.asarray(mask, dtype=bool))
    if first_line is None:
        shown, what = (pos[:limit] + 1).tolist(), "row"
    else:
        shown, what = (pos[:limit] + first_line).tolist(), "line"
    more = f" and {len(pos) - limit} more" if len(pos) > limit else ""
    return f"{what}{'s' if len(pos) > 1 else ''} {', '.join(map(str, shown))}{more}"


def coerce(df: pd.DataFrame, schema: Schema, where: str, first_line: int | None = None) -> pd.DataFrame:
    """Keep the schema's columns, in schema order, with one dtype per role.

    ``first_line``: the file line of the first row (a CSV: 2), so that errors name lines;
    ``None`` names 1-based rows.
    """
    schema.check_columns(df.columns, where)
    out = pd.DataFrame(index=df.index)
    out[schema.id] = level_names(df[schema.id])
    if out[schema.id].isna().any():
        # Refused, not kept: a missing id is no id. Two batches with one each made the second
        # row "correct" the first (read_incoming keeps the later row per id), losing a row.
        missing = out[schema.id].isna()
        raise DataError(
            f"{where}: column {schema.id!r} has {int(missing.sum())} missing id(s) "
            f"({_rows(missing, first_line)}); expected an id on every row."
        )
    ts = pd.to_datetime(df[schema.timestamp], errors="coerce", utc=True)
    bad = ts.isna() & df[schema.timestamp].notna()
    if bad.any():
        raise DataError(
            f"{where}: column {schema.timestamp!r} has {int(bad.sum())} value(s) that are not timestamps "
            f"({_rows(bad, first_line)}), e.g. {df.loc[bad, schema.timestamp].iloc[0]!r}; "
            "expected ISO 8601 dates or datetimes."
        )
    if ts.isna().any():
        raise DataError(
            f"{where}: column {schema.timestamp!r} has {int(ts.isna().sum())} missing timestamp(s) "
            f"({_rows(ts.isna(), first_line)}); expected a timestamp on every row."
        )
    out[schema.timestamp] = ts.dt.tz_convert(None).astype("datetime64[us]")
    for col in schema.numeric:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            raise DataError(
                f"{where}: numeric column {col!r} has {int(bad.sum())} non-numeric value(s) "
                f"({_rows(bad, first_line)}), e.g. {df.loc[bad, col].iloc[0]!r}."
            )
        values = values.astype("float64")
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            raise DataError(
                f"{where}: numeric column {col!r} has {int(infinite.sum())} infinite value(s) "
                f"({_rows(infinite, first_line)}), e.g. {values[infinite].iloc[0]!r}; expected finite "
                "numbers (leave a value empty for missing)."
            )
        out[col] = values
    for col in schema.categorical:
        out[col] = level_names(df[col])
    for col in schema.text:
        out[col] = df[col].astype("string")
    if schema.label:
        out[schema.label] = (
            class_labels(df[schema.label])
            if schema.task == "classification"
            else pd.to_numeric(df[schema.label], errors="coerce").astype("float64")
        )
    return out


def class_labels(values: pd.Series) -> pd.Series:
    """Classification labels as pandas strings, one spelling per class (:func:`driftloop.schema.class_name`:
    ``1``, ``1.0`` and ``"1"`` are the class ``"1"``); missing values of any kind stay missing.

    Each distinct value is named once (a label has few), then spread back by its code.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = np.array([class_name(u) for u in uniques] + [None], dtype=object)
    return pd.Series(names[codes], index=values.index, dtype="string")


def level_names(values: pd.Series) -> pd.Series:
    """Categorical levels and ids as pandas strings, a number written one way: ``10001`` whether
    the column is read as integers or, because a cell is empty, as floats (``10001.0``).

    Without this, a CSV zip-code column gave the level ``"10001"`` in a batch without a hole and
    ``"10001.0"`` in one with a hole: an unseen level for the model, a shift for the drift tests,
    and an id that no longer matched the same id in an earlier batch. Text values are kept as they
    are (``"01234"`` stays a different level from ``1234``); missing values of any kind stay missing.

    Examples
    --------
    >>> level_names(pd.Series([10001.0, None, 2.5])).tolist()
    ['10001', <NA>, '2.5']
    >>> level_names(pd.Series([10001, "10001", "01234", 1.0, pd.NA], dtype=object)).tolist()
    ['10001', '10001', '01234', '1', <NA>]
    """
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = np.isfinite(numbers) & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
        if (whole | np.isnan(numbers)).all():  # the usual case: whole numbers and holes
            return pd.Series(pd.array(numbers, dtype="Int64"), index=values.index).astype("string")
        out = values.astype("string")
        out[whole] = numbers[whole].astype(np.int64).astype(str)
        return out
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) == "string":
        return values.astype("string")  # integers, booleans, text: one spelling already
    codes, uniques = pd.factorize(values, use_na_sentinel=True)  # a few levels: named once each

    def name(value: Any) -> str:
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        return class_name(value) if numeric else str(value)

    names = np.array([name(u) for u in uniques] + [None], dtype=object)
    return pd.Series(names[codes], index=values.index, dtype="string")


@dataclass(frozen=True)
class Incoming:
    """Every incoming row, and where each came from.

    Attributes
    ----------
    data : pandas.DataFrame
        Time-ordered rows, one per id.
    files : list of Path
        The batch files, in name order.
    source : numpy.ndarray
        For each row of ``data``, the index in ``files`` of the batch it came from.
    corrected : pandas.DataFrame
        Ids given again by a later batch (``id``, ``file``, ``replaced_in``): the later row wins.
    """

    data: pd.DataFrame
    files: list[Path]
    source: np.ndarray
    corrected: pd.DataFrame


def read_incoming(folder: Path, schema: Schema, fmt: str = "auto") -> Incoming:
    """Read every batch in ``folder`` into one time-ordered frame.

    An id given twice within one batch is refused (which row holds?). An id given again by a
    later batch replaces the earlier row (a later batch corrects an earlier one); those ids are
    returned in ``corrected`` so that the snapshot reports them.
    """
    files = list_batches(folder, fmt)
    frames = [read_batch(p, schema) for p in files]
    lengths = np.array([len(f) for f in frames])
    df = pd.concat(frames, ignore_index=True)
    source = np.repeat(np.arange(len(files)), lengths)
    ids = df[schema.id]
    repeated = ids.duplicated(keep=False).to_numpy()
    corrected = pd.DataFrame(columns=["id", "file", "replaced_in"])
    if repeated.any():
        row = np.arange(len(df)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        dup = pd.DataFrame({"id": ids[repeated].to_numpy(), "src": source[repeated], "row": row[repeated]})
        within = dup[dup.duplicated(["id", "src"], keep=False)]
        if len(within):
            first = within.sort_values(["src", "row"], kind="stable")
            src = int(first["src"].iloc[0])
            csv = SUFFIXES[files[src].suffix.lower()] == "csv"
            in_file = first[(first["src"] == src) & (first["id"] == first["id"].iloc[0])]
            shown = (in_file["row"].to_numpy() + (2 if csv else 1)).tolist()
            raise DataError(
                f"batch {files[src]}: id {first['id'].iloc[0]!r} is given {len(in_file)} times "
                f"({'lines' if csv else 'rows'} {', '.join(map(str, shown))}); "
                f"{within['id'].nunique()} id(s) repeat within a batch in all ("
                f"{', '.join(repr(i) for i in within['id'].drop_duplicates().head(5))}). "
                f"Expected each {schema.id!r} once per batch."
            )
        later = dup.sort_values(["id", "src"], kind="stable")
        replaced = later.duplicated("id", keep="last").to_numpy()
        corrected = pd.DataFrame(
            {
                "id": later["id"].to_numpy()[replaced],
                "file": [files[i] for i in later["src"].to_numpy()[replaced]],
                "replaced_in": [files[i] for i in later.groupby("id", sort=False)["src"].transform("last")[replaced]],
            }
        )
    df[_SOURCE] = source  # in place: the concatenated frame is ours, and millions of rows are not copied
    df = df.drop_duplicates(subset=[schema.id], keep="last")
    df = df.sort_values([schema.timestamp, schema.id], kind="stable").reset_index(drop=True)
    source = df.pop(_SOURCE).to_numpy()
    if df.empty:
        raise DataError(f"batch folder {folder}: the batches hold no rows.")
    return Incoming(df, files, source, corrected)


def read_batches(folder: Path, schema: Schema, fmt: str = "auto") -> tuple[pd.DataFrame, list[Path]]:
    """Every batch in ``folder`` as one time-ordered frame (see :func:`read_incoming`)."""
    incoming = read_incoming(folder, schema, fmt)
    return incoming.data, incoming.files


def check_classes(df: pd.DataFrame, schema: Schema, where: str, first_line: int | None = None) -> None:
    """Labels outside the configured classes are an error naming them and their first rows."""
    if schema.task != "classification" or not schema.label or not schema.classes:
        return
    labels = df[schema.label]
    outside = (labels.notna() & ~labels.isin(schema.classes)).to_numpy(dtype=bool)
    if outside.any():
        unknown = sorted(set(labels[outside].astype(str)))
        raise DataError(
            f"{where}: column {schema.label!r} has label(s) {unknown} outside data.schema.classes "
            f"{list(schema.classes)} ({_rows(outside, first_line)})."
        )


def plain_missing(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with pandas' nullable columns (``string``, ``boolean``, ``Int64``...) as numpy dtypes whose
    missing value is ``np.nan``.

    scikit-learn's imputers test ``value != value``; ``pd.NA`` answers that with ``NA`` itself, and
    "boolean value of NA is ambiguous" stops the fit naming no column. Only columns that need it
    are converted, so a frame without extension dtypes is returned as it is.
    """
    convert = [
        c
        for c in df.columns
        if isinstance(df[c].dtype, pd.api.extensions.ExtensionDtype)
        and not isinstance(df[c].dtype, (pd.CategoricalDtype, pd.DatetimeTZDtype))
    ]
    if not convert:
        return df
    out = df.copy(deep=False)
    for c in convert:
        col = df[c]
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            out[c] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[c] = col.to_numpy(dtype=object, na_value=np.nan)
    return out


def table_fingerprint(df: pd.DataFrame) -> str:
    """A content digest of a frame, independent of file encoding (MLflow dataset digest)."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    import hashlib

    return hashlib.md5(np.ascontiguousarray(hashed).tobytes()).hexdigest()


def window_summary(df: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Rows and time range of a window, for the manifest."""
    ts = df[schema.timestamp]
    return {
        "rows": len(df),
        "start": ts.min().isoformat() if len(df) else None,
        "end": ts.max().isoformat() if len(df) else None,
    }


def source_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    reject_unknown(cfg, {"path", "format", "reviewed_labels"}, "data.source")
    if "path" not in cfg:
        raise DataError("data.source.path is missing: the folder of incoming batches.")
    return dict(cfg)


def check_reviewed_ids(folder: Path, schema: Schema, ids: pd.Series) -> list[ReviewProblem]:
    """Every problem of the reviewed-labels files (``id,label[,reviewer]`` CSVs in ``folder``),
    checked against every id of the incoming data: the snapshot stage prints each as one warning
    line, so that nothing a reviewer returned is dropped without a word.

    Problems are warnings, not errors: the other labels are merged, and a cycle that runs
    unattended is not stopped by a typo in a file a person wrote. The same rules leave the bad
    rows out where the labels are applied (:func:`driftloop.train.labels.apply_reviewed_labels`),
    and the drift report lists them (:func:`driftloop.review.validate_reviews` names each kind).
    """
    from driftloop.review import review_files, validate_reviews

    files = review_files(folder)
    if not files:  # nothing returned: no need to spell every incoming id as text
        return []
    _, problems = validate_reviews(files, ids.astype(str), schema.classes or None, task=schema.task)
    return problems
