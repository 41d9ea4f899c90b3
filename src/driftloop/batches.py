"""Reading incoming batches and holding them to the schema.

Each batch file is read and validated on its own, so an error names the file as
well as the column. Values are coerced to one dtype per role: timestamps to
``datetime64``, numeric features to ``float64`` (missing stays NaN: the missing
rate is a drift signal), categorical and text features to pandas strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.config import reject_unknown
from driftloop.errors import DataError
from driftloop.schema import Schema

SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def list_batches(folder: Path, fmt: str = "auto") -> list[Path]:
    """Batch files in ``folder`` in name order.

    Raises
    ------
    DataError
        When the folder does not exist or holds no batch file.
    """
    if fmt not in ("auto", "parquet", "csv"):
        raise DataError(f"data.source.format must be auto, parquet or csv. Got {fmt!r} instead.")
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
    """Read one batch file and coerce it to the schema."""
    try:
        if SUFFIXES[path.suffix.lower()] == "parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, encoding_errors="replace")
    except Exception as exc:  # pyarrow/pandas raise many types; the cause is kept
        raise DataError(f"cannot read batch {path}: {exc}") from exc
    return coerce(df, schema, where=str(path))


def coerce(df: pd.DataFrame, schema: Schema, where: str) -> pd.DataFrame:
    """Keep the schema's columns, in schema order, with one dtype per role."""
    schema.check_columns(df.columns, where)
    out = pd.DataFrame(index=df.index)
    out[schema.id] = df[schema.id].astype("string")
    ts = pd.to_datetime(df[schema.timestamp], errors="coerce", utc=True)
    bad = ts.isna() & df[schema.timestamp].notna()
    if bad.any():
        raise DataError(
            f"{where}: column {schema.timestamp!r} has {int(bad.sum())} value(s) that are not timestamps, "
            f"e.g. {df.loc[bad, schema.timestamp].iloc[0]!r}."
        )
    if ts.isna().any():
        raise DataError(f"{where}: column {schema.timestamp!r} has {int(ts.isna().sum())} missing timestamp(s).")
    out[schema.timestamp] = ts.dt.tz_convert(None).astype("datetime64[us]")
    for col in schema.numeric:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna()
        if bad.any():
            raise DataError(
                f"{where}: numeric column {col!r} has {int(bad.sum())} non-numeric value(s), "
                f"e.g. {df.loc[bad, col].iloc[0]!r}."
            )
        out[col] = values.astype("float64")
    for col in (*schema.categorical, *schema.text):
        out[col] = df[col].astype("string")
    if schema.label:
        out[schema.label] = (
            df[schema.label].astype("string")
            if schema.task == "classification"
            else pd.to_numeric(df[schema.label], errors="coerce").astype("float64")
        )
    return out


def read_batches(folder: Path, schema: Schema, fmt: str = "auto") -> tuple[pd.DataFrame, list[Path]]:
    """Read every batch in ``folder`` into one time-ordered frame (duplicate ids: the last wins)."""
    files = list_batches(folder, fmt)
    frames = [read_batch(p, schema) for p in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.drop_duplicates(subset=[schema.id], keep="last")
    df = df.sort_values([schema.timestamp, schema.id], kind="stable").reset_index(drop=True)
    if df.empty:
        raise DataError(f"batch folder {folder}: the batches hold no rows.")
    return df, files


def check_classes(df: pd.DataFrame, schema: Schema, where: str) -> None:
    """Labels outside the configured classes are an error naming them."""
    if schema.task != "classification" or not schema.label or not schema.classes:
        return
    seen = set(df[schema.label].dropna().unique())
    unknown = sorted(seen - set(schema.classes))
    if unknown:
        raise DataError(
            f"{where}: column {schema.label!r} has label(s) {unknown} outside data.schema.classes "
            f"{list(schema.classes)}."
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
