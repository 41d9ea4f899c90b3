"""driftloop.io.StagedOutputs: every output moves into place only at commit, whatever it was before."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.io import StagedOutputs


def _write_dir(path: Path, names: list[str]) -> None:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_text(name)


@pytest.mark.parametrize("before", ["file", "dir", "nothing"])
@pytest.mark.parametrize("after", ["file", "dir"])
def test_commit_replaces_a_file_or_a_folder_and_leaves_nothing_aside(tmp_path: Path, before: str, after: str):
    final = tmp_path / "data" / "current.parquet"
    final.parent.mkdir()
    if before == "file":
        final.write_text("old")
    elif before == "dir":
        _write_dir(final, ["part-0.parquet", "part-1.parquet"])
    with StagedOutputs() as staged:
        target = staged.path(final)
        if after == "file":
            target.write_text("new")
        else:
            _write_dir(target, ["part-0.parquet"])
        assert (final.read_text() == "old") if before == "file" else final.exists() == (before == "dir")
    if after == "file":
        assert final.is_file() and final.read_text() == "new"
    else:
        assert sorted(p.name for p in final.iterdir()) == ["part-0.parquet"]
    assert sorted(p.name for p in final.parent.iterdir()) == ["current.parquet"]  # no staged or aside copy


def test_a_failed_stage_leaves_the_old_folder_as_it_was(tmp_path: Path):
    final = tmp_path / "current.parquet"
    _write_dir(final, ["part-0.parquet", "part-1.parquet"])

    def failing_stage() -> None:
        with StagedOutputs() as staged:
            _write_dir(staged.path(final), ["part-0.parquet"])
            raise RuntimeError("the stage failed before its outputs were complete")

    with pytest.raises(RuntimeError):
        failing_stage()
    assert sorted(p.name for p in final.iterdir()) == ["part-0.parquet", "part-1.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.parquet"]
