"""Snapshot validation per partition: every chunk checked by the snapshot's own ``coerce`` and
``check_classes``; the rows and the event-time range merged; ids given twice within a partition
refused, and ids given again by a later partition found (:func:`check_partitioned`) so that the
later row replaces the earlier one, as a later batch's does (:func:`driftloop.batches.read_incoming`).

The ids are never gathered whole. Each partition's task returns the 64-bit hashes of its ids (8 bytes
a row, pandas' SipHash with its fixed key: the same in every process); the hashes seen in more than one
partition are candidates, and a second map, over only the partitions holding one, returns the exact
ids of only those rows, so that a hash collision is resolved exactly (two ids sharing a hash are two
ids). A source with no repeated id pays for the hashes and nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions

# --- snapshot validation per partition -------------------------------------------------------------


def id_hashes(ids: pd.Series) -> np.ndarray:
    """The 64-bit hashes of coerced ids (:func:`driftloop.batches.level_names`' strings): pandas'
    ``hash_array`` of their text, whose SipHash key is fixed, so every worker process hashes an id
    alike. Equal ids have equal hashes; two ids may share one (rarely), which the callers resolve.

    Not categorized first: ids are mostly distinct, and factorizing them made the hash 10x slower
    (0.21 s against 0.02 s for 200,000 ids; the same hashes)."""
    return pd.util.hash_array(ids.to_numpy(dtype=object), categorize=False)


def _validate_partition(partition: Any, schema: Any, chunk_size: int, with_hashes: bool = False) -> dict[str, Any]:
    """The map of partitioned validation: each chunk checked by the snapshot's own
    :func:`~driftloop.batches.coerce` and :func:`~driftloop.batches.check_classes`, an id given twice
    refused (:func:`_refuse_repeats`); what merges is the row count and the event-time range, and in
    ``parts`` the partition's own (with ``with_hashes``, its ids' distinct hashes, sorted)."""
    from driftloop.batches import check_classes, coerce
    from driftloop.drift.chunks import iter_partition_chunks

    columns = list(dict.fromkeys([schema.id, schema.timestamp, *schema.features, *filter(None, [schema.label])]))
    out: dict[str, Any] = {"rows": 0, "start": None, "end": None}
    hashes = []
    for chunk in iter_partition_chunks(partition, columns, chunk_size):
        first = out["rows"] + 1
        where = f"{partition.path} (rows {first}-{first + len(chunk) - 1}; rows below count within them)"
        frame = coerce(chunk.reset_index(drop=True), schema, where)
        check_classes(frame, schema, where)
        out = _merge_range(out, _time_range(frame, schema))
        hashes.append(id_hashes(frame[schema.id]))
    distinct, counts = np.unique(np.concatenate(hashes) if hashes else np.empty(0, np.uint64), return_counts=True)
    if (counts > 1).any():
        _refuse_repeats(partition, schema, distinct[counts > 1], chunk_size)
    own = {"index": partition.index, **out, "hashes": distinct if with_hashes else None}
    return {**out, "parts": [own]}


def _refuse_repeats(partition: Any, schema: Any, hashes: np.ndarray, chunk_size: int) -> None:
    """An id given twice within one partition is refused, as within one batch: which row holds?
    ``hashes`` are those seen twice; only the rows holding one are read again, their exact ids
    compared (a shared hash of two different ids is no repeat)."""
    from driftloop.errors import DataError

    rows = _rows_with(partition, schema, hashes, chunk_size)["ids"]
    within = rows[rows["id"].duplicated(keep=False)]
    if not len(within):
        return
    first = within["id"].iloc[0]  # rows are in file order: the id of the first repeated row
    shown = within.loc[within["id"] == first, "row"].tolist()
    examples = ", ".join(repr(i) for i in within["id"].drop_duplicates().head(5))
    raise DataError(
        f"partition {partition.path}: id {first!r} is given {len(shown)} times (rows {', '.join(map(str, shown))}); "
        f"{within['id'].nunique()} id(s) repeat within this partition in all ({examples}). "
        f"Expected each {schema.id!r} once per partition (a later partition may give it again: its row "
        "replaces the earlier one)."
    )


def _rows_with(partition: Any, schema: Any, hashes: np.ndarray, chunk_size: int) -> dict[str, Any]:
    """The rows of one partition whose id hash is among ``hashes`` (sorted): their exact ids, 1-based
    row numbers in the file and event times (``ids``); and the row count and time range of its other
    rows (``rest``). Reads the id and time columns only, coerced as the snapshot coerces them."""
    from driftloop.batches import level_names
    from driftloop.drift.chunks import iter_partition_chunks

    found, rest, first = [], {"rows": 0, "start": None, "end": None}, 1
    for chunk in iter_partition_chunks(partition, [schema.id, schema.timestamp], chunk_size):
        # coerce's spelling of both columns (validated already: no value is refused here)
        times = pd.to_datetime(chunk[schema.timestamp], errors="coerce", utc=True)
        times = times.dt.tz_convert(None).astype("datetime64[us]")
        frame = pd.DataFrame({schema.id: level_names(chunk[schema.id]), schema.timestamp: times}).reset_index(drop=True)
        hit = _among(id_hashes(frame[schema.id]), hashes)
        rest = _merge_range(rest, _time_range(frame[~hit], schema))
        rows = frame[hit].reset_index(drop=True)
        found.append(
            pd.DataFrame({"id": rows[schema.id], "row": np.flatnonzero(hit) + first, "ts": rows[schema.timestamp]})
        )
        first += len(frame)
    none = pd.DataFrame(
        {"id": pd.Series(dtype="string"), "row": pd.Series(dtype="int64"), "ts": pd.Series(dtype="M8[us]")}
    )
    ids = pd.concat(found, ignore_index=True) if found else none
    return {"index": partition.index, "ids": ids, "rest": rest}


def _among(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set``: one binary search per value."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[at] == values, dtype=bool)


def _time_range(frame: Any, schema: Any) -> dict[str, Any]:
    return _span(frame[schema.timestamp])


def _span(ts: pd.Series) -> dict[str, Any]:
    n = len(ts)
    return {"rows": n, "start": ts.min() if n else None, "end": ts.max() if n else None}


def _merge_range(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    starts = [t for t in (a["start"], b["start"]) if t is not None]
    ends = [t for t in (a["end"], b["end"]) if t is not None]
    return {
        "rows": a["rows"] + b["rows"],
        "start": min(starts) if starts else None,
        "end": max(ends) if ends else None,
    }


def _merge_validation(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The merge of :func:`_validate_partition`: rows summed, time ranges widened, each partition's
    own record appended in partition order (``a``'s list is ours: extended in place)."""
    a["parts"].extend(b["parts"])
    return {**_merge_range(a, b), "parts": a["parts"]}


