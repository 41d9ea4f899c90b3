"""Copy a driftloop project into a fresh git + DVC repository (tests, benchmarks, trials)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT_FILES = ("conf", "src", "pipelines", "data/reviewed", "dvc.yaml", "params.yaml", ".gitignore", ".dvcignore")

# This repository's .gitignore ends with a section for what `driftloop demo` writes into the repository
# itself (its dvc.lock and data folders). A scaffolded project commits those, so the section is cut.
REPO_ONLY_IGNORES = "# What `driftloop demo` writes in this repository"


def project_gitignore(text: str) -> str:
    """The repository's .gitignore without its repository-only section."""
    return text.split(REPO_ONLY_IGNORES, 1)[0]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for project subprocesses: this interpreter's bin first on PATH, no inherited
    MLFLOW_*/DVC_* settings (so the project's own defaults apply), analytics off, a git identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DVC_NO_ANALYTICS="1",
        PYTHONUNBUFFERED="1",
        GIT_AUTHOR_NAME="driftloop",
        GIT_AUTHOR_EMAIL="driftloop@example.invalid",
        GIT_COMMITTER_NAME="driftloop",
        GIT_COMMITTER_EMAIL="driftloop@example.invalid",
    )
    env.update(extra or {})
    return env


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run a command in ``cwd``; on failure raise with the tail of its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def scaffold(source: Path, dest: Path, *, remote: Path, mlflow_db: Path | None = None) -> Path:
    """Copy the project at ``source`` into ``dest`` as a new git repo with DVC (Hydra enabled) and a
    local default remote at ``remote``; optionally seed MLflow with an initialised sqlite DB."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    if (dest / ".gitignore").exists():
        (dest / ".gitignore").write_text(project_gitignore((dest / ".gitignore").read_text()))
    dvc = [sys.executable, "-m", "dvc"]
    run(["git", "init", "-q", "-b", "main"], dest)
    run([*dvc, "init", "-q"], dest)
    run([*dvc, "config", "core.analytics", "false"], dest)
    run([*dvc, "config", "hydra.enabled", "true"], dest)
    run([*dvc, "remote", "add", "-d", "local", str(remote)], dest)
    if mlflow_db is not None:
        shutil.copy(mlflow_db, dest / "mlflow.db")  # an initialised DB skips ~7 s of migrations
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "driftloop project"], dest)
    return dest
