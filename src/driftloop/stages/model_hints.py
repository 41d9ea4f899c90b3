"""Whether a stage run will load or save a model, guessed from its input files before MLflow is imported.

At import, skops builds its trusted-type lists by looking each numpy and scipy ufunc up in every
loaded module (``skops.io._utils.whichmodule``). Before MLflow's ~2,000 modules are loaded that
scan is cheap; after them it took 2-3 s of a stage on 2 cores (``bench/bench_cycle.py
--fixed-only``). So :func:`driftloop.stages.run_configured` asks :func:`loads_models` first and,
when it says yes, imports skops (and with it scikit-learn) before building the stage context.

A hint decides nothing: a wrong ``True`` costs a needless scikit-learn import, a wrong ``False``
the slower import order. The stages read their inputs through their contracts and name what is
wrong with them; here a missing or unreadable file is simply "no".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.errors import DriftloopError


def peek_json(path: Path) -> Any:
    """The JSON at ``path``, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _drift(ws: Path, cfg: Mapping[str, Any]) -> bool:
    """The manifest names a champion and the task is classification: the drift stage compares the
    champion's outputs (:func:`driftloop.drift_files.champion_outputs`)."""
    from driftloop.schema import Schema

    manifest = peek_json(ws / paths.MANIFEST)
    task = Schema.from_config((cfg.get("data") or {}).get("schema") or {}).task
    return isinstance(manifest, dict) and bool(manifest.get("champion")) and task == "classification"


def _retrain(ws: Path, cfg: Mapping[str, Any]) -> bool:
    """The retrain stage will fit and save a challenger: a first cycle, ``train.trigger: always``, or
    drift.json fires the trigger. The rule of :func:`driftloop.train.trigger.skip_reason`, restated
    so that this module imports nothing the drift and compare stages do not
    (``tests/stages/test_loads_models.py`` holds the two to agree)."""
    from driftloop.contracts import DriftResult

    drift, manifest = peek_json(ws / paths.DRIFT_JSON), peek_json(ws / paths.MANIFEST)
    if not isinstance(drift, dict) or not isinstance(manifest, dict):
        return False
    verdict = DriftResult.from_dict(drift)
    trigger = (cfg.get("train") or {}).get("trigger", "on_drift")
    return not manifest.get("champion") or trigger != "on_drift" or verdict.drifted or verdict.concept_drifted


def _compare(ws: Path, cfg: Mapping[str, Any]) -> bool:
    """The retrain stage trained a challenger: compare loads it (and the champion)."""
    train = peek_json(ws / paths.TRAIN_JSON)
    return isinstance(train, dict) and train.get("trained") is True


_HINTS: dict[str, Callable[[Path, Mapping[str, Any]], bool]] = {
    "drift": _drift,
    "retrain": _retrain,
    "compare": _compare,
}


def loads_models(stage: str, ws: Path, cfg: Mapping[str, Any]) -> bool:
    """Whether this run of ``stage`` in workspace ``ws`` will load or save a model (a guess; see above)."""
    hint = _HINTS.get(stage)
    if hint is None:
        return False
    try:
        return hint(ws, cfg)
    except (DriftloopError, KeyError, TypeError, ValueError, AttributeError):
        return False


def import_model_tools() -> None:
    """Import skops, and with it scikit-learn, now: before MLflow (see the module's docstring)."""
    import skops.io  # noqa: F401
