"""Build a throwaway copy of the project: a real git repo with real DVC and real MLflow on sqlite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COPY = ("conf", "src", "pipelines", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore")


def project_env(project: Path) -> dict[str, str]:
    """Environment for subprocesses: the venv's python first on PATH, MLflow pointed at nothing
    but the project's default (a sqlite file at its root)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and not k.startswith("DVC_")}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true", DVC_NO_ANALYTICS="1", PYTHONUNBUFFERED="1",
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return env


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=project_env(cwd), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def make_project(dest: Path, template_db: Path) -> Path:
    """Copy the project into ``dest`` as a fresh git + DVC repo with a local remote."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy2(src, dest / name)
    run(["git", "init", "-q", "-b", "main"], dest)
    run([sys.executable, "-m", "dvc", "init", "-q"], dest)
    run([sys.executable, "-m", "dvc", "config", "core.analytics", "false"], dest)
    run([sys.executable, "-m", "dvc", "config", "hydra.enabled", "true"], dest)
    run([sys.executable, "-m", "dvc", "remote", "add", "-d", "local", str(dest.parent / "dvcstore")], dest)
    shutil.copy(template_db, dest / "mlflow.db")  # skip ~7 s of migrations
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project"], dest)
    return dest
