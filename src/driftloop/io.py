"""Small file helpers shared by the stage shells (atomic writes, JSON)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    return value


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _raise_naming(exc: OSError, path: Path | str) -> NoReturn:
    """Raise ``exc`` naming the file it failed on: a write that fails on a full disk says so with an
    errno but no file name (a file object's ``write``; pyarrow's "Error writing bytes to file.
    Detail: [errno 28]"), and the stage runner reports the path the error carries (exit 2)."""
    if exc.filename is not None or exc.errno is None:
        raise exc
    raise OSError(exc.errno, os.strerror(exc.errno), str(path)) from exc


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; reports should be as readable as any file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        _raise_naming(exc, tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Pretty, key-sorted-as-given JSON with NaN/inf turned into null."""
    atomic_write_text(path, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def read_json(path: Path, *, what: str) -> Any:
    from driftloop.errors import DataError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{what} {path} not found: run the stage that writes it (dvc repro).") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{what} {path} is not valid JSON: {exc}") from exc


def write_parquet(path: Path, df: pd.DataFrame) -> None:
    """Deterministic parquet (same rows -> same bytes -> same DVC md5), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        df.to_parquet(tmp, index=False, compression="zstd")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # a full disk leaves a partial file: remove it, keep the error
        _raise_naming(exc, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class StagedOutputs:
    """A stage's output files, written beside their final paths and moved into place together
    only when the whole stage has succeeded.

    With ``persist: true`` outputs DVC leaves the previous run's files in place; staging makes
    sure a stage that fails halfway (a bad model config, an MLflow outage) leaves *all* of them
    as they were, consistent with ``dvc.lock``, instead of a mix of old and new files.

    Example
    -------
    >>> root = Path(tempfile.mkdtemp())
    >>> with StagedOutputs() as staged:
    ...     write_json(staged.path(root / "reports" / "x.json"), {"a": 1})
    ...     (root / "reports" / "x.json").exists()  # not yet: written to a hidden sibling
    False
    >>> json.loads((root / "reports" / "x.json").read_text())
    {'a': 1}
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, final: Path) -> Path:
        """Where to write ``final`` for now (a hidden sibling); created parent folders included."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.with_name(f".{final.name}.staged")
        _remove(staged)
        self._pending.append((staged, final))
        return staged

    def commit(self) -> None:
        """Move every staged file or folder to its final path (renames: near-instant)."""
        for staged, final in self._pending:
            if staged.is_dir() or (staged.exists() and final.is_dir()):
                # A folder cannot replace anything in one rename (nor a file a folder: a window that
                # became partitioned and back). The old one is renamed aside first and removed only
                # once the new one is in place, so a crash in between leaves it on disk, never half
                # deleted.
                aside = final.with_name(f".{final.name}.replaced")
                _remove(aside)
                if final.exists():
                    os.rename(final, aside)
                os.rename(staged, final)
                _remove(aside)
            elif staged.exists():
                os.replace(staged, final)
        self._pending.clear()

    def discard(self) -> None:
        for staged, _ in self._pending:
            _remove(staged)
        self._pending.clear()

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
