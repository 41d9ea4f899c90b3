"""A real full disk (issue 13, local faults): a stage whose output folder is on a full file system
exits 2 (StorageError) with one line naming the file and "No space left on device", no traceback,
and loses nothing: the earlier outputs, ``dvc.lock``, the registry's versions and the ``champion``
alias stay as they were, and no half-written file is left beside them.

Real parts: a scaffolded project (git, DVC, MLflow on sqlite) whose first cycle promoted v1; a
512 KiB-and-up tmpfs mounted over the folder a stage writes, holding copies of the earlier outputs
and filled to the last byte; the stage run as ``dvc repro`` runs it (``python pipelines/<stage>.py``)
or by ``dvc repro`` itself. Mounting needs root (CAP_SYS_ADMIN): elsewhere these tests skip, and
tests/test_faults_local.py keeps the simulated ENOSPC.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env, scaffold
from driftloop.errors import StorageError
from tests import records

ROOT = Path(__file__).resolve().parents[1]
ROWS = 150
NO_SPACE = "No space left on device"
#: What a stage may write besides MLflow's store: compared byte for byte before and after.
OUTPUTS = ("data/snapshot", "data/summary", "data/train", "data/compare", "reports", "dvc.lock")


def _mount_refusal(probe: Path) -> str | None:
    """Why a tmpfs cannot be mounted here, or None when it can (tried on ``probe``)."""
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "no mount/umount command: a real full disk needs a tmpfs mount"
    if os.geteuid() != 0:
        return "not root: mounting a tmpfs for a real full disk needs CAP_SYS_ADMIN (the simulated ENOSPC runs)"
    probe.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"mounting a tmpfs is not permitted here ({done.stderr.strip()}): no real full disk"
    subprocess.run(["umount", str(probe)], check=True)
    return None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mlflow_template_db: Path) -> Path:
    """A scaffolded project whose first `dvc repro` promoted champion v1; weeks 7-8 have arrived."""
    base = tmp_path_factory.mktemp("full-disk")
    refusal = _mount_refusal(base / "probe")
    if refusal:
        pytest.skip(refusal)
    project = scaffold(ROOT, base / "project", remote=base / "dvcstore", mlflow_db=mlflow_template_db)
    write_weeks(project / "data" / "incoming", range(1, 7), rows=ROWS)
    run([sys.executable, "-m", "dvc", "repro"], project, check=True)
    decision = json.loads((project / "reports" / "decision.json").read_text())
    assert (decision["promoted"], decision["version"]) == (True, "1")
    write_weeks(project / "data" / "incoming", range(7, 9), rows=ROWS)
    return project


def run(cmd: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _size(folder: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def full_disk(project: Path) -> Iterator[Callable[[str], Path]]:
    """``fill(rel)``: a tmpfs mounted over ``project/rel`` holding a copy of what was there, then
    filled to the last byte. Unmounted at teardown, which uncovers the untouched originals."""
    mounted: list[Path] = []

    def fill(rel: str) -> Path:
        folder = project / rel
        copy = project.parent / f"copy-{rel.replace('/', '-')}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy, symlinks=True)
        size_k = max(512, (_size(copy) + 256 * 1024) // 1024)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_k}k", "tmpfs", str(folder)], check=True)
        mounted.append(folder)
        shutil.copytree(copy, folder, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(copy)
        with open(folder / ".filler", "wb", buffering=0) as fh:
            errno_seen = 0
            while not errno_seen:
                try:
                    fh.write(b"\0" * 4096)
                except OSError as exc:
                    errno_seen = exc.errno or -1
        assert errno_seen == errno.ENOSPC, errno_seen
        assert shutil.disk_usage(folder).free < 4096, shutil.disk_usage(folder)
        return folder

    try:
        yield fill
    finally:
        for folder in reversed(mounted):
            subprocess.run(["umount", str(folder)], check=False)
            if os.path.ismount(folder):
                subprocess.run(["umount", "-l", str(folder)], check=True)


def digests(project: Path) -> dict[str, str]:
    """md5 of every earlier output (the filler left out)."""
    out: dict[str, str] = {}
    for rel in OUTPUTS:
        path = project / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for f in files:
            if f.name != ".filler":
                out[str(f.relative_to(project))] = hashlib.md5(f.read_bytes()).hexdigest()
    return out


def leftovers(folder: Path) -> list[str]:
    """Hidden files a failed write could leave: staged outputs, temporary files."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob(".*")
        if p.name not in {".filler", ".gitignore"} and not p.name.startswith(".git")
    )


def registry_state(project: Path) -> dict:
    """The registry (tests/records.py) and the runs left RUNNING."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{project / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    running = [
        r.info.run_id
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id], filter_string="attributes.status = 'RUNNING'")
    ]
    return {"models": records.registry_state(uri), "running": running}


def error_lines(stderr: str, stage: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"driftloop {stage}: error:")]


#: stage, the folder on the full disk, what the stage writes there first.
CASES = {
    "snapshot/parquet": ("snapshot", "data/snapshot"),
    "drift/reports": ("drift", "reports"),
    "retrain/mlflow-artifacts": ("retrain", "mlartifacts"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_stage_on_a_full_disk_exits_2_naming_the_file_and_keeps_earlier_outputs(
    project: Path, full_disk: Callable[[str], Path], case: str
) -> None:
    stage, rel = CASES[case]
    before = digests(project), registry_state(project)
    models = before[1]["models"].values()
    assert models and all({k: str(v) for k, v in m["aliases"].items()} == {"champion": "1"} for m in models)
    folder = full_disk(rel)
    proc = run([sys.executable, f"pipelines/{stage}.py"], project)
    assert proc.returncode == StorageError.exit_code == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    lines = error_lines(proc.stderr, stage)
    assert len(lines) == 1, proc.stderr[-3000:]
    assert NO_SPACE in lines[0] and f"{folder}/" in lines[0] and "[ENOSPC]" in lines[0], lines[0]
    assert digests(project) == before[0], "earlier outputs changed"
    assert registry_state(project) == before[1], "the registry changed or a run was left RUNNING"
    if rel != "mlartifacts":  # MLflow's store keeps what the failed run had logged (its run is FAILED)
        assert leftovers(folder) == []


def test_dvc_repro_on_a_full_snapshot_folder_fails_at_the_snapshot_and_keeps_dvc_lock(
    project: Path, full_disk: Callable[[str], Path]
) -> None:
    before = digests(project), registry_state(project)
    folder = full_disk("data/snapshot")
    proc = run([sys.executable, "-m", "dvc", "repro"], project)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    lines = error_lines(proc.stderr, "snapshot")
    assert len(lines) == 1 and NO_SPACE in lines[0] and f"{folder}/" in lines[0], text[-3000:]
    assert "failed to reproduce 'snapshot'" in text and "exited with 2" in text, text[-3000:]
    assert "Running stage 'drift'" not in text
    assert digests(project) == before[0], "earlier outputs or dvc.lock changed"
    assert registry_state(project) == before[1]
    assert leftovers(folder) == []
