"""``data/snapshot/champion.json``: the champion a cycle's snapshot was taken against, as a DVC output.

The snapshot stage writes it (:func:`write_cycle_champion`) beside the manifest; ``dvc.yaml``
declares it an output of the snapshot stage (``cache: false``, ``persist: true``, committed like
the manifest). Nothing reads it: it exists so that promote can make DVC rerun the cycle.

When promote finds the decision stale (the champion moved since the snapshot: another cycle, in
this project or in another one sharing the registry, promoted first, or someone rolled back),
nothing is registered or moved, and :func:`rerun_against` rewrites this file to name the champion
that serves now. The snapshot stage's output then differs from ``dvc.lock``, so the next plain
``dvc repro`` reruns the snapshot (which takes the new champion, and its training data as the
reference) and every stage after it: the cycle is evaluated again against the new champion,
instead of failing on the same stale comparison at every rerun (snapshot to compare cached).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.io import write_json

if TYPE_CHECKING:
    from driftloop.promote.promotion import StaleDecision


def cycle_champion_record(model_name: str, alias: str, version: str | int | None) -> dict[str, Any]:
    """What the snapshot stage writes: the champion it resolved (``version`` None: a first cycle).

    Examples
    --------
    >>> cycle_champion_record("m", "champion", 2)
    {'model_name': 'm', 'alias': 'champion', 'version': '2', 'written_by': 'snapshot'}
    """
    return {
        "model_name": model_name,
        "alias": alias,
        "version": None if version is None else str(version),
        "written_by": "snapshot",
    }


def write_cycle_champion(path: Path, model_name: str, alias: str, version: str | int | None) -> None:
    """Write :func:`cycle_champion_record` to ``path`` (atomically)."""
    write_json(path, cycle_champion_record(model_name, alias, version))


def rerun_against(workspace: Path, root: Path, stale: StaleDecision) -> StaleDecision:
    """Make the next ``dvc repro`` rerun the cycle from the snapshot, against the champion serving now.

    Rewrites ``data/snapshot/champion.json`` in ``workspace`` (atomically) to name ``stale.serving``
    and say why; always different from what the snapshot wrote (``written_by``), so DVC sees the
    snapshot stage's output modified. A workspace without the file (written before it existed)
    gets it all the same: DVC then finds the declared output changed too.

    In a ``dvc exp run --temp`` (or queued) copy (``workspace`` is not the project ``root``) nothing
    is written: DVC discards the copy of a failed experiment, and the refusal keeps its advice.

    Returns
    -------
    StaleDecision
        The refusal to raise, saying what the next ``dvc repro`` does.
    """
    from driftloop import paths

    if workspace.resolve() != root.resolve():
        return stale.with_advice(stale.advice)
    record = {
        "model_name": stale.model_name,
        "alias": stale.alias,
        "version": stale.serving,
        "written_by": "promote",
        "stale_version": stale.expected,
        "reason": (
            f"promote found this cycle's decision stale: it was compared against version {stale.expected}, "
            f"and {stale.serving} serves now. The next `dvc repro` reruns the cycle from the snapshot."
        ),
    }
    write_json(workspace / paths.CYCLE_CHAMPION, record)
    against = f"version {stale.serving}" if stale.serving is not None else "no champion (the alias was removed)"
    return stale.with_advice(f"; the next `dvc repro` re-runs the cycle against {against}.")
