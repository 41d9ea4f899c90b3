"""The one primitive of the engine, :func:`map_merge`, and the engine it runs on (:func:`open_engine`).

``local`` runs the map as a loop; ``dask`` runs it as one task per item (``client.map``) and folds the
results on the client as they arrive, still in item order. The map and merge functions are the same
in both, and so is the order of every merge, so the two give the same result to the last bit.
Dask is imported only when an engine of kind ``dask`` is opened.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from driftloop.engine.config import EngineConfig, EngineError
from driftloop.errors import ConfigError
from driftloop.redact import redact

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Engine:
    """An open engine: ``client`` is a ``distributed.Client`` for ``dask``, None for ``local``."""

    config: EngineConfig
    client: Any = None

    @property
    def kind(self) -> str:
        return self.config.kind


@contextmanager
def open_engine(cfg: EngineConfig | None = None, client: Any = None) -> Iterator[Engine]:
    """The engine ``cfg`` names, closed on exit (a LocalCluster it started is shut down).

    ``client``: an already connected ``distributed.Client`` to use as the ``dask`` engine (left open).

    Raises
    ------
    ConfigError
        ``dask`` without the dask extra installed.
    EngineError
        No scheduler answered at ``cfg.address`` within ``connect_timeout``.
    """
    cfg = cfg or EngineConfig()
    if client is not None:
        yield Engine(EngineConfig(**{**cfg.__dict__, "kind": "dask"}), client)
        return
    if cfg.kind == "local":
        yield Engine(cfg)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            f"engine.kind is dask but {exc.name or 'distributed'} is not installed: pip install 'driftloop[dask]'."
        ) from exc
    cluster = None
    try:
        if cfg.address is None:
            cluster = LocalCluster(
                n_workers=cfg.n_workers,
                threads_per_worker=cfg.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                memory_limit=cfg.memory_limit,
            )
            dask_client = Client(cluster, timeout=cfg.connect_timeout)
        else:
            dask_client = Client(cfg.address, timeout=cfg.connect_timeout)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = redact(cfg.address) if cfg.address else "a LocalCluster on 127.0.0.1"
        raise EngineError(f"engine.address: no Dask scheduler answered at {where}: {redact(str(exc))}") from exc
    # One line on stderr: where this stage's per-partition work runs (a scheduler address holds no secret).
    address = cluster.scheduler_address if cluster is not None else str(cfg.address)
    started = f"a LocalCluster of {cfg.n_workers} worker(s) started here" if cluster is not None else "connected"
    print(f"driftloop: engine dask at {redact(address)} ({started})", file=sys.stderr)
    try:
        yield Engine(cfg, dask_client)
    finally:
        dask_client.close()
        if cluster is not None:
            cluster.close()


def map_merge(
    items: Sequence[T],
    map_fn: Callable[..., R],
    merge_fn: Callable[[R, R], R],
    engine: Engine | None = None,
    shared: Mapping[str, Any] | None = None,
    name: str = "driftloop",
) -> R:
    """``merge_fn(...merge_fn(merge_fn(map_fn(items[0]), map_fn(items[1])), ...), map_fn(items[-1]))``.

    Parameters
    ----------
    items : sequence
        The partitions (small descriptions of them: they travel to the workers).
    map_fn : callable
        ``map_fn(item, **shared)``, run once per item: locally in a loop, or as one Dask task each
        (retried by Dask on another worker when its worker dies).
    merge_fn : callable
        ``merge_fn(left, right)``: ``right`` is the result of the next items; may update ``left``.
        Always run here, in item order, so the result does not depend on the engine or the timing.
    engine : Engine, optional
        From :func:`open_engine`; None runs locally.
    shared : mapping, optional
        Keyword arguments of every ``map_fn`` call; on Dask sent to every worker once (scattered).
    name : str
        Prefix of the Dask task keys (the dashboard shows it).

    Raises
    ------
    EngineError
        A task's worker died more often than the scheduler allows (``distributed.scheduler.allowed-failures``);
        the message names the item. An exception raised by ``map_fn`` itself (a DataError naming a
        file, say) is raised as it is, the other tasks cancelled.
    ValueError
        ``items`` is empty (there is nothing to merge).

    Examples
    --------
    >>> map_merge([1, 2, 3], lambda x, k: [x * k], lambda a, b: a + b, shared={"k": 10})
    [10, 20, 30]
    """
    if not items:
        raise ValueError("map_merge needs at least one item.")
    shared = dict(shared or {})
    if engine is None or engine.client is None:
        result = map_fn(items[0], **shared)
        for item in items[1:]:
            result = merge_fn(result, map_fn(item, **shared))
        return result
    return _dask_map_merge(engine.client, items, map_fn, merge_fn, shared, name)


def _dask_map_merge(
    client: Any,
    items: Sequence[Any],
    map_fn: Callable[..., Any],
    merge_fn: Callable[[Any, Any], Any],
    shared: Any,
    name: str,
) -> Any:
    from dask.base import tokenize
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    # one future per value (scatter would split a list into a future per element), on every worker
    scattered = {k: client.scatter([v], broadcast=True, hash=False)[0] for k, v in shared.items()}
    token = tokenize(name, len(items), object())  # fresh keys: a rerun never reuses an old result
    keys = [f"{name}-{i}-{token}" for i in range(len(items))]
    futures = client.map(map_fn, items, key=keys, pure=False, **scattered)
    position = {f.key: i for i, f in enumerate(futures)}
    pending: dict[int, Any] = {}
    result: Any = None
    done = 0
    try:
        for future in as_completed(futures):
            i = position[future.key]
            try:
                pending[i] = future.result()
            except KilledWorker as exc:
                worker = getattr(exc.last_worker, "address", exc.last_worker)
                raise EngineError(
                    f"Partition {i} ({items[i]!r}) failed: the worker holding its task died on each attempt "
                    "(more often than distributed.scheduler.allowed-failures allows). The cause is this "
                    "partition (memory, a crash in a library) or another task on the same worker; the "
                    f"workers' logs say which. Last worker: {worker}."
                ) from exc
            future.release()
            while done in pending:  # fold in item order, whatever order the tasks finish in
                part = pending.pop(done)
                result = part if done == 0 else merge_fn(result, part)
                done += 1
    finally:
        client.cancel([f for f in futures if not f.done()])
        for f in scattered.values():
            f.release()
    return result
