"""Snapshot validation per partition: every chunk checked by the snapshot's own ``coerce`` and
``check_classes``; the rows and the event-time range merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions

# --- snapshot validation per partition -------------------------------------------------------------


def _validate_partition(partition: Any, schema: Any, chunk_size: int) -> dict[str, Any]:
    """The map of partitioned validation: each chunk checked by the snapshot's own
    :func:`~driftloop.batches.coerce` and :func:`~driftloop.batches.check_classes`; what merges is the
    row count and the event-time range."""
    from driftloop.batches import check_classes, coerce
    from driftloop.drift.chunks import iter_partition_chunks

    columns = list(dict.fromkeys([schema.id, schema.timestamp, *schema.features, *filter(None, [schema.label])]))
    out: dict[str, Any] = {"rows": 0, "start": None, "end": None}
    for chunk in iter_partition_chunks(partition, columns, chunk_size):
        first = out["rows"] + 1
        where = f"{partition.path} (rows {first}-{first + len(chunk) - 1}; rows below count within them)"
        frame = coerce(chunk.reset_index(drop=True), schema, where)
        check_classes(frame, schema, where)
        out = _merge_validation(out, _time_range(frame, schema))
    return out


def _time_range(frame: Any, schema: Any) -> dict[str, Any]:
    ts = frame[schema.timestamp]
    return {"rows": len(frame), "start": ts.min() if len(frame) else None, "end": ts.max() if len(frame) else None}


def _merge_validation(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    starts = [t for t in (a["start"], b["start"]) if t is not None]
    ends = [t for t in (a["end"], b["end"]) if t is not None]
    return {
        "rows": a["rows"] + b["rows"],
        "start": min(starts) if starts else None,
        "end": max(ends) if ends else None,
    }


def validate_partitioned(
    source: str | Path, schema: Any, engine: Engine | None = None, chunk_size: int = 200_000
) -> dict[str, Any]:
    """Check every row of a partitioned window as the snapshot checks a batch (schema columns, ids,
    timestamps, numbers, classes), one task per partition; returns the window's rows and event-time
    range in :func:`~driftloop.batches.window_summary`'s shape.

    Not checked here: ids repeated across partitions (the snapshot keeps the later row per id; that
    needs every id in one place).

    Raises
    ------
    DataError
        The first invalid chunk's message (naming the file, the rows and what is wrong).
    """
    out = map_merge(
        partitions(source),
        _validate_partition,
        _merge_validation,
        engine,
        shared={"schema": schema, "chunk_size": chunk_size},
        name="driftloop-validate",
    )
    return {
        "rows": out["rows"],
        "start": out["start"].isoformat() if out["start"] is not None else None,
        "end": out["end"].isoformat() if out["end"] is not None else None,
    }
