"""Stage shells: compose the config, build the stage context once, call ``run_<stage>(ctx, cfg)``.

Entry points in ``pipelines/`` are one line each and errors become exit codes only here;
tests call :func:`run_configured` (or ``run_<stage>`` with a context) directly. A stage module
that may load or save a model also defines ``loads_models(workspace, cfg) -> bool``, a cheap
guess from its input files, so that its model tools are imported first
(:func:`import_model_tools`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

STAGES = ("snapshot", "drift", "retrain", "compare", "promote")


def run_configured(name: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Build the context of stage ``name`` from the composed ``cfg`` and run the stage.

    Returns
    -------
    dict
        What the stage wrote (the manifest, drift.json, train.json, compare.json or decision.json).
    """
    from driftloop.config import workspace
    from driftloop.context import build_context
    from driftloop.tracking import unreachable_as_registry_error

    module = importlib.import_module(f"driftloop.stages.{name}")
    loads_models = getattr(module, "loads_models", None)
    if loads_models is not None and loads_models(workspace(), cfg):
        import_model_tools()
    with unreachable_as_registry_error():  # a tracking server down past the retries: exit 5
        ctx = build_context(name, cfg)
        return getattr(module, f"run_{name}")(ctx, cfg)


def import_model_tools() -> None:
    """Import skops (and with it scikit-learn) before MLflow, in a stage that will load or save a model.

    At import, skops builds its trusted-type lists by looking each numpy and scipy ufunc up in
    every loaded module (``skops.io._utils.whichmodule``). Before MLflow's ~2,000 modules are
    loaded that scan is cheap; after them it took 2-3 s of a stage on 2 cores (measured with
    ``bench/bench_cycle.py --fixed-only``). The order changes nothing else: the same modules end
    up loaded.
    """
    import skops.io  # noqa: F401


def peek_json(path: Path) -> Any:
    """The JSON at ``path``, or None when it is missing or unreadable.

    For a stage's ``loads_models`` hint only, never for a decision: the stage itself reads its
    inputs through their contracts and names what is wrong with them.
    """
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_stage(name: str, argv: Sequence[str] = ()) -> int:
    """Run stage ``name`` with Hydra overrides ``argv``; return a process exit code.

    Deliberate errors (:class:`driftloop.errors.DriftloopError`) print one clear line
    on stderr, credentials masked (:func:`driftloop.redact.redact`), and exit with the
    error's code. An ``OSError`` of the file system (full disk, read-only folder) becomes a
    :class:`driftloop.errors.StorageError` naming the path (:func:`driftloop.local_faults.storage_error`);
    anything else is a bug and keeps its traceback.
    """
    from driftloop.config import load_stage_config
    from driftloop.errors import DriftloopError
    from driftloop.local_faults import storage_error
    from driftloop.redact import redact

    if name not in STAGES:
        print(f"driftloop: unknown stage {name!r}; expected one of {', '.join(STAGES)}.", file=sys.stderr)
        return 2
    try:
        run_configured(name, load_stage_config(argv))
    except DriftloopError as exc:
        print(redact(f"driftloop {name}: error: {exc}"), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        named = storage_error(exc)
        if named is None:
            raise
        print(redact(f"driftloop {name}: error: {named}"), file=sys.stderr)
        return named.exit_code
    return 0
