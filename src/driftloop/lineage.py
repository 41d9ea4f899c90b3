"""Data lineage through DVC: content hashes, and getting data back by hash.

A registered model version names the DVC md5 of the data it was trained on; the
next cycle's reference is that exact file, read back from the DVC cache (or pulled
from the default remote in a fresh clone) and verified against the md5.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from driftloop.errors import DataError


def file_md5(path: Path, chunk: int = 1 << 20) -> str:
    """The md5 DVC records for a single file (plain md5 of its bytes)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fetch_by_md5(root: Path, md5: str, *, what: str = "data") -> Path:
    """Path of the DVC-cached file with content hash ``md5``, pulled from the
    default remote when the local cache lacks it.

    Raises
    ------
    DataError
        When neither the cache nor the remote has it, or the bytes do not match.
    """
    cached = _default_cache_file(root, md5)
    if cached is not None:
        return cached
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

    with Repo(str(root)) as repo:
        cache = repo.cache.local
        path = Path(cache.oid_to_path(md5))
        if not path.is_file():
            try:
                repo.cloud.pull([HashInfo("md5", md5)])
            except Exception as exc:  # any remote failure is reported the same way, with its cause
                raise DataError(
                    f"{what} (DVC md5 {md5}) is not in the local DVC cache and could not be pulled "
                    f"from the default remote: {exc}. Run `dvc pull` or check `dvc remote list`."
                ) from exc
        if not path.is_file():
            raise DataError(
                f"{what} (DVC md5 {md5}) is neither in the local DVC cache nor on the default remote; "
                "was `dvc push` run after the cycle that trained the champion?"
            )
    actual = file_md5(path)
    if actual != md5:
        raise DataError(f"{what}: DVC cache file {path} has md5 {actual}, expected {md5} (corrupt cache?).")
    return path


def _default_cache_file(root: Path, md5: str) -> Path | None:
    """The file with content hash ``md5`` where DVC 3 keeps it by default
    (``.dvc/cache/files/md5/ab/cdef...``), when it is there with those bytes; else None, and
    :func:`fetch_by_md5` asks DVC (a configured ``cache.dir``, a pull from the remote).

    Opening the DVC repository costs a stage ~0.2-0.5 s (imports, config, SCM); the bytes are
    checked against ``md5`` either way, so what is read from here is what DVC would give.
    """
    path = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    return path if path.is_file() and file_md5(path) == md5 else None
