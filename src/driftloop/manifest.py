"""The snapshot manifest (``data/snapshot/manifest.json``): what a cycle started from.

It names the cycle's parent MLflow run, the champion the cycle compares against, the
incoming batches, both windows with their DVC md5s, and the rows no window holds. Later
stages read it through :class:`driftloop.context.StageContext`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.batches import table_fingerprint, window_summary
from driftloop.contracts import ChampionEntry, Manifest
from driftloop.schema import Schema
from driftloop.windows import Windows, row_accounting


def build_manifest(
    windows: Windows,
    schema: Schema,
    *,
    cycle_run_id: str,
    champion: ChampionEntry | None,
    lineage: Mapping[str, Any],
    source_path: str,
    batches: Sequence[Path],
    source_rows: int,
    current_max_days: float | None,
    reference_md5: str,
    current_md5: str,
    new_registry: Mapping[str, Any] | None = None,
) -> Manifest:
    """The manifest of one snapshot.

    Parameters
    ----------
    windows : Windows
    schema : Schema
    cycle_run_id : str
        The cycle's parent MLflow run.
    champion : ChampionEntry or None
        :func:`driftloop.champion.champion_record` of the serving champion: compare and promote
        load this version, so that a rerun after this cycle's own promotion does not compare the
        challenger with itself.
    lineage : mapping
        The champion's lineage record (empty on a first cycle).
    source_path, batches, source_rows
        The incoming folder (as configured), its batch files and their rows.
    current_max_days : float or None
    reference_md5, current_md5 : str
        DVC md5s of the written windows.
    new_registry : mapping, optional
        The acknowledgement that let this cycle start a new registry on purpose
        (:func:`driftloop.promote.lost_registry.verify_registry`).

    Returns
    -------
    Manifest
    """
    accounting = row_accounting(windows, schema, current_max_days)
    return Manifest(
        cycle_run_id=cycle_run_id,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        champion=champion,
        source={
            "path": source_path,
            "batches": [p.name for p in batches],
            "rows": int(source_rows),
            "rows_by_window": accounting["rows"],
        },
        schema={"columns": {c: str(windows.current[c].dtype) for c in schema.required}, **schema.kinds},
        reference={
            **window_summary(windows.reference, schema),
            "source": windows.reference_source,
            "md5": reference_md5,
            "champion": dict(lineage) or None,
        },
        current={**window_summary(windows.current, schema), "md5": current_md5},
        skipped=accounting["skipped"],
        late=accounting["late"],
        new_registry=None if new_registry is None else dict(new_registry),
    )


def snapshot_metrics(manifest: Manifest) -> dict[str, int]:
    """Row counts logged on the snapshot run (``snapshot.<window>.rows``)."""
    return {
        f"snapshot.{name}.rows": manifest.rows(name) for name in ("reference", "current", "source", "skipped", "late")
    }


def log_snapshot(windows: Windows, schema: Schema, manifest: Manifest, workspace: Path) -> None:
    """On the active (snapshot) run: both windows as dataset inputs (digest and source file), their
    DVC md5s and fingerprints as tags, the row counts, and the manifest itself; the md5s on the
    cycle's parent run too, so that the cycle names the data it ran on."""
    from driftloop.tags import TAG_REFERENCE_SOURCE, window_fingerprint_tag, window_md5_tag
    from driftloop.tracking import annotate_cycle, log_dataset, log_dict, log_metrics, set_tags

    tags = {TAG_REFERENCE_SOURCE: windows.reference_source}
    md5s = {}
    for name, frame, path in (
        ("reference", windows.reference, paths.REFERENCE),
        ("current", windows.current, paths.CURRENT),
    ):
        log_dataset(
            frame,
            source=(workspace / path).resolve().as_uri(),
            name=f"{name}-window",
            targets=schema.label,
            context=name,
        )
        md5s[window_md5_tag(name)] = manifest.md5(name)
        tags[window_fingerprint_tag(name)] = table_fingerprint(frame)
    set_tags({**tags, **md5s})  # one call: each costs a round trip to the store
    log_metrics(snapshot_metrics(manifest))
    log_dict(manifest.to_dict(), "snapshot/manifest.json")
    annotate_cycle(manifest.cycle_run_id, tags={k: str(v) for k, v in md5s.items()})
