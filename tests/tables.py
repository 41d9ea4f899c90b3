"""Writing a test table in the format its file name says (CSV, parquet or JSON lines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_table(path: Path, table: pd.DataFrame) -> Path:
    """Write ``table`` to ``path`` by its suffix (``.csv``, ``.parquet``, else JSON lines); return ``path``."""
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_json(path, orient="records", lines=True)
    return path
