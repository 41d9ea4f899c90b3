"""A partitioned source split into the snapshot's windows, one task per partition.

The snapshot of a batch folder reads every row into one frame and selects the windows there
(:func:`driftloop.windows.select_windows`). A partitioned source is never read whole: the window
bounds are found from the source's time range (:func:`window_bounds`, the same rules as
``select_windows``), then each partition is read in chunks, coerced and checked as a batch is
(:func:`driftloop.batches.coerce`, :func:`~driftloop.batches.check_classes`), and its rows of each
window written to a file of their own (``<window>/part-<partition index>.parquet``). Only the tallies
(rows and time range per window) travel and merge. Rows whose id a later partition gives again are
left out of every window and tally (``leave_out``, found by
:func:`driftloop.engine.validation.check_partitioned`), as a later batch's row replaces an earlier one.

The tasks write where they run, so the window directories must be on storage every worker can
write: this machine for a LocalCluster; a shared filesystem for a remote cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions

#: Where every row of the source goes (select_windows' ``Windows``): the first two are written.
WINDOWS = ("reference", "current", "skipped", "late", "older")


@dataclass(frozen=True)
class WindowBounds:
    """The time rules that put a row in a window (``select_windows``' rules, as bounds).

    Attributes
    ----------
    newer_than : pandas.Timestamp
        Rows after it (``strict``) or from it on (not ``strict``) are newer than the reference.
    strict : bool
        True with a champion (newer: after the reference's last row); False on a first cycle
        (newer: from the first day after the initial reference's whole days).
    current_start : pandas.Timestamp or None
        Newer rows from it on are current, the others skipped; None: every newer row is current.
    reference_start : pandas.Timestamp or None
        The champion's reference's first row: older rows not in it by id are late from here on,
        older before it. None on a first cycle (every older row is the reference).
    """

    newer_than: Any
    strict: bool
    current_start: Any = None
    reference_start: Any = None


def window_bounds(
    start: Any,
    end: Any,
    *,
    initial_reference_days: float,
    current_max_days: float | None,
    reference_range: tuple[Any, Any] | None = None,
) -> WindowBounds:
    """The bounds :func:`driftloop.windows.select_windows` would use on a source whose event times
    run from ``start`` to ``end``; ``reference_range``: the champion's reference's first and last
    event times (None on a first cycle).

    Raises
    ------
    DataError
        No row is newer than the reference (as ``select_windows``).

    Examples
    --------
    >>> import pandas as pd
    >>> b = window_bounds(pd.Timestamp("2026-01-01"), pd.Timestamp("2026-03-01 12:00"),
    ...                   initial_reference_days=21, current_max_days=28)
    >>> str(b.newer_than), b.strict, str(b.current_start)
    ('2026-01-22 00:00:00', False, '2026-02-02 00:00:00')
    """
    import pandas as pd

    from driftloop.errors import DataError

    if reference_range is None:
        newer_than, strict, ref_start = start.normalize() + pd.Timedelta(days=initial_reference_days), False, None
        has_newer = end >= newer_than
    else:
        ref_start, newer_than = reference_range
        strict, has_newer = True, end > newer_than
    if not has_newer:
        raise DataError(
            f"no data newer than the reference (which ends before {newer_than}); add partitions to "
            "data.source.path and rerun."
        )
    current_start = None
    if current_max_days is not None:
        current_start = end.normalize() + pd.Timedelta(days=1) - pd.Timedelta(days=current_max_days)
    return WindowBounds(newer_than, strict, current_start, ref_start)


def _range(frame: Any, ts: str) -> dict[str, Any]:
    n = len(frame)
    return {"rows": n, "start": frame[ts].min() if n else None, "end": frame[ts].max() if n else None}


def _merge_range(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    starts = [t for t in (a["start"], b["start"]) if t is not None]
    ends = [t for t in (a["end"], b["end"]) if t is not None]
    return {"rows": a["rows"] + b["rows"], "start": min(starts, default=None), "end": max(ends, default=None)}


def merge_tallies(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The merge of :func:`split_partition`'s tallies: rows summed, time ranges widened, the first
    partition's dtypes kept (every partition is coerced to the same ones)."""
    out = {w: _merge_range(a[w], b[w]) for w in WINDOWS}
    out["late_unlabelled"] = a["late_unlabelled"] + b["late_unlabelled"]
    out["dtypes"] = a["dtypes"] or b["dtypes"]
    return out


def _empty_tally() -> dict[str, Any]:
    return {
        **{w: {"rows": 0, "start": None, "end": None} for w in WINDOWS},
        "late_unlabelled": 0,
        "dtypes": {},
    }


def split_partition(
    partition: Any,
    schema: Any,
    bounds: WindowBounds,
    out: Mapping[str, str],
    reference_ids: Any = None,
    chunk_size: int = 200_000,
    leave_out: Mapping[int, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The map of the split: one partition, chunk by chunk, coerced and checked as a batch; its rows
    of each window in ``out`` (window -> directory) appended to ``<dir>/part-<index>.parquet``.

    ``reference_ids``: the champion's reference's ids (older rows among them are in the reference;
    it is written whole by the snapshot, not here). ``leave_out``: partition index -> ids whose rows
    in that partition a later partition replaces (:func:`driftloop.engine.validation.check_partitioned`):
    in no window and no tally, as a replaced batch row is in none. Returns the partition's tally
    (rows and time range of every window of :data:`WINDOWS`, late rows without a label, the coerced dtypes).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from driftloop.batches import check_classes, coerce
    from driftloop.drift.chunks import iter_partition_chunks
    from driftloop.schema import labelled_mask

    ts = schema.timestamp
    dropped = (leave_out or {}).get(partition.index)
    replaced = None if not dropped else pa.array(list(dropped), type=pa.string())
    columns = list(dict.fromkeys([schema.id, ts, *schema.features, *filter(None, [schema.label])]))
    tally = _empty_tally()
    writers: dict[str, Any] = {}
    first = 1
    try:
        for chunk in iter_partition_chunks(partition, columns, chunk_size):
            where = f"{partition.path} (rows {first}-{first + len(chunk) - 1}; rows below count within them)"
            first += len(chunk)
            frame = coerce(chunk.reset_index(drop=True), schema, where)
            check_classes(frame, schema, where)
            tally["dtypes"] = tally["dtypes"] or {c: str(frame[c].dtype) for c in schema.required}
            if replaced is not None:  # in Arrow (driftloop.ids.member_of's way; that module is not imported here)
                ids = pa.array(frame[schema.id])
                gone = pc.is_in(ids, value_set=replaced.cast(ids.type)).to_numpy(zero_copy_only=False)
                frame = frame[~gone].reset_index(drop=True)
            t = frame[ts]
            newer = (t > bounds.newer_than) if bounds.strict else (t >= bounds.newer_than)
            current = newer & (t >= bounds.current_start) if bounds.current_start is not None else newer
            older = ~newer
            if reference_ids is None:
                in_reference, late = older, older & False
            else:
                in_reference = older & frame[schema.id].isin(reference_ids)
                late = older & ~in_reference & (t >= bounds.reference_start)
            masks = {
                "reference": in_reference,
                "current": current,
                "skipped": newer & ~current,
                "late": late,
                "older": older & ~in_reference & ~late,
            }
            part: dict[str, Any] = {w: _range(frame[m.to_numpy()], ts) for w, m in masks.items()}
            if schema.label is not None and part["late"]["rows"]:
                late_rows = frame[masks["late"].to_numpy()]
                part["late_unlabelled"] = int((~labelled_mask(late_rows, schema)).sum())
            tally = merge_tallies(tally, {**_empty_tally(), **part})
            for window, folder in out.items():
                rows = frame[masks[window].to_numpy()]
                if not len(rows):
                    continue
                if window not in writers:
                    table = pa.Table.from_pandas(rows, preserve_index=False)
                    path = Path(folder) / f"part-{partition.index:05d}.parquet"
                    writers[window] = pq.ParquetWriter(path, table.schema)
                else:
                    table = pa.Table.from_pandas(rows, schema=writers[window].schema, preserve_index=False)
                writers[window].write_table(table)
    finally:
        for writer in writers.values():
            writer.close()
    return tally


def split_partitioned(
    source: str | Path,
    schema: Any,
    bounds: WindowBounds,
    out: Mapping[str, str | Path],
    engine: Engine | None = None,
    reference_ids: Any = None,
    chunk_size: int = 200_000,
    leave_out: Mapping[int, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Split every partition of ``source`` into the windows (:func:`split_partition`, one task per
    partition on ``engine``) and merge the tallies in partition order.

    ``leave_out``: partition index -> the ids of its rows a later partition replaces
    (:attr:`driftloop.engine.validation.CheckedSource.leave_out`), sent to every worker once.

    Returns
    -------
    dict
        ``{<window>: {rows, start, end}}`` for every window of :data:`WINDOWS` (timestamps as
        pandas Timestamps or None), ``late_unlabelled`` and ``dtypes``.

    Raises
    ------
    DataError
        A partition's first invalid chunk (naming its file and rows), as the snapshot of a batch.
    """
    return map_merge(
        partitions(source),
        split_partition,
        merge_tallies,
        engine,
        shared={
            "schema": schema,
            "bounds": bounds,
            "out": {w: str(p) for w, p in out.items()},
            "reference_ids": reference_ids,
            "chunk_size": chunk_size,
            "leave_out": dict(leave_out or {}),
        },
        name="driftloop-snapshot-split",
    )
