"""Stage 1 — snapshot: turn the incoming batches into a reference and a current window.

The windows are :mod:`driftloop.windows`' (the reference is the champion's training data, found
through its lineage tags). Writes both windows, the manifest, the champion it was taken against
(:mod:`driftloop.promote.cycle_champion`) and the reference's drift summary (so later stages never
rescan the reference), starts the cycle's parent MLflow run, and logs both windows as dataset
inputs with their digests and sources.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.batches import check_classes, check_reviewed_ids, read_incoming, source_config
from driftloop.champion import champion_entry, champion_training_data
from driftloop.config import reject_unknown, section
from driftloop.context import StageContext
from driftloop.cycle_run import start_cycle
from driftloop.io import StagedOutputs, write_json, write_parquet
from driftloop.lineage import file_md5
from driftloop.manifest import build_manifest, log_snapshot
from driftloop.partitioned_snapshot import run_partitioned_snapshot
from driftloop.preflight import check_config, check_engine
from driftloop.promote.cycle_champion import write_cycle_champion
from driftloop.promote.lost_registry import verify_registry
from driftloop.tags import TAG_CYCLE_REFERENCE
from driftloop.tracking import stage_run
from driftloop.windows import check_not_future, late_batch_warnings, max_future_days, select_windows, windows_config


def run_snapshot(ctx: StageContext, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the snapshot stage; returns the manifest it wrote (as written)."""
    from driftloop.drift import DriftConfig, summarize_reference

    check_engine(cfg.get("engine"))  # a bad engine group fails before a batch is read, naming the key
    data_cfg = section(cfg, "data")
    reject_unknown(data_cfg, {"source", "schema", "windows"}, "data")
    source = source_config(data_cfg.get("source") or {})
    if source.get("format") == "partitioned":  # read per partition on the engine, never whole
        return run_partitioned_snapshot(ctx, cfg, source)
    initial_days, current_days = windows_config(data_cfg.get("windows") or {})
    drift_cfg = DriftConfig.from_dict(section(cfg, "drift"))
    schema, folder = ctx.schema, ctx.workspace / source["path"]
    incoming = read_incoming(folder, schema, str(source.get("format", "auto")))
    data, files = incoming.data, incoming.files
    check_classes(data, schema, where=str(folder))
    check_not_future(data, schema, files, incoming.source, max_future_days(data_cfg.get("windows") or {}))
    if source.get("reviewed_labels"):
        for problem in check_reviewed_ids(ctx.workspace / str(source["reviewed_labels"]), schema, data[schema.id]):
            warn(str(problem))  # one line each, the row left out: see driftloop.review.validate_reviews
    if len(incoming.corrected):
        by_file = incoming.corrected.groupby("replaced_in", sort=True)["id"]
        for later, ids in by_file:
            earlier = sorted({str(Path(f)) for f in incoming.corrected.loc[ids.index, "file"]})
            warn(
                f"batch {later} gives {len(ids)} id(s) again that {', '.join(earlier)} gave "
                f"(e.g. {list(ids.head(3))}): the later batch's rows replace the earlier ones."
            )
    # Refuse a config naming a column, metric or class this table lacks now, not after training.
    labelled = schema.task == "classification" and schema.label in data.columns
    check_config(cfg, schema, classes=data[schema.label].dropna().astype(str).unique() if labelled else ())

    name, alias = ctx.registry.model_name, ctx.registry.alias
    # A registry that does not know the champion the project's records name is refused here,
    # before anything is written, unless `driftloop new-registry` acknowledged it.
    new_registry = verify_registry(ctx.workspace, ctx.root, name, alias)
    champion_data, champion_label, lineage = champion_training_data(name, alias, schema, ctx.root)
    windows = select_windows(
        data,
        schema,
        initial_reference_days=initial_days,
        current_max_days=current_days,
        champion_reference=champion_data,
        champion_label=champion_label,
    )
    for line in late_batch_warnings(windows, data, schema, files, incoming.source):
        warn(line)
    with StagedOutputs() as staged:  # every output moves into place only if all of this succeeds
        write_parquet(reference_path := staged.path(ctx.path(paths.REFERENCE)), windows.reference)
        write_parquet(current_path := staged.path(ctx.path(paths.CURRENT)), windows.current)
        summary = summarize_reference(windows.reference[list(schema.features)], schema.kinds, drift_cfg)
        summary.save(staged.path(ctx.path(paths.REFERENCE_SUMMARY)))

        cycle_run_id = start_cycle(ctx.experiment_id, {TAG_CYCLE_REFERENCE: windows.reference_source}, cfg=cfg)
        manifest = build_manifest(
            windows,
            schema,
            cycle_run_id=cycle_run_id,
            lineage=lineage,
            champion=champion_entry(name, alias, lineage.get("version")),
            source_path=str(source["path"]),
            batches=files,
            source_rows=len(data),
            current_max_days=current_days,
            reference_md5=file_md5(reference_path),
            current_md5=file_md5(current_path),
            new_registry=new_registry,
        )
        write_json(staged.path(ctx.path(paths.MANIFEST)), manifest.to_dict())
        # What promote rewrites when it finds this cycle's decision stale (the next `dvc repro` reruns from here).
        write_cycle_champion(staged.path(ctx.path(paths.CYCLE_CHAMPION)), name, alias, lineage.get("version"))
        with stage_run("snapshot", cycle_run_id, params={"data": data_cfg}):
            log_snapshot(windows, schema, manifest, ctx.workspace)
    # the .npz has replaced it (and only now that every output is in place)
    ctx.path(paths.LEGACY_REFERENCE_SUMMARY).unlink(missing_ok=True)
    return manifest.to_dict()


def warn(message: str) -> None:
    print(f"driftloop snapshot: warning: {message}", file=sys.stderr)
