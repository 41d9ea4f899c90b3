"""Getting a champion's training data back by DVC md5: from the cache, or pulled from the default
remote (a fresh clone), verified by md5; a clear error when it is nowhere."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from driftloop.demo.scaffold import run
from driftloop.errors import DataError
from driftloop.lineage import fetch_by_md5, file_md5


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    run(["git", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "init", "-q"], root)
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], root)
    data = root / "training.parquet"
    data.write_bytes(b"PAR1 pretend parquet bytes \x00\x01\x02" * 100)
    run([sys.executable, "-m", "dvc", "add", "-q", "training.parquet"], root)
    return root, file_md5(data)


def test_file_md5_is_what_dvc_records(repo):
    root, md5 = repo
    assert f"md5: {md5}" in (root / "training.parquet.dvc").read_text()


def test_from_local_cache(repo):
    root, md5 = repo
    assert file_md5(fetch_by_md5(root, md5)) == md5


def test_pulled_from_the_default_remote_when_the_cache_lacks_it(repo):
    root, md5 = repo
    run([sys.executable, "-m", "dvc", "push", "-q"], root)
    shutil.rmtree(root / ".dvc" / "cache")
    path = fetch_by_md5(root, md5)
    assert file_md5(path) == md5


def test_nowhere_is_a_data_error_naming_md5_and_what(repo):
    root, md5 = repo
    shutil.rmtree(root / ".dvc" / "cache")
    with pytest.raises(DataError, match=rf"training data of m v1 \(DVC md5 {md5}\)"):
        fetch_by_md5(root, md5, what="training data of m v1")


def test_corrupt_cache_is_detected(repo):
    root, md5 = repo
    path = Path(fetch_by_md5(root, md5))
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(DataError, match="corrupt"):
        fetch_by_md5(root, md5)
