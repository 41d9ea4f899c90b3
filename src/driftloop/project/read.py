"""Reading a user's table as pandas reads it: CSV, parquet or JSON lines, by extension."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftloop.errors import DataError

#: Extension -> format. JSON lines are accepted at the door and stored as parquet (the snapshot
#: reads CSV and parquet batches).
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def table_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` for ``path``, or a DataError naming the accepted extensions."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown file type {path.suffix!r}; expected one of {', '.join(sorted(FORMATS))}.")
    return fmt


def read_table(path: Path) -> pd.DataFrame:
    """The table at ``path`` (a DataError naming the file when it is missing, unreadable or empty)."""
    fmt = table_format(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    try:
        if fmt == "csv":
            table = pd.read_csv(path, encoding="utf-8")  # quoted fields may span lines
        elif fmt == "parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 at byte {exc.start} ({exc.reason}); re-export it as UTF-8.") from exc
    except Exception as exc:  # pandas and pyarrow raise many types; the cause is kept
        raise DataError(f"{path}: cannot be read as {fmt}: {exc}") from exc
    if table.empty:
        raise DataError(f"{path}: holds no rows; expected a header and at least one row.")
    return table