def _extend(a: list[Any], b: list[Any]) -> list[Any]:
    a.extend(b)
    return a


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def validate_partitioned(
    source: str | Path, schema: Any, engine: Engine | None = None, chunk_size: int = 200_000
) -> dict[str, Any]:
    """Check every row of a partitioned window as the snapshot checks a batch (schema columns, ids,
    timestamps, numbers, classes, an id given twice within one partition), one task per partition;
    returns the window's rows and event-time range in :func:`~driftloop.batches.window_summary`'s shape.

    Not checked here: ids repeated across partitions (:func:`check_partitioned` finds them).

    Raises
    ------
    DataError
        The first invalid chunk's message (naming the file, the rows and what is wrong), or an id
        given twice within one partition (naming the file, the id and its rows).
    """
    out = map_merge(
        partitions(source),
        _validate_partition,
        _merge_validation,
        engine,
        shared={"schema": schema, "chunk_size": chunk_size},
        name="driftloop-validate",
    )
    return {"rows": out["rows"], "start": _iso(out["start"]), "end": _iso(out["end"])}


# --- ids given again by a later partition ---------------------------------------------------------


@dataclass(frozen=True)
class CheckedSource:
    """A validated partitioned source, its ids given again by a later partition resolved as
    :func:`driftloop.batches.read_incoming` resolves a later batch's: the later row wins.

    Attributes
    ----------
    rows : int
        The rows every window holds between them: the source's rows less the replaced ones (the
        batch path's source rows, counted after the later batches' rows replaced the earlier).
    start, end : str or None
        The event-time range of those rows (ISO), the replaced rows' times left out.
    corrected : pandas.DataFrame
        One row per replaced row, as :attr:`driftloop.batches.Incoming.corrected`: ``id``, ``file``
        (the partition whose row is replaced), ``replaced_in`` (the last partition giving the id),
        sorted by id then partition.
    leave_out : dict
        Partition index -> the ids of its rows that a later partition replaces (left out of every
        window by :func:`driftloop.engine.split_partitioned`).
    given : int
        The rows of the source as read (``rows`` plus the replaced ones).
    """

    rows: int
    start: str | None
    end: str | None
    corrected: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype=object) for c in ("id", "file", "replaced_in")})
    )
    leave_out: dict[int, list[str]] = field(default_factory=dict)
    given: int = 0


