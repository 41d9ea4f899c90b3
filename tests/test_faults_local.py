"""Local faults (issue 13): each ends in a named error with its documented exit code, naming the
path or key, and loses nothing earlier; a stage killed mid-way leaves no run RUNNING once the
next stage has started.

Real parts: MLflow on a sqlite file, a DVC workspace (``tests/stages``), the stage runner
(``run_stage``, as ``dvc repro`` calls it) and, for SIGKILL, real stage processes.

A full disk is simulated here (runs without privileges): ``DataFrame.to_parquet`` raises
``OSError(ENOSPC)`` for the staged output it writes, as the kernel would on the write. The real
one, a filled tmpfs under each stage's output folder, is tests/test_full_disk.py (needs root).
"""

from __future__ import annotations

import copy
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from driftloop import paths
from driftloop.errors import ConfigError, DriftloopError, RegistryError, StorageError
from driftloop.stages import run_stage
from driftloop.tags import TAG_CLOSED_REASON, TAG_HOST, TAG_KIND, TAG_PID
from tests.stages.conftest import add_weeks, cfg, workspace  # noqa: F401 (fixtures)

# ---------------------------------------------------------------- helpers ---------------------------


@dataclass(frozen=True)
class Snapshot:
    """The snapshot stage of workspace ``ws``, run through ``run_stage`` as ``dvc repro`` does:
    ``snapshot(config)`` (the test's ``cfg`` by default) gives its exit code and stderr."""

    ws: Path
    cfg: dict
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def __call__(self, config: dict | None = None) -> tuple[int, str]:
        used = copy.deepcopy(self.cfg if config is None else config)
        self.monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: copy.deepcopy(used))
        self.capsys.readouterr()
        code = run_stage("snapshot", [])
        return code, self.capsys.readouterr().err


