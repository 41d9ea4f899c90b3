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


def is_url(source: str | Path) -> bool:
    """An fsspec URL (``s3://``, ``gs://``, ...), not a local path (``file://`` counts as local)."""
    text = str(source)
    return "://" in text and not text.startswith("file://")


def is_partitioned(source: str | Path) -> bool:
    """A partitioned dataset (a directory of parquet files, or a URL of one) rather than one file.

    >>> import tempfile
    >>> is_partitioned(tempfile.mkdtemp()), is_partitioned("data/snapshot/nothing-here.parquet")
    (True, False)
    """
    return is_url(source) or Path(str(source)).is_dir()
