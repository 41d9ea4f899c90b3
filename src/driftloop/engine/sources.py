"""Partitioned parquet sources: a directory of parquet files, hive-style ``key=value/`` folders, or an
fsspec URL of one, listed as partitions (one per file) that a task reads where it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def partitions(source: str | Path) -> list[Any]:
    """The partitions of ``source`` (:func:`driftloop.drift.chunks.dataset_partitions`, imported when
    called: the stages that import this package do not load the drift package for it).

    Raises
    ------
    DataError
        The source does not exist, holds no parquet file, or cannot be listed.
    """
    from driftloop.drift.chunks import dataset_partitions

    return dataset_partitions(source)
