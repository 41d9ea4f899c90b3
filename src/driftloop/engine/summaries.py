"""Drift summaries per partition: the current window's (a map over partitions) and a partitioned
reference's (a map over columns: bins are order statistics of a whole column)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions


def summarize_partitioned(
    reference: Any, source: str | Path, cfg: Any, engine: Engine | None = None, columns: Sequence[str] | None = None
) -> Any:
    """The current-side drift summary (:class:`~driftloop.drift.summary.CurrentSummary`) of a
    partitioned parquet window, folded per partition on ``engine`` and merged in partition order.

    Parameters
    ----------
    reference : ReferenceSummary
    source : str or Path
        A directory of parquet files (hive-style partitions allowed), or an fsspec URL of one.
    cfg : DriftConfig
        ``chunk_size`` bounds the rows a task holds at once.
    engine : Engine, optional
        None: locally.
    columns : sequence of str, optional
        Default: the reference's columns that ``cfg`` does not skip.

    Returns
    -------
    CurrentSummary
        Pass it to :func:`~driftloop.drift.evaluate_drift` as ``current``.
    """
    from driftloop.drift.summary import merge_current, sampling, summarize_partition

    if columns is None:
        columns = [c for c in reference.columns if not (c in cfg.columns and cfg.columns[c].skip)]
    parts = partitions(source)
    _, max_rows = sampling(cfg)
    return map_merge(
        parts,
        summarize_partition,
        partial(merge_current, max_rows=max_rows),
        engine,
        shared={"reference": reference, "columns": list(columns), "cfg": cfg},
        name="driftloop-drift-summary",
    )


def _column_reference(
    item: tuple[str, str], partitions: Sequence[Any], cfg: Any, chunk_size: int
) -> dict[str, tuple[Any, str]]:
    """The map of a partitioned reference: one column, read from every partition, summarised by the
    same per-column step as :func:`~driftloop.drift.summarize_reference`."""
    import pandas as pd

    from driftloop.drift.chunks import iter_partition_chunks
    from driftloop.drift.summary import summarize_reference_column

    name, kind = item
    pieces = [chunk[name] for p in partitions for chunk in iter_partition_chunks(p, [name], chunk_size)]
    values = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
    return {name: summarize_reference_column(values, name, kind, cfg)}


def _partition_rows(partition: Any) -> list[int]:
    from driftloop.drift.chunks import partition_rows

    return [partition_rows(partition)]


def _sample_partition(item: tuple[Any, Any], columns: Sequence[str], chunk_size: int) -> list[Any]:
    """The reference sample's rows that fall in one partition (``item``: the partition and their
    positions in it, or None for all its rows)."""
    import pandas as pd

    from driftloop.drift.chunks import iter_partition_chunks

    partition, positions = item
    rows = pd.concat(list(iter_partition_chunks(partition, list(columns), chunk_size)), ignore_index=True)
    return [rows if positions is None else rows.iloc[positions]]


def _concat_lists(a: list[Any], b: list[Any]) -> list[Any]:
    return a + b


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {**a, **b}


def summarize_reference_partitioned(
    source: str | Path, kinds: Mapping[str, str], cfg: Any = None, engine: Engine | None = None
) -> Any:
    """The reference summary of a partitioned parquet dataset, equal to
    :func:`~driftloop.drift.summarize_reference` of the same rows read as one frame.

    Bins are order statistics of a whole column, so the map is over **columns**, not partitions:
    each task reads one column from every partition (that column of the reference is whole on its
    worker, the other columns never) and runs the same per-column step. The domain classifier's
    row sample takes the same positions, each partition giving its own rows; row counts come from
    the files' footers.

    Parameters
    ----------
    source : str or Path
        As :func:`summarize_partitioned`.
    kinds : mapping of column -> kind
    cfg : DriftConfig, optional
    engine : Engine, optional

    Returns
    -------
    ReferenceSummary
    """
    import numpy as np
    import pandas as pd

    from driftloop.drift.config import DriftConfig
    from driftloop.drift.summary import ReferenceSummary, reference_options, resolve_kinds, sample_positions

    cfg = cfg or DriftConfig()
    resolved = resolve_kinds(kinds, cfg)
    parts = partitions(source)
    chunk = cfg.chunk_size
    counts = map_merge(parts, _partition_rows, _concat_lists, engine, name="driftloop-reference-rows")
    n_rows = int(sum(counts))
    columns = map_merge(
        list(resolved.items()),
        _column_reference,
        _union,
        engine,
        shared={"partitions": parts, "cfg": cfg, "chunk_size": chunk},
        name="driftloop-reference-column",
    )
    final_kinds = {c: columns[c][1] for c in resolved}
    positions = sample_positions(n_rows, cfg.multivariate.max_rows, cfg.seed)
    starts = np.concatenate([[0], np.cumsum(counts)])
    items: list[tuple[Any, Any]] = []
    for i, p in enumerate(parts):
        if positions is None:
            items.append((p, None))
            continue
        inside = positions[(positions >= starts[i]) & (positions < starts[i + 1])] - starts[i]
        if inside.size:
            items.append((p, inside))
    pieces = (
        map_merge(
            items,
            _sample_partition,
            _concat_lists,
            engine,
            shared={"columns": list(final_kinds), "chunk_size": chunk},
            name="driftloop-reference-sample",
        )
        if items
        else []
    )
    sample = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=list(final_kinds))
    return ReferenceSummary(n_rows, final_kinds, {c: columns[c][0] for c in resolved}, sample, reference_options(cfg))
