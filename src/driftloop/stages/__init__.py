"""Stage shells: compose the config, call one ``run_<stage>(cfg)`` function, map errors to exit codes.

Entry points in ``pipelines/`` are one line each; tests call ``run_<stage>`` directly.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

STAGES = ("snapshot", "drift", "retrain", "compare", "promote")


def run_stage(name: str, argv: Sequence[str] = ()) -> int:
    """Run stage ``name`` with Hydra overrides ``argv``; return a process exit code.

    Deliberate errors (:class:`driftloop.errors.DriftloopError`) print one clear line
    on stderr and exit with the error's code; anything else is a bug and keeps its
    traceback.
    """
    from driftloop.config import load_stage_config
    from driftloop.errors import DriftloopError

    if name not in STAGES:
        print(f"driftloop: unknown stage {name!r}; expected one of {', '.join(STAGES)}.", file=sys.stderr)
        return 2
    try:
        cfg = load_stage_config(argv)
        module = importlib.import_module(f"driftloop.stages.{name}")
        getattr(module, f"run_{name}")(cfg)
    except DriftloopError as exc:
        print(f"driftloop {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
