"""The snapshot of a partitioned parquet source (``data.source.format: partitioned``), never read whole.

A batch folder is read into one frame and windowed there (:mod:`driftloop.stages.snapshot`). A
partitioned source (a directory of parquet files, hive-style ``key=value/`` folders allowed, or an
fsspec URL of one) is validated per partition on the configured engine
(:func:`driftloop.engine.validation.check_partitioned`), its ids resolved as a batch folder's are (an
id given twice within one partition is refused, naming the file, the id and its rows; an id given again
by a later partition, in the order :func:`driftloop.engine.partitions` lists them, replaces the earlier
row, which no window holds, and the snapshot warns one line per later partition naming a few of the
ids; the manifest's ``source.rows`` counts the rows after the replacement, as a batch folder's), its
window bounds found from the time range of the rows kept with
:mod:`driftloop.windows`' rules, and each partition's rows of each window written per partition
(:func:`driftloop.engine.split_partitioned`): ``data/snapshot/reference.parquet/`` and
``data/snapshot/current.parquet/`` are then **directories** of ``part-<index>.parquet`` files, the
same DVC outputs as a batch folder's single files. Keeping the window under ``data/`` (rather than
a pointer into the source) is what lets DVC version the rows a cycle ran on (the source may be
rewritten), the later stages find them where they always are (``pandas.read_parquet`` reads the
directory as a table), and the drift and compare stages read them per partition. The reference
summary is built per column on the engine (:func:`driftloop.engine.summarize_reference_partitioned`).

The ids are never gathered whole: each partition's task returns its ids' 64-bit hashes, those seen
in more than one partition are candidates, and only the candidate rows' exact ids come back
(:mod:`driftloop.engine.validation`), so a hash collision is resolved exactly.

Not done here, unlike the batch path: rows are in partition order (not sorted by time), the reviewed
labels' ids are not checked, and the windows' dataset inputs in MLflow carry their directory and DVC
md5 but no schema (a schema with honest ``required`` flags needs every row).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.contracts import Manifest
from driftloop.errors import DataError
from driftloop.lineage import file_md5


def dir_md5(folder: Path) -> str:
    """The md5 DVC records for a directory output: the md5 of its sorted file listing (relative
    path and md5 of every file, as JSON), with ``.dir`` appended (dvc_data's ``Tree.digest``)."""
    entries = sorted(
        ({"md5": file_md5(p), "relpath": p.relative_to(folder).as_posix()} for p in folder.rglob("*") if p.is_file()),
        key=lambda e: e["relpath"],
    )
    import hashlib

    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def source_location(path: str, workspace: Path) -> str | Path:
    """``data.source.path`` as the engine reads it: an fsspec URL as it is, else under the workspace."""
    from driftloop.engine.sources import is_url

    return path if is_url(path) else workspace / path


def partition_names(source: str | Path) -> list[str]:
    """The source's files, relative to it (the manifest's ``source.batches``)."""
    from driftloop.engine import partitions

    root = str(source).removeprefix("file://").rstrip("/") + "/"
    return [p.path.removeprefix(root) if p.path.startswith(root) else p.path for p in partitions(source)]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _summary(tally: Mapping[str, Any]) -> dict[str, Any]:
    return {"rows": int(tally["rows"]), "start": _iso(tally["start"]), "end": _iso(tally["end"])}


def window_accounting(
    tally: Mapping[str, Any], bounds: Any, reference_range: str, current_max_days: float | None
) -> dict[str, Any]:
    """The manifest's ``skipped``, ``late`` and ``rows_by_window`` of a split, worded as
    :func:`driftloop.windows.row_accounting` words them."""
    skipped = {**_summary(tally["skipped"]), "reason": None}
    if tally["skipped"]["rows"] and bounds.current_start is not None and current_max_days is not None:
        skipped["reason"] = (
            f"Newer than the reference (which ends {reference_range.split(' to ')[-1]}) but older than the current "
            f"window, which data.windows.current_max_days ({current_max_days:g}) starts at "
            f"{bounds.current_start.isoformat()}: not tested for drift and not in the training pool this cycle. "
            "Set current_max_days to null for a current window of every row newer than the reference."
        )
    late = {**_summary(tally["late"]), "unlabelled": None, "reason": None}
    if tally["late"]["rows"]:
        late["unlabelled"] = int(tally["late_unlabelled"])
        late["reason"] = (
            f"Dated inside the reference ({reference_range}) but not in it by id: late arrivals after the champion "
            "was trained, or rows its training left out (unlabelled ones). No cycle tests them: every current "
            "window starts after the reference ends."
        )
    rows = {w: int(tally[w]["rows"]) for w in ("reference", "current", "skipped", "late", "older")}
    return {"skipped": skipped, "late": late, "rows": rows}


def run_partitioned_snapshot(
    ctx: Any,
    cfg: Mapping[str, Any],
    source: Mapping[str, Any],
) -> dict[str, Any]:
    """The snapshot stage on a partitioned source (see the module docstring); returns the manifest.

    Raises
    ------
    DataError
        A partition's invalid rows (naming its file and rows), no row newer than the reference, an
        empty current window, or rows dated more than ``data.windows.max_future_days`` ahead.
    ConfigError
        The config does not fit the table (:func:`driftloop.preflight.check_config`), or the
        ``engine`` group is invalid.
    """
    import pandas as pd

    from driftloop.champion import champion_entry, champion_training_data
    from driftloop.cycle_run import start_cycle
    from driftloop.drift import DriftConfig, summarize_reference
    from driftloop.engine import (
        engine_config,
        open_engine,
        split_partitioned,
        summarize_reference_partitioned,
        window_bounds,
    )
    from driftloop.engine.validation import check_partitioned
    from driftloop.io import StagedOutputs, write_json, write_parquet
    from driftloop.preflight import check_config
    from driftloop.promote.cycle_champion import write_cycle_champion
    from driftloop.promote.lost_registry import verify_registry
    from driftloop.tags import TAG_CYCLE_REFERENCE
    from driftloop.tracking import stage_run
    from driftloop.windows import max_future_days, windows_config

    schema, data_cfg = ctx.schema, cfg.get("data") or {}
    initial_days, current_days = windows_config(data_cfg.get("windows") or {})
    future_days = max_future_days(data_cfg.get("windows") or {})
    drift_cfg = DriftConfig.from_dict(cfg.get("drift") or {})
    check_config(cfg, schema)  # the labels' classes are checked per partition
    where = source_location(str(source["path"]), ctx.workspace)
    name, alias = ctx.registry.model_name, ctx.registry.alias
    new_registry = verify_registry(ctx.workspace, ctx.root, name, alias)
    champion_data, champion_label, lineage = champion_training_data(name, alias, schema, ctx.root)
    ts = schema.timestamp
    with open_engine(engine_config(cfg)) as engine:
        checked = check_partitioned(where, schema, engine, chunk_size=drift_cfg.chunk_size)
        if not checked.rows:
            raise DataError(f"partitioned source {where} holds no rows (data.source.path).")
        for line in replacement_warnings(checked.corrected):
            warn(line)
        start, end = pd.Timestamp(str(checked.start)), pd.Timestamp(str(checked.end))  # set: it holds rows
        limit = pd.Timestamp.now(tz="UTC").tz_convert(None) + pd.Timedelta(days=future_days or 0)
        if future_days is not None and end > limit:
            raise DataError(
                f"partitioned source {where}: a row is dated {end.isoformat()} in column {ts!r}, after "
                f"{limit.isoformat()} (data.windows.max_future_days: {future_days:g})."
            )
        ref_range = None if champion_data is None else (champion_data[ts].min(), champion_data[ts].max())
        bounds = window_bounds(
            start, end, initial_reference_days=initial_days, current_max_days=current_days, reference_range=ref_range
        )
        with StagedOutputs() as staged:  # every output moves into place only if all of this succeeds
            reference_dir, current_dir = staged.path(ctx.path(paths.REFERENCE)), staged.path(ctx.path(paths.CURRENT))
            reference_dir.mkdir()
            current_dir.mkdir()
            out = (
                {"current": current_dir}
                if champion_data is not None
                else {"reference": reference_dir, "current": current_dir}
            )
            ids = None if champion_data is None else champion_data[schema.id]
            tally = split_partitioned(
                where, schema, bounds, out, engine, ids, chunk_size=drift_cfg.chunk_size, leave_out=checked.leave_out
            )
            if not tally["current"]["rows"]:
                raise DataError(
                    f"the current window is empty: data.windows.current_max_days ({current_days}) keeps no row of "
                    f"the {tally['skipped']['rows']} newer than the reference; raise it (at least 1 day)."
                )
            if champion_data is not None:  # the champion's training rows, whole: they are in memory already
                write_parquet(reference_dir / "part-00000.parquet", champion_data)
                summary = summarize_reference(champion_data[list(schema.features)], schema.kinds, drift_cfg)
                reference = {**_summary(_range_of(champion_data, ts)), "source": f"training data of {champion_label}"}
            else:
                summary = summarize_reference_partitioned(reference_dir, schema.kinds, drift_cfg, engine)
                reference = {
                    **_summary(tally["reference"]),
                    "source": f"initial window: the first {initial_days:g} days of data",
                }
            summary.save(staged.path(ctx.path(paths.REFERENCE_SUMMARY)))
            span = f"{reference['start']} to {reference['end']}"
            accounting = window_accounting(tally, bounds, span, current_days)
            cycle_run_id = start_cycle(ctx.experiment_id, {TAG_CYCLE_REFERENCE: reference["source"]}, cfg=cfg)
            manifest = Manifest(
                cycle_run_id=cycle_run_id,
                created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                champion=champion_entry(name, alias, lineage.get("version")),
                source={
                    "path": str(source["path"]),
                    "batches": partition_names(where),
                    "rows": int(checked.rows),  # as a batch folder's: after the later partitions' rows replaced
                    "rows_by_window": accounting["rows"],
                },
                schema={"columns": tally["dtypes"], **schema.kinds},
                reference={**reference, "md5": dir_md5(reference_dir), "champion": dict(lineage) or None},
                current={**_summary(tally["current"]), "md5": dir_md5(current_dir)},
                skipped=accounting["skipped"],
                late=accounting["late"],
                new_registry=None if new_registry is None else dict(new_registry),
            )
            write_json(staged.path(ctx.path(paths.MANIFEST)), manifest.to_dict())
            write_cycle_champion(staged.path(ctx.path(paths.CYCLE_CHAMPION)), name, alias, lineage.get("version"))
            with stage_run("snapshot", cycle_run_id, params={"data": data_cfg, "engine": cfg.get("engine") or {}}):
                log_partitioned_snapshot(manifest, reference["source"], ctx.workspace)
    ctx.path(paths.LEGACY_REFERENCE_SUMMARY).unlink(missing_ok=True)
    return manifest.to_dict()


def _range_of(frame: Any, ts: str) -> dict[str, Any]:
    n = len(frame)
    return {"rows": n, "start": frame[ts].min() if n else None, "end": frame[ts].max() if n else None}


def log_partitioned_snapshot(manifest: Manifest, reference_source: str, workspace: Path) -> None:
    """On the active (snapshot) run: both windows as dataset inputs known by their directory and DVC
    md5 (:func:`driftloop.tracking.log_dataset_reference`: the batch path's datasets carry MLflow's
    digest and schema of the frame, which would need the windows in memory), the md5s as tags (also
    on the cycle's run), the row counts and the manifest."""
    from driftloop.manifest import snapshot_metrics
    from driftloop.tags import TAG_REFERENCE_SOURCE, window_md5_tag
    from driftloop.tracking import annotate_cycle, log_dataset_reference, log_dict, log_metrics, set_tags

    md5s = {window_md5_tag(w): str(manifest.md5(w)) for w in ("reference", "current")}
    for name, path in (("reference", paths.REFERENCE), ("current", paths.CURRENT)):
        log_dataset_reference(
            source=(workspace / path).resolve().as_uri(),
            name=f"{name}-window",
            digest=str(manifest.md5(name)).removesuffix(".dir"),
            context=name,
        )
    set_tags({TAG_REFERENCE_SOURCE: reference_source, **md5s})
    log_metrics(snapshot_metrics(manifest))
    log_dict(manifest.to_dict(), "snapshot/manifest.json")
    annotate_cycle(manifest.cycle_run_id, tags=md5s)


def replacement_warnings(corrected: Any) -> list[str]:
    """One line per partition that gives ids again (``corrected``: ``id``, ``file``, ``replaced_in``,
    :attr:`driftloop.engine.validation.CheckedSource.corrected`), worded as the batch path's."""
    lines = []
    for later, ids in corrected.groupby("replaced_in", sort=True)["id"]:
        earlier = sorted({str(f) for f in corrected.loc[ids.index, "file"]})
        lines.append(
            f"partition {later} gives {len(ids)} id(s) again that {', '.join(earlier)} gave "
            f"(e.g. {list(ids.head(3))}): the later partition's rows replace the earlier ones."
        )
    return lines


def warn(message: str) -> None:
    print(f"driftloop snapshot: warning: {message}", file=sys.stderr)
