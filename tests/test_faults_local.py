"""Local faults (issue 13): each ends in a named error with its documented exit code, naming the
path or key, and loses nothing earlier; a stage killed mid-way leaves no run RUNNING once the
next stage has started.

Real parts: MLflow on a sqlite file, a DVC workspace (``tests/stages``), the stage runner
(``run_stage``, as ``dvc repro`` calls it) and, for SIGKILL, real stage processes.

A full disk is simulated (a tmpfs needs privileges the tests do not assume): ``DataFrame.to_parquet``
raises ``OSError(ENOSPC)`` for the staged output it writes, as the kernel would on the write.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from driftloop import paths
from driftloop.errors import ConfigError, RegistryError, StorageError
from driftloop.stages import run_stage
from tests.stages.conftest import add_weeks, cfg, workspace  # noqa: F401 (fixtures)

# ---------------------------------------------------------------- helpers ---------------------------


def run(
    name: str, config: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: copy.deepcopy(config))
    capsys.readouterr()
    code = run_stage(name, [])
    return code, capsys.readouterr().err


def snapshot_files(ws: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ws / paths.SNAPSHOT_DIR).iterdir()) if p.is_file()}


# ---------------------------------------------------------------- A1: a window of 0 days ------------


@pytest.mark.parametrize("key", ["initial_reference_days", "current_max_days", "max_future_days"])
@pytest.mark.parametrize("value", [0, -3])
def test_a_data_window_of_zero_or_negative_days_is_refused_naming_the_key(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    key: str,
    value: int,
) -> None:
    add_weeks(workspace, range(1, 4))
    bad = copy.deepcopy(cfg)
    bad["data"]["windows"][key] = value
    code, err = run("snapshot", bad, monkeypatch, capsys)
    assert code == ConfigError.exit_code == 3, err
    assert f"data.windows.{key} must be a number of days > 0" in err and "Traceback" not in err
    assert not (workspace / paths.SNAPSHOT_DIR).exists() or not any((workspace / paths.SNAPSHOT_DIR).iterdir())


@pytest.mark.parametrize("key", ["window_days", "holdout_days"])
@pytest.mark.parametrize("value", [0, -1.5])
def test_a_train_window_of_zero_or_negative_days_is_refused_naming_the_key(key: str, value: float) -> None:
    from driftloop.train.windows import WindowConfig

    with pytest.raises(ConfigError, match=rf"train\.{key}"):
        WindowConfig.from_dict({key: value})


# ---------------------------------------------------------------- A2: a corrupt mlflow.db -----------


def _db(uri: str) -> Path:
    return Path(uri.removeprefix("sqlite:///"))


@pytest.mark.parametrize("damage", ["random_bytes", "truncated"])
def test_a_corrupt_mlflow_db_exits_5_naming_its_path(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
    mlflow_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    damage: str,
) -> None:
    add_weeks(workspace, range(1, 4))
    db = _db(mlflow_uri)
    if damage == "random_bytes":
        db.write_bytes(os.urandom(8192))
    else:
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    code, err = run("snapshot", cfg, monkeypatch, capsys)
    assert code == RegistryError.exit_code == 5, err
    assert str(db) in err and "not a sound SQLite database" in err and "Traceback" not in err
    assert not (workspace / paths.SNAPSHOT_DIR).exists() or not any((workspace / paths.SNAPSHOT_DIR).iterdir())


# ---------------------------------------------------------------- A3/A4: unwritable, full disk ------


@pytest.fixture
def snapshotted(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Path:
    """A workspace whose snapshot stage ran once; new weeks have arrived since."""
    add_weeks(workspace, range(1, 7))
    code, err = run("snapshot", cfg, monkeypatch, capsys)
    assert code == 0, err
    add_weeks(workspace, range(7, 9))
    return workspace


def test_a_read_only_snapshot_folder_is_a_named_error(
    snapshotted: Path,
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = snapshotted / paths.SNAPSHOT_DIR
    before = snapshot_files(snapshotted)
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 0o555 does not stop writes")
        code, err = run("snapshot", cfg, monkeypatch, capsys)
    finally:
        folder.chmod(0o755)
    assert code == StorageError.exit_code == 2, err
    assert str(folder) in err and "EACCES" in err and "Traceback" not in err
    assert snapshot_files(snapshotted) == before


def test_a_file_where_the_snapshot_folder_should_be_is_a_named_error(
    snapshotted: Path,
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The folder made unusable in a way root cannot write through either: a file in its place."""
    folder = snapshotted / paths.SNAPSHOT_DIR
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    code, err = run("snapshot", cfg, monkeypatch, capsys)
    assert code == StorageError.exit_code == 2, err
    assert str(folder) in err and "Traceback" not in err
    assert folder.read_text() == "not a folder\n"


def test_a_full_disk_names_the_file_and_leaves_earlier_outputs_unchanged(
    snapshotted: Path,
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Simulated: the staged parquet write fails with ENOSPC, as a write on a full disk does."""
    before = snapshot_files(snapshotted)
    failed: list[str] = []

    def no_space(self: pd.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        failed.append(str(path))
        Path(str(path)).write_bytes(b"PAR1 half")  # a partial write, as a real full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    code, err = run("snapshot", cfg, monkeypatch, capsys)
    assert code == StorageError.exit_code == 2, err
    assert failed and failed[0] in err and "ENOSPC" in err and "Traceback" not in err
    assert snapshot_files(snapshotted) == before
    leftovers = [p.name for p in (snapshotted / paths.SNAPSHOT_DIR).iterdir() if p.name.startswith(".")]
    assert not [name for name in leftovers if name.endswith(".staged")], leftovers


def test_an_oserror_without_a_path_or_disk_errno_stays_a_bug() -> None:
    from driftloop.local_faults import storage_error

    assert storage_error(OSError(errno.ECONNREFUSED, "refused")) is None
    named = storage_error(OSError(errno.ENOSPC, "No space left on device", "/x/y.parquet"))
    assert named is not None and "/x/y.parquet" in str(named) and "ENOSPC" in str(named)