def repeated_hashes(hashes: list[np.ndarray]) -> np.ndarray:
    """The hashes that more than one of ``hashes`` (each partition's distinct hashes) holds, sorted.

    One sort of every hash (8 bytes a row) rather than a merge per partition (each a pass over every
    hash seen so far: quadratic in the partitions)."""
    every = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
    every.sort()
    return np.unique(every[1:][every[1:] == every[:-1]])


def check_partitioned(
    source: str | Path, schema: Any, engine: Engine | None = None, chunk_size: int = 200_000
) -> CheckedSource:
    """:func:`validate_partitioned`, then the ids given again by a later partition (in the order
    :func:`driftloop.engine.partitions` lists them, as batch files in name order): their rows in the
    earlier partitions are left out, the later one kept.

    Three steps, each a :func:`~driftloop.engine.map_merge`: validation returns each partition's id
    hashes; the hashes more than one partition holds are found here; the partitions holding one return
    the exact ids, times and row numbers of those rows only, and the time range of their other rows,
    so that the range of the rows kept is exact without reading a partition a third time.

    Raises
    ------
    DataError
        As :func:`validate_partitioned`.
    """
    parts = partitions(source)
    out = map_merge(
        parts,
        _validate_partition,
        _merge_validation,
        engine,
        shared={"schema": schema, "chunk_size": chunk_size, "with_hashes": True},
        name="driftloop-validate",
    )
    own = out.pop("parts")
    candidates = repeated_hashes([p["hashes"] for p in own])
    if not len(candidates):
        return CheckedSource(out["rows"], _iso(out["start"]), _iso(out["end"]), given=out["rows"])
    by_index = {p.index: p for p in parts}
    holders = [by_index[p["index"]] for p in own if _among(p["hashes"], candidates).any()]
    for p in own:
        p["hashes"] = None  # 8 bytes a row of the source: not kept past here
    found = map_merge(
        holders,
        _candidate_rows,
        _extend,
        engine,
        shared={"schema": schema, "hashes": candidates, "chunk_size": chunk_size},
        name="driftloop-repeated-ids",
    )
    return _resolve(out["rows"], own, found, {p.index: p.path for p in parts})


def _candidate_rows(partition: Any, schema: Any, hashes: np.ndarray, chunk_size: int) -> list[dict[str, Any]]:
    """The map of the second step: :func:`_rows_with` of one partition, as a one-item list."""
    return [_rows_with(partition, schema, hashes, chunk_size)]


def _resolve(
    given: int, own: list[dict[str, Any]], found: list[dict[str, Any]], paths: dict[int, str]
) -> CheckedSource:
    """The exact ids given by more than one partition, the later one kept; the time range of the
    rows kept (each candidate partition's other rows and its candidate rows kept)."""
    rows = pd.concat([f["ids"].assign(partition=f["index"]) for f in found if len(f["ids"])], ignore_index=True).astype(
        {"id": "string"}
    )
    later = rows[rows["id"].duplicated(keep=False)].sort_values(["id", "partition"], kind="stable")
    replaced = later.duplicated("id", keep="last").to_numpy()
    last = later.groupby("id", sort=False)["partition"].transform("last").to_numpy()
    gone = later[replaced]
    corrected = pd.DataFrame(
        {
            "id": gone["id"].to_numpy(),
            "file": [paths[i] for i in gone["partition"]],
            "replaced_in": [paths[i] for i in last[replaced]],
        }
    )
    leave_out = {int(i): ids["id"].tolist() for i, ids in gone.groupby("partition", sort=True)}
    ranges = {p["index"]: {k: p[k] for k in ("rows", "start", "end")} for p in own}
    kept = rows.drop(index=gone.index).groupby("partition")["ts"]  # by position: no id compared again
    spans = {i: _span(ts) for i, ts in kept}
    for f in found:  # a candidate partition: its other rows, and its candidate rows that stay
        ranges[f["index"]] = _merge_range(f["rest"], spans.get(f["index"], _span(rows["ts"].iloc[:0])))
    total: dict[str, Any] = {"rows": 0, "start": None, "end": None}
    for i in sorted(ranges):
        total = _merge_range(total, ranges[i])
    return CheckedSource(total["rows"], _iso(total["start"]), _iso(total["end"]), corrected, leave_out, given)
