"""``driftloop ingest FILE...``: validate new batches against the project's schema, then add them.

Every file is checked as the snapshot stage will check it (:func:`driftloop.batches.read_incoming`:
columns, types, labels, timestamps, ids repeated within the batch), all before any is added, so
that a bad file stops at the door naming its file, row and column, and the batch folder is left
as it was. Accepted files are copied into ``data.source.path`` under a name that sorts after
every earlier batch (``batch_0003_<name>``: a later batch's row replaces an earlier one with the
same id), then the folder is tracked with ``dvc add``. JSON lines are stored as parquet. A table
without an id column (``driftloop init`` chose :data:`~driftloop.project.infer.AUTO_ID`) gets
one: a hash of the row's content, numbered when a batch repeats a row.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.errors import DataError
from driftloop.project.infer import AUTO_ID
from driftloop.project.read import read_table, table_format
from driftloop.schema import Schema


def content_ids(table: pd.DataFrame) -> pd.Series:
    """A stable id per row from its content: a 64-bit hash, then ``-k`` for the k-th repeat in this table."""
    digest = pd.util.hash_pandas_object(_hashable(table), index=False).to_numpy()
    seen = pd.Series(digest).groupby(digest).cumcount().to_numpy()
    return pd.Series([f"{h:016x}-{k}" for h, k in zip(digest, seen, strict=True)], index=table.index, dtype="string")


def _hashable(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with nested values (JSON arrays and objects, parquet lists) as JSON text.

    pandas cannot hash a list ("unhashable type: 'list'"): a JSON-lines batch with an array
    anywhere stopped ``driftloop ingest`` with a traceback. Only the columns that need it are
    converted, so the id of every row pandas could hash before is unchanged.
    """
    out = table
    for col in table.columns:
        if table[col].dtype != object:
            continue
        try:
            pd.util.hash_pandas_object(table[col], index=False)
        except TypeError:
            if out is table:
                out = table.copy()
            out[col] = table[col].map(_json_text)
    return out


def _json_text(value: object) -> object:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _stored(path: Path, add_id: bool, dest: Path) -> Path:
    """Write ``path`` as it will be stored, to ``dest`` (a name without extension); returns the file."""
    fmt = table_format(path)
    if not add_id and fmt != "jsonl":
        out = dest.with_suffix(path.suffix.lower())
        shutil.copyfile(path, out)
        return out
    table = read_table(path)
    if add_id and AUTO_ID not in table.columns:
        table.insert(0, AUTO_ID, content_ids(table))
    if fmt == "csv":
        out = dest.with_suffix(".csv")
        table.to_csv(out, index=False)
    else:
        out = dest.with_suffix(".parquet")
        _mixed_as_text(table).to_parquet(out, index=False)
    return out


def _mixed_as_text(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with each column whose values have more than one Python type as text.

    JSON lines give such columns (``1.5`` on one line, ``"lots"`` on the next), and pyarrow
    refuses them ("Could not convert 'lots' with type str: tried to convert to double"), a
    traceback naming no file or row. As text they are stored, and the batch check then names
    the file, the column, the row and the value (``"lots"`` is not a number) as for a CSV.
    """
    out = table
    for col in table.columns:
        values = table[col]
        if values.dtype == object and len({type(v) for v in values.dropna()}) > 1:
            if out is table:
                out = table.copy()
            out[col] = values.astype("string")
    return out


def ingest(files: Sequence[Path], *, guess_id: bool | None = None, track: bool = True) -> list[Path]:
    """Validate ``files`` against the project in the current directory and add them as batches.

    Parameters
    ----------
    files : sequence of Path
    guess_id : bool, optional
        Add :data:`AUTO_ID` to each file; default: when the schema's id is it.
    track : bool
        Run ``dvc add`` on the batch folder afterwards.

    Returns
    -------
    list of Path
        The batch files added, in order.

    Raises
    ------
    DataError
        Naming the file, row or line and column of the first problem; nothing is added then.
    ConfigError
        When the project's params.yaml is missing or stale.
    """
    from driftloop.batches import list_batches
    from driftloop.config import check_params, workspace

    cfg = check_params()
    schema = Schema.from_config(cfg["data"]["schema"])
    folder = workspace() / str(cfg["data"]["source"]["path"])
    add_id = schema.id == AUTO_ID if guess_id is None else guess_id
    names = [Path(f).name for f in files]
    if len(set(names)) != len(names):
        raise DataError(f"the same file name is given twice: {names}; ingest each batch once.")
    start = _last_number(list_batches(folder)) if folder.is_dir() and any(folder.iterdir()) else 0
    with tempfile.TemporaryDirectory(dir=workspace()) as tmp:
        staged = [
            _stored(Path(f), add_id, Path(tmp) / f"batch_{start + i + 1:04d}_{Path(f).stem}")
            for i, f in enumerate(files)
        ]
        for path, original in zip(staged, files, strict=True):
            _check_one(path, Path(original), schema)
        folder.mkdir(parents=True, exist_ok=True)
        added = []
        for path in staged:
            target = folder / path.name
            if target.exists():
                raise DataError(f"{target} already exists; ingest each batch once.")
            shutil.move(str(path), target)
            added.append(target)
    if track:
        _dvc_add(folder)
    return added


def _last_number(batches: Sequence[Path]) -> int:
    """The number the next batch counts on from: the highest ``batch_NNNN_`` number, at least the count.

    Not the count alone: after an earlier batch is removed (``batch_0001_a`` gone,
    ``batch_0002_b`` kept) the count is 1, and the next batch, ``batch_0002_c``, would share a
    number with the newest one and sort before or after it by name alone.
    """
    numbers = [int(m.group(1)) for p in batches if (m := _NUMBERED.match(p.name))]
    return max([len(batches), *numbers])


_NUMBERED = re.compile(r"batch_(\d+)_")


def _check_one(path: Path, original: Path, schema: Schema) -> None:
    """Check one staged batch alone, as the snapshot will; errors name ``original``, the user's file."""
    from driftloop.batches import read_incoming

    with tempfile.TemporaryDirectory(dir=path.parent) as one:
        alone = Path(one) / path.name
        shutil.copy(path, alone)
        try:
            read_incoming(Path(one), schema)
        except DataError as exc:
            raise DataError(str(exc).replace(str(alone), str(original))) from None


def _dvc_add(folder: Path) -> None:
    import subprocess
    import sys

    from driftloop.config import workspace

    proc = subprocess.run(
        [sys.executable, "-m", "dvc", "add", "-q", str(folder.relative_to(workspace()))],
        cwd=workspace(),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise DataError(f"`dvc add {folder}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
