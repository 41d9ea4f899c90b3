"""A real Dask LocalCluster for the engine tests: two one-thread worker processes on 127.0.0.1,
started and closed by the test that asks for it (issue 17: never a mocked scheduler)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def local_client(settings: dict[str, Any] | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` of a new two-worker LocalCluster; ``settings``: Dask config in
    force while the cluster starts (its scheduler reads them then)."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set(settings or {}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