@pytest.fixture
def snapshot(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Snapshot:
    return Snapshot(workspace, cfg, monkeypatch, capsys)


#: The documented exit codes (README "Exit codes") of the errors these faults end in.
DOCUMENTED = {ConfigError: 3, RegistryError: 5, StorageError: 2}


def assert_named_error(code: int, err: str, error: type[DriftloopError], *named: str) -> None:
    """The documented exit code of ``error``, a message naming each of ``named``, no traceback."""
    assert code == error.exit_code == DOCUMENTED[error], err
    for part in named:
        assert part in err, (part, err)
    assert "Traceback" not in err, err


def nothing_written(ws: Path) -> bool:
    folder = ws / paths.SNAPSHOT_DIR
    return not folder.exists() or not any(folder.iterdir())


def snapshot_files(ws: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((ws / paths.SNAPSHOT_DIR).iterdir()) if p.is_file()}


# ---------------------------------------------------------------- A1: a window of 0 days ------------


@pytest.mark.parametrize("key", ["initial_reference_days", "current_max_days", "max_future_days"])
@pytest.mark.parametrize("value", [0, -3])
def test_a_data_window_of_zero_or_negative_days_is_refused_naming_the_key(
    snapshot: Snapshot, key: str, value: int
) -> None:
    add_weeks(snapshot.ws, range(1, 4))
    bad = copy.deepcopy(snapshot.cfg)
    bad["data"]["windows"][key] = value
    code, err = snapshot(bad)
    assert_named_error(code, err, ConfigError, f"data.windows.{key} must be a number of days > 0")
    assert nothing_written(snapshot.ws)


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
def test_a_corrupt_mlflow_db_exits_5_naming_its_path(snapshot: Snapshot, mlflow_uri: str, damage: str) -> None:
    add_weeks(snapshot.ws, range(1, 4))
    db = _db(mlflow_uri)
    if damage == "random_bytes":
        db.write_bytes(os.urandom(8192))
    else:
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    code, err = snapshot()
    assert_named_error(code, err, RegistryError, str(db), "not a sound SQLite database")
    assert nothing_written(snapshot.ws)


# ---------------------------------------------------------------- A3/A4: unwritable, full disk ------


@dataclass(frozen=True)
class Snapshotted:
    """A workspace ``ws`` whose snapshot stage ran once, new weeks arrived since: its snapshot
    ``folder``, the files there (``before``), and ``run`` for the snapshot stage again."""

    ws: Path
    folder: Path
    before: dict[str, bytes]
    run: Callable[[], tuple[int, str]]


@pytest.fixture
def snapshotted(snapshot: Snapshot) -> Snapshotted:
    ws = snapshot.ws
    add_weeks(ws, range(1, 7))
    code, err = snapshot()
    assert code == 0, err
    add_weeks(ws, range(7, 9))
    return Snapshotted(ws, ws / paths.SNAPSHOT_DIR, snapshot_files(ws), snapshot)


def test_a_read_only_snapshot_folder_is_a_named_error(snapshotted: Snapshotted) -> None:
    folder = snapshotted.folder
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 0o555 does not stop writes")
        code, err = snapshotted.run()
    finally:
        folder.chmod(0o755)
    assert_named_error(code, err, StorageError, str(folder), "EACCES")
    assert snapshot_files(snapshotted.ws) == snapshotted.before


def test_a_file_where_the_snapshot_folder_should_be_is_a_named_error(snapshotted: Snapshotted) -> None:
    """The folder made unusable in a way root cannot write through either: a file in its place."""
    folder = snapshotted.folder
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")
    code, err = snapshotted.run()
    assert_named_error(code, err, StorageError, str(folder))
    assert folder.read_text() == "not a folder\n"


def test_a_full_disk_names_the_file_and_leaves_earlier_outputs_unchanged(
    snapshotted: Snapshotted, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated: the staged parquet write fails with ENOSPC, as a write on a full disk does."""
    failed: list[str] = []

    def no_space(self: pd.DataFrame, path: object, *args: object, **kwargs: object) -> None:
        failed.append(str(path))
        Path(str(path)).write_bytes(b"PAR1 half")  # a partial write, as a real full disk leaves
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_space)
    code, err = snapshotted.run()
    assert failed
    assert_named_error(code, err, StorageError, failed[0], "ENOSPC")
    assert snapshot_files(snapshotted.ws) == snapshotted.before
    leftovers = [p.name for p in snapshotted.folder.iterdir() if p.name.startswith(".")]
    assert not [name for name in leftovers if name.endswith(".staged")], leftovers


def test_an_oserror_without_a_path_or_disk_errno_stays_a_bug() -> None:
    from driftloop.local_faults import storage_error

    assert storage_error(OSError(errno.ECONNREFUSED, "refused")) is None
    named = storage_error(OSError(errno.ENOSPC, "No space left on device", "/x/y.parquet"))
    assert named is not None and "/x/y.parquet" in str(named) and "ENOSPC" in str(named)


# ---------------------------------------------------------------- B: SIGKILL during every stage -----

#: Run one stage in this process; with ``hang``, stop inside the stage's MLflow run (retrain: while
#: its model is being logged, the logged model PENDING), write the pid to ``marker`` and sleep
#: until killed.
STAGE_SCRIPT = """
import contextlib, json, os, sys, time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

stage, cfg_path, mode, marker = sys.argv[1:5]
cfg = json.loads(Path(cfg_path).read_text())


def hang(*args, **kwargs):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(600)


if mode == "hang" and stage == "retrain":
    import mlflow

    mlflow.MlflowClient.log_model_artifacts = hang
elif mode == "hang":
    import driftloop.tracking as tracking

    original = tracking.stage_run

    @contextlib.contextmanager
    def stage_run(*args, **kwargs):
        with original(*args, **kwargs) as run:
            hang()
            yield run

    tracking.stage_run = stage_run
from driftloop.stages import run_configured

run_configured(stage, cfg)
"""

KILL_WAIT_S = 120.0


def _runs(status: str | None = None) -> list:
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return [r for r in runs if status is None or r.info.status == status]


def _stage_process(ws: Path, stage: str, cfg_file: Path, mode: str, marker: Path) -> subprocess.Popen:
    script = ws.parent / "stage_script.py"
    script.write_text(STAGE_SCRIPT)
    return subprocess.Popen(
        [sys.executable, str(script), stage, str(cfg_file), mode, str(marker)],
        cwd=ws,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_during_every_stage_then_a_rerun_converges_and_no_run_stays_running(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
) -> None:
    """Real processes: each stage of a first cycle is SIGKILLed inside its MLflow run (seen RUNNING
    in the store first), then rerun; the rerun completes and closes the killed run as KILLED, and
    retrain's logged model left PENDING as FAILED; the cycle's parent run, opened by the killed
    snapshot, is taken over by its rerun and stays RUNNING until promote ends it. At the end no run
    is RUNNING."""
    from mlflow import MlflowClient

    from driftloop.stages import STAGES

    add_weeks(workspace, range(1, 7))
    cfg_file = workspace.parent / "cfg.json"
    cfg_file.write_text(json.dumps(cfg))
    client = MlflowClient()
    for stage in STAGES:
        marker = workspace.parent / f"{stage}.hanging"
        proc = _stage_process(workspace, stage, cfg_file, "hang", marker)
        deadline = time.monotonic() + KILL_WAIT_S
        while not marker.exists():
            assert proc.poll() is None, f"{stage} ended before it hung: {proc.communicate()[0][-3000:]}"
            assert time.monotonic() < deadline, f"{stage} never reached its hang point"
            time.sleep(0.2)
        opened = [r for r in _runs("RUNNING") if r.data.tags.get(TAG_PID) == str(proc.pid)]
        # The cycle's parent run (opened by the snapshot) is taken over by the rerun, not killed.
        parents = [r for r in opened if r.data.tags.get(TAG_KIND) == "cycle"]
        killed = [r for r in opened if r not in parents]
        assert killed, f"{stage}: no RUNNING run of pid {proc.pid} in the store"
        assert all(r.data.tags.get(TAG_HOST) for r in killed)
        pending = []
        if stage == "retrain":
            exp_ids = sorted({r.info.experiment_id for r in killed})
            pending = [
                m
                for m in client.search_logged_models(exp_ids)
                if m.source_run_id in {r.info.run_id for r in killed} and str(m.status).endswith("PENDING")
            ]
            assert pending, "retrain was killed while logging its model: a PENDING logged model was expected"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL

        rerun = _stage_process(workspace, stage, cfg_file, "run", marker)
        out, _ = rerun.communicate(timeout=600)
        assert rerun.returncode == 0, f"{stage} rerun failed: {out[-3000:]}"
        for run in killed:
            after = client.get_run(run.info.run_id)
            assert after.info.status == "KILLED", (stage, after.info.status)
            assert str(proc.pid) in after.data.tags[TAG_CLOSED_REASON]
        for model in pending:
            assert str(client.get_logged_model(model.model_id).status).endswith("FAILED")
        cycle_run = json.loads((workspace / paths.MANIFEST).read_text())["cycle_run_id"]
        assert {r.info.run_id for r in parents} <= {cycle_run}, "the rerun opened a second cycle run"
        running = {r.info.run_id for r in _runs("RUNNING")}
        # Only the cycle's parent run is RUNNING between its stages; promote ends it.
        assert running == (set() if stage == STAGES[-1] else {cycle_run}), f"after {stage}: {running} RUNNING"
    assert json.loads((workspace / paths.DECISION_JSON).read_text())["promoted"] is True


def test_a_running_run_of_a_live_process_or_another_host_is_left_alone(
    workspace: Path,  # noqa: F811
    cfg: dict,  # noqa: F811
) -> None:
    import mlflow

    from driftloop.context import build_context
    from driftloop.local_faults import close_dead_runs

    ctx = build_context("snapshot", cfg)
    client = mlflow.MlflowClient()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = dead.stdout.strip()
    live = client.create_run(ctx.experiment_id, tags={TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname()})
    other = client.create_run(ctx.experiment_id, tags={TAG_PID: dead_pid, TAG_HOST: "another-host.example"})
    untagged = client.create_run(ctx.experiment_id)
    gone = client.create_run(ctx.experiment_id, tags={TAG_PID: dead_pid, TAG_HOST: socket.gethostname()})
    assert close_dead_runs(ctx.experiment_id) == [gone.info.run_id]
    for run, status in ((live, "RUNNING"), (other, "RUNNING"), (untagged, "RUNNING"), (gone, "KILLED")):
        assert client.get_run(run.info.run_id).info.status == status
