"""A promoter process for the concurrency test (run as a script, not collected by pytest).

Usage: python racer.py <tracking_uri> <model_name> <lock_path> <model_uri> <run_id> <workdir> <tag>
[<expected_champion>|- [no-lease]]

Waits for ``<workdir>/go`` (so that both racers start together after their slow
imports), promotes with a deliberate 1 s pause inside the critical section, and
writes ``<workdir>/<tag>.json`` with the [start, end] of that section. Each racer takes its own
``<lock_path>``: two lock files stand for two hosts. With ``<expected_champion>`` the promotion
checks that the champion is still that version (``-``: no check); a driftloop error is written to
the json (``error``, ``message``) and is the exit code. ``no-lease`` turns the registry-wide
promotion lease off (the negative control: what the file lock alone leaves open).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

import driftloop.promote.promotion as promotion_module
from driftloop.errors import DriftloopError
from driftloop.promote.gates import Decision, Gate
from driftloop.promote.promotion import promote
from driftloop.promote.registry import ChampionRegistry

PAUSE_S = 1.0


def main() -> None:
    uri, name, lock_path, model_uri, run_id, workdir, tag = sys.argv[1:8]
    expected = sys.argv[8] if len(sys.argv) > 8 and sys.argv[8] != "-" else None
    if "no-lease" in sys.argv[9:] and hasattr(promotion_module, "promotion_lease"):
        promotion_module.promotion_lease = lambda *a, **k: contextlib.nullcontext()  # type: ignore[attr-defined]
    work = Path(workdir)
    reg = ChampionRegistry(name, client=MlflowClient(tracking_uri=uri, registry_uri=uri))
    times: dict[str, float] = {}
    real_register, real_move = reg.register, reg.move_champion

    def register(*args, **kwargs):
        times["start"] = time.time()
        info = real_register(*args, **kwargs)
        time.sleep(PAUSE_S)  # widen the window in which an unlocked rival could interleave
        return info

    def move(*args, **kwargs):
        result = real_move(*args, **kwargs)
        times["end"] = time.time()
        return result

    reg.register, reg.move_champion = register, move
    decision = Decision(True, False, (Gate("test", True, f"racer {tag}"),), f"Promoted: racer {tag}.")
    (work / f"{tag}.ready").touch()
    deadline = time.monotonic() + 60
    while not (work / "go").exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"racer {tag}: no go signal within 60 s")
        time.sleep(0.01)
    check = {} if expected is None else {"expected_champion": expected}
    try:
        out = promote(
            reg, decision, model_uri, run_id, {}, None, lock_path, actor=f"racer-{tag}", lock_timeout_s=60, **check
        )
    except DriftloopError as exc:
        failed = {**times, "error": type(exc).__name__, "message": str(exc), "at": time.time()}
        (work / f"{tag}.json").write_text(json.dumps(failed))
        raise SystemExit(exc.exit_code) from None
    (work / f"{tag}.json").write_text(json.dumps({**times, "version": out.version, "from": out.previous_version}))


if __name__ == "__main__":
    main()
