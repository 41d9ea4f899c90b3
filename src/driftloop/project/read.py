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
        raise DataError(_utf8_error(path, exc)) from exc
    except Exception as exc:  # pandas and pyarrow raise many types; the cause is kept
        raise DataError(f"{path}: cannot be read as {fmt}: {exc}") from exc
    if table.empty:
        raise DataError(f"{path}: holds no rows; expected a header and at least one row.")
    return table


def _utf8_error(path: Path, exc: UnicodeDecodeError) -> str:
    """Where ``path`` stops being UTF-8: the byte offset in the file and its line.

    Decoded again as a whole: pandas' CSV reader decodes in chunks, so ``exc.start`` counts from
    the start of a chunk (a bad byte at offset 67 was reported "at byte 1"), and names no line.
    """
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as whole:
        exc = whole
    else:  # pragma: no cover - pandas found a bad byte the whole decode does not
        return f"{path}: not valid UTF-8 ({exc.reason}); re-export it as UTF-8."
    line = raw.count(b"\n", 0, exc.start) + 1
    return (
        f"{path}: not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte offset {exc.start} (line {line}) "
        f"({exc.reason}); re-export it as UTF-8 (no byte is replaced, that would alter rows)."
    )
