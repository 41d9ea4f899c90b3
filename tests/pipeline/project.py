"""Helpers for pipeline tests: a throwaway copy of this project (real git, DVC, MLflow)."""

from __future__ import annotations

from pathlib import Path

from driftloop.demo.scaffold import run as _run
from driftloop.demo.scaffold import scaffold

ROOT = Path(__file__).resolve().parents[2]


def run(cmd: list[str], cwd: Path, check: bool = True):
    return _run(cmd, cwd, check=check)


def make_project(dest: Path, template_db: Path) -> Path:
    return scaffold(ROOT, dest, remote=dest.parent / "dvcstore", mlflow_db=template_db)
