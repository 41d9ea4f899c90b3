"""Stage shells: compose the config, build the stage context once, call ``run_<stage>(ctx, cfg)``.

Entry points in ``pipelines/`` are one line each and errors become exit codes only here;
tests call :func:`run_configured` (or ``run_<stage>`` with a context) directly. Before MLflow
is imported, :mod:`driftloop.stages.model_hints` guesses from the input files whether the stage
will load or save a model, so that its model tools are imported first.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
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
    from driftloop.cycle_run import forget_parent, record_failure
    from driftloop.errors import DriftloopError
    from driftloop.stages.model_hints import import_model_tools, loads_models
    from driftloop.tracking import unreachable_as_registry_error

    if loads_models(name, workspace(), cfg):
        import_model_tools()
    module = importlib.import_module(f"driftloop.stages.{name}")
    forget_parent()
    experiment_id = None
    try:
        with unreachable_as_registry_error():  # a tracking server down past the retries: exit 5
            ctx = build_context(name, cfg)
            experiment_id = ctx.experiment_id
            result: dict[str, Any] = getattr(module, f"run_{name}")(ctx, cfg)
            if name == STAGES[-1]:  # the cycle is decided: its parent run tells the story, FINISHED
                from driftloop.stages.conclude import conclude_cycle

                conclude_cycle(ctx, cfg, result)
            return result
    except (DriftloopError, OSError) as exc:
        record_failure(name, exc, experiment_id)  # the parent run FAILED, with the error as a tag
        raise


def run_stage(name: str, argv: Sequence[str] = ()) -> int:
    """Run stage ``name`` with Hydra overrides ``argv``; return a process exit code.

    Deliberate errors (:class:`driftloop.errors.DriftloopError`) print one clear line
    on stderr, credentials masked (:func:`driftloop.redact.redact`), and exit with the
    error's code. An ``OSError`` of the file system (full disk, read-only folder) becomes a
    :class:`driftloop.errors.StorageError` naming the path (:func:`driftloop.local_faults.storage_error`);
    anything else is a bug and keeps its traceback.
    """
    from driftloop.config import load_stage_config, workspace
    from driftloop.console import print_error, progress_on_terminal
    from driftloop.errors import DriftloopError
    from driftloop.local_faults import storage_error
    from driftloop.redact import redact

    if name not in STAGES:
        print(f"driftloop: unknown stage {name!r}; expected one of {', '.join(STAGES)}.", file=sys.stderr)
        return 2
    try:
        with progress_on_terminal():  # bars on a terminal only: never in logs, CI or captured output
            result = run_configured(name, load_stage_config(argv))
    except DriftloopError as exc:
        print_error(exc, f"driftloop {name}")  # red on a terminal, plain in logs; credentials masked
        return exc.exit_code
    except OSError as exc:
        named = storage_error(exc)
        if named is None:
            raise
        print_error(named, f"driftloop {name}")
        return named.exit_code
    from driftloop.stages.outcome import outcome_line

    # What the stage found, so that `dvc repro` tells the cycle's outcome (its files are written).
    print(redact(f"driftloop {name}: {outcome_line(name, result, workspace())}"), flush=True)
    return 0
