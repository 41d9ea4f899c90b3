"""Run stages in-process on a small real workspace: the demo's batches, the project's conf/,
MLflow on a sqlite file, DVC's cache for the champion's lineage, real scikit-learn models.

``run_<stage>(cfg)`` build the stage context from ``cfg`` as ``run_stage`` does (in the current
directory, the workspace) and call the stage's ``run_<stage>(ctx, cfg)``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.stages import STAGES, run_configured

ROOT = Path(__file__).resolve().parents[2]


def run_snapshot(cfg: dict) -> dict[str, Any]:
    return run_configured("snapshot", cfg)


def run_drift(cfg: dict) -> dict[str, Any]:
    return run_configured("drift", cfg)


def run_retrain(cfg: dict) -> dict[str, Any]:
    return run_configured("retrain", cfg)


def run_compare(cfg: dict) -> dict[str, Any]:
    return run_configured("compare", cfg)


def run_promote(cfg: dict) -> dict[str, Any]:
    return run_configured("promote", cfg)


def run_cycle(cfg: dict) -> dict[str, dict[str, Any]]:
    """Every stage in order; what each wrote, by stage."""
    return {name: run_configured(name, cfg) for name in STAGES}


def cache_training_data(ws: Path) -> None:
    """Put this cycle's training data into the workspace's DVC cache, as `dvc repro` would (the
    next snapshot finds the champion's training data there by its md5)."""
    from dvc.repo import Repo

    from driftloop.lineage import file_md5

    for path in (ws / paths.TRAINING, ws / paths.HOLDOUT):
        with Repo(str(ws)) as repo:
            cached = Path(repo.cache.local.oid_to_path(file_md5(path)))
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, cached)
