"""Human-reviewed labels: a folder of ``id,label`` CSV files that override labels by id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.errors import DataError
from driftloop.schema import Schema, class_name, labelled_mask

# labelled_mask lives in driftloop.schema (compare uses it too; compare must not import train).
__all__ = ["apply_reviewed_labels", "labelled_mask", "read_reviewed_labels"]

REVIEW_COLUMNS = ("id", "label")


def read_reviewed_labels(folder: Path, schema: Schema) -> pd.Series:
    """Read every ``*.csv`` in ``folder`` into one Series ``label`` indexed by id (as str).

    Files are read in name order and a later file overrides an earlier one for the
    same id, so a reviewer can correct a correction by adding a newer file.

    Raises
    ------
    DataError
        Naming the file and column when a file lacks ``id`` or ``label``, has an empty
        label, gives one id two labels, has a label outside ``schema.classes`` or (for
        regression) a non-numeric label.
    """
    parts: list[pd.Series] = []
    for path in sorted(Path(folder).glob("*.csv")):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise DataError(f"reviewed labels file {path}: cannot be read as CSV ({exc}).") from exc
        table.columns = [c.strip() for c in table.columns]
        for column in REVIEW_COLUMNS:
            if column not in table.columns:
                raise DataError(
                    f"reviewed labels file {path}: missing column {column!r}; expected a header "
                    f"'id,label'. Got columns {list(table.columns)}."
                )
        ids = table["id"].str.strip()
        labels = table["label"].str.strip()
        if schema.task == "classification":
            labels = labels.where(labels == "", labels.map(class_name))  # "1.0" and "1" are one class
        empty = (ids == "") | (labels == "")
        if empty.any():
            bad = int(np.flatnonzero(empty.to_numpy())[0]) + 2  # +2: header line, 1-based lines
            raise DataError(
                f"reviewed labels file {path}: column {'id' if ids.iloc[bad - 2] == '' else 'label'!r} "
                f"is empty on line {bad} ({int(empty.sum())} empty row(s) in all)."
            )
        per_id = labels.groupby(ids).nunique()
        conflicting = per_id[per_id > 1]
        if len(conflicting):
            raise DataError(
                f"reviewed labels file {path}: column 'label' gives id(s) "
                f"{list(conflicting.index[:5])} more than one label."
            )
        if schema.task == "regression":
            values = pd.to_numeric(labels, errors="coerce")
            if values.isna().any():
                raise DataError(
                    f"reviewed labels file {path}: column 'label' must be numeric for a regression "
                    f"task. Got {labels[values.isna()].iloc[0]!r}."
                )
            labels = values
        elif schema.classes:
            unknown = sorted(set(labels) - set(schema.classes))
            if unknown:
                raise DataError(
                    f"reviewed labels file {path}: column 'label' has value(s) {unknown[:5]} "
                    f"outside the schema's classes {list(schema.classes)}."
                )
        parts.append(pd.Series(labels.to_numpy(), index=ids.to_numpy(), name="label"))
    if not parts:
        return pd.Series([], dtype=object, name="label")
    merged = pd.concat(parts)
    return merged[~merged.index.duplicated(keep="last")]


def apply_reviewed_labels(df: pd.DataFrame, folder: Path | None, schema: Schema) -> pd.DataFrame:
    """Override ``schema.label`` by id with the labels in ``folder``.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows carrying ``schema.id`` and ``schema.label``.
    folder : Path or None
        Folder of ``id,label`` CSV files; ``None`` or a missing folder changes nothing.
    schema : Schema

    Returns
    -------
    pandas.DataFrame
        A copy with overridden labels; ``attrs["reviewed_labels"]`` counts the files,
        the reviewed ids and how many of them matched a row.

    Raises
    ------
    DataError
        See :func:`read_reviewed_labels`.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from driftloop.schema import Schema
    >>> schema = Schema("id", "ts", "y", numeric=("x",))
    >>> df = pd.DataFrame({"id": [1, 2, 3], "ts": pd.Timestamp("2026-01-01"), "x": [0.1, 0.2, 0.3],
    ...                    "y": ["neg", "neg", "pos"]})
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"id": [2], "label": ["pos"]}).to_csv(folder / "review-1.csv", index=False)
    >>> out = apply_reviewed_labels(df, folder, schema)
    >>> out["y"].tolist(), out.attrs["reviewed_labels"]
    (['neg', 'pos', 'pos'], {'files': 1, 'reviewed_ids': 1, 'applied': 1})
    """
    out = df.copy()
    if schema.label is None:
        raise DataError("apply_reviewed_labels: the schema names no label column (data.schema.label).")
    if folder is None or not Path(folder).is_dir():
        out.attrs["reviewed_labels"] = {"files": 0, "reviewed_ids": 0, "applied": 0}
        return out
    reviewed = read_reviewed_labels(Path(folder), schema)
    keys = out[schema.id].astype(str)
    hit = keys.isin(reviewed.index).to_numpy()
    if hit.any():
        new = reviewed.reindex(keys[hit]).to_numpy()
        out.loc[hit, schema.label] = new
    out.attrs["reviewed_labels"] = {
        "files": len(list(Path(folder).glob("*.csv"))),
        "reviewed_ids": len(reviewed),
        "applied": int(hit.sum()),
    }
    return out
