"""Human-reviewed labels: a folder of ``id,label[,reviewer]`` CSV files that override labels by id.

Read and validated by :func:`driftloop.review.validate_reviews`, the one set of rules the snapshot
(which reports the problems, one warning each) and the drift report (which lists them) use too.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from driftloop.errors import DataError
from driftloop.review import REVIEW_COLUMNS, review_files, validate_reviews
from driftloop.schema import Schema, labelled_mask

# labelled_mask lives in driftloop.schema (compare uses it too; compare must not import train).
__all__ = ["REVIEW_COLUMNS", "apply_reviewed_labels", "labelled_mask", "read_reviewed_labels"]


def read_reviewed_labels(folder: Path, schema: Schema) -> pd.Series:
    """Every usable reviewed label in ``folder``'s ``*.csv`` files, one Series ``label`` indexed
    by id (as str).

    Files are read in name order and a later file overrides an earlier one for the same id, so a
    reviewer can correct a correction by adding a newer file. A row that cannot be used (an
    empty id or label, a label outside ``schema.classes``, a non-numeric regression label, a
    file without an ``id`` or ``label`` column) is left out here: the snapshot stage has
    already reported it, naming the file and line (:func:`driftloop.batches.check_reviewed_ids`),
    and the drift report lists it.
    """
    labels, _ = validate_reviews(review_files(Path(folder)), None, schema.classes or None, task=schema.task)
    return labels


def apply_reviewed_labels(df: pd.DataFrame, folder: Path | None, schema: Schema) -> pd.DataFrame:
    """Override ``schema.label`` by id with the labels in ``folder``.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows carrying ``schema.id`` and ``schema.label``.
    folder : Path or None
        Folder of ``id,label[,reviewer]`` CSV files; ``None`` or a missing folder changes nothing.
    schema : Schema

    Returns
    -------
    pandas.DataFrame
        A copy with overridden labels; ``attrs["reviewed_labels"]`` counts the files,
        the reviewed ids and how many of them matched a row.

    Raises
    ------
    DataError
        When the schema names no label column.

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
