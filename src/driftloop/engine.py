"""Where per-partition work runs: in this process (``engine.kind: local``) or on Dask (``dask``).

The one primitive is :func:`map_merge`: a function mapped over partitions, its results folded
left to right, in partition order, by a merge function. ``local`` runs the map as a loop; ``dask``
runs it as one task per partition (``client.map``) and folds the results on the client as they
arrive, still in partition order. The map and merge functions are the same in both, and so is the
order of every merge, so the two give the same result to the last bit: nothing is forked beyond
the map and the merge.

:func:`summarize_partitioned` uses it for a partitioned current window's drift summaries: each
partition is read and folded where its task runs (:func:`driftloop.drift.summary.summarize_partition`,
the chunked path's own functions) and only the summaries (counts, sums, bounded samples) travel.

Dask is an optional dependency (``pip install 'driftloop[dask]'``), imported only when an engine
of kind ``dask`` is opened: the stages that import this module do not pay for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from driftloop.errors import ConfigError, DataError, DriftloopError
from driftloop.redact import redact, refuse_credentials
from driftloop.validation import Key, check

T = TypeVar("T")
R = TypeVar("R")

#: The ``engine`` group (conf/engine/).
TABLE: dict[str, Key] = {
    "kind": Key(
        "choice", "local", choices=("local", "dask"), doc="where per-partition work runs: this process or Dask"
    ),
    "address": Key(
        "str",
        None,
        nullable=True,
        doc="Dask scheduler address (tcp://host:8786); null starts a LocalCluster on this machine. No credentials",
    ),
    "n_workers": Key("integer", 2, low=1, doc="worker processes of the LocalCluster started when address is null"),
    "threads_per_worker": Key("integer", 1, low=1, doc="threads per worker of that LocalCluster"),
    "memory_limit": Key("str", "auto", doc="memory limit per worker of that LocalCluster ('auto', '2GiB', ...)"),
    "connect_timeout": Key("number", 30.0, low=0.0, low_open=True, doc="seconds to wait for the scheduler"),
}


class EngineError(DriftloopError):
    """The engine could not run the work: no scheduler at the address, or a partition's task failed
    for a reason outside driftloop (its worker died too often). The message names the partition."""


@dataclass(frozen=True)
class EngineConfig:
    """The ``engine`` config group (defaults: :data:`TABLE`).

    Examples
    --------
    >>> EngineConfig.from_dict({"kind": "dask", "address": "tcp://10.0.0.5:8786"}).address
    'tcp://10.0.0.5:8786'
    >>> EngineConfig.from_dict({"kind": "spark"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: engine.kind must be one of ...
    """

    kind: str = TABLE["kind"].default
    address: str | None = TABLE["address"].default
    n_workers: int = TABLE["n_workers"].default
    threads_per_worker: int = TABLE["threads_per_worker"].default
    memory_limit: str = TABLE["memory_limit"].default
    connect_timeout: float = TABLE["connect_timeout"].default

    @classmethod
    def from_dict(cls, m: Any, where: str = "engine") -> EngineConfig:
        """Validate ``m`` against :data:`TABLE`; an address with credentials is refused (ConfigError)."""
        values = check(m if m is not None else {}, TABLE, where)
        refuse_credentials(values["address"], f"{where}.address")
        return cls(**values)


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
    from driftloop.drift.chunks import dataset_partitions
    from driftloop.drift.summary import merge_current, sampling, summarize_partition

    if columns is None:
        columns = [c for c in reference.columns if not (c in cfg.columns and cfg.columns[c].skip)]
    parts = dataset_partitions(source)
    _, max_rows = sampling(cfg)
    return map_merge(
        parts,
        summarize_partition,
        partial(merge_current, max_rows=max_rows),
        engine,
        shared={"reference": reference, "columns": list(columns), "cfg": cfg},
        name="driftloop-drift-summary",
    )


@dataclass(frozen=True)
class _ScoredPiece:
    """One chunk's kept columns and every model's outputs on it (what a scoring task returns)."""

    kept: Any  # DataFrame
    outputs: Mapping[str, Any]  # name -> Predictions


def score_partition(
    partition: Any, models: Mapping[str, Any], schema: Any, columns: Sequence[str], keep: Sequence[str], chunk_size: int
) -> list[_ScoredPiece]:
    """The map of partitioned scoring: one partition read in chunks, each chunk scored by every model
    with :func:`driftloop.compare.predict_outputs` (the one scoring function; nothing forked)."""
    from driftloop.compare.predict import predict_outputs
    from driftloop.drift.chunks import iter_partition_chunks

    pieces = []
    for chunk in iter_partition_chunks(partition, list(columns), chunk_size):
        if len(chunk) == 0:  # an empty file: models refuse 0 rows, and it adds none
            continue
        chunk = chunk.reset_index(drop=True)
        outputs = {name: predict_outputs(model, chunk, schema, name=name) for name, model in models.items()}
        pieces.append(_ScoredPiece(chunk[list(keep)], outputs))
    return pieces


def _concat_pieces(a: list[_ScoredPiece], b: list[_ScoredPiece]) -> list[_ScoredPiece]:
    return a + b  # the rows are joined once, at the end (a left fold of concatenations copies n^2)


def score_partitioned(
    models: Mapping[str, Any],
    source: str | Path,
    schema: Any,
    engine: Engine | None = None,
    keep: Sequence[str] = (),
    chunk_size: int = 200_000,
) -> tuple[Any, dict[str, Any]]:
    """Every model's outputs on a partitioned parquet window, scored per partition on ``engine``
    (each partition read once for all the models), in partition order.

    Parameters
    ----------
    models : mapping of name -> model
        What :func:`driftloop.compare.predict_outputs` accepts (a fitted estimator, a LoadedModel);
        on Dask each is sent to every worker once, in memory.
    source : str or Path
        As :func:`summarize_partitioned`.
    schema : Schema
    engine : Engine, optional
        None: locally.
    keep : sequence of str
        Columns returned beside the outputs, row for row (the id, the label).
    chunk_size : int
        Rows a task scores at once.

    Raises
    ------
    DataError
        The window has no rows, or a partition lacks a column (naming its file).
    ModelError
        A model cannot score a chunk (as :func:`~driftloop.compare.predict_outputs` says).

    Returns
    -------
    kept : DataFrame
        The ``keep`` columns of every row, in partition order.
    outputs : dict of name -> Predictions
        Each model's predictions (and probabilities) on those rows.
    """
    import numpy as np
    import pandas as pd

    from driftloop.compare.predict import Predictions, input_columns
    from driftloop.drift.chunks import dataset_partitions

    needed: list[str] = []
    for model in models.values():
        for c in input_columns(model) or schema.features:
            if c not in needed:
                needed.append(c)
    columns = needed + [c for c in keep if c not in needed]
    parts = dataset_partitions(source)
    shared = {
        "models": dict(models),
        "schema": schema,
        "columns": columns,
        "keep": list(keep),
        "chunk_size": chunk_size,
    }
    pieces = map_merge(parts, score_partition, _concat_pieces, engine, shared=shared, name="driftloop-score")
    if not pieces:
        raise DataError(f"Dataset {source} has 0 rows: there is nothing to score.")
    kept = pd.concat([p.kept for p in pieces], ignore_index=True)
    outputs = {}
    for name in models:
        preds = [p.outputs[name] for p in pieces]
        has_proba = all(p.proba is not None for p in preds)
        classes = preds[0].classes if has_proba else tuple(sorted({c for p in preds for c in p.classes}))
        outputs[name] = Predictions(
            pred=np.concatenate([p.pred for p in preds]),
            proba=np.vstack([p.proba for p in preds]) if has_proba else None,
            classes=classes,
        )
    return kept, outputs


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

    from driftloop.drift.chunks import dataset_partitions
    from driftloop.drift.config import DriftConfig
    from driftloop.drift.summary import ReferenceSummary, reference_options, resolve_kinds, sample_positions

    cfg = cfg or DriftConfig()
    resolved = resolve_kinds(kinds, cfg)
    parts = dataset_partitions(source)
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


# --- training at scale: a stratified, time-aware sample of a partitioned window -------------------

_SAMPLE_STREAM = 4  # random stream of the training sample's keys (drift uses 1 to 3)


def _strata(chunk: Any, label: str, timestamp: str, period: str) -> Any:
    """Each row's stratum: its label and the ``period`` (a pandas frequency: "D", "W", "h") its event
    time falls in, as one string Series ("<label>|<period start>"; a missing label or time is its own)."""
    import pandas as pd

    when = pd.to_datetime(chunk[timestamp], utc=True, errors="coerce").dt.floor(period)
    return chunk[label].astype(str).where(chunk[label].notna(), "<missing>") + "|" + when.astype(str)


def _stratum_counts(partition: Any, label: str, timestamp: str, period: str, chunk_size: int) -> dict[str, int]:
    from driftloop.drift.chunks import iter_partition_chunks

    counts: dict[str, int] = {}
    for chunk in iter_partition_chunks(partition, [label, timestamp], chunk_size):
        for s, n in _strata(chunk, label, timestamp, period).value_counts(sort=False).items():
            counts[str(s)] = counts.get(str(s), 0) + int(n)
    return counts


def _add_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in {**a, **b}}


def allocate(counts: Mapping[str, int], size: int) -> dict[str, int]:
    """``size`` rows shared among strata in proportion to their ``counts`` (largest remainders; ties
    by stratum name), never more than a stratum holds.

    >>> allocate({"a|1": 60, "b|1": 30, "b|2": 10}, 7)
    {'a|1': 4, 'b|1': 2, 'b|2': 1}
    """
    total = sum(counts.values())
    if size >= total:
        return dict(counts)
    exact = {s: size * n / total for s, n in counts.items()}
    out = {s: int(v) for s, v in exact.items()}
    rest = size - sum(out.values())
    for s in sorted(counts, key=lambda s: (-(exact[s] - out[s]), s))[:rest]:
        out[s] += 1
    return out


def _bottom_k(frame: Any, quota: Mapping[str, int]) -> Any:
    """Per stratum, the rows with the ``quota`` smallest keys (the sample of the rows seen so far)."""
    frame = frame.sort_values("_key", kind="stable")
    rank = frame.groupby("_stratum", sort=False).cumcount()
    return frame[rank.to_numpy() < frame["_stratum"].map(quota).fillna(0).to_numpy()]


def _sample_rows_of(
    partition: Any,
    quota: Mapping[str, int],
    columns: Sequence[str],
    label: str,
    timestamp: str,
    period: str,
    seed: int,
    chunk_size: int,
) -> Any:
    import numpy as np
    import pandas as pd

    from driftloop.drift.chunks import iter_partition_chunks

    rng = np.random.default_rng([seed, _SAMPLE_STREAM, partition.index])
    kept, offset = None, 0
    for chunk in iter_partition_chunks(partition, list(columns), chunk_size):
        chunk = chunk.assign(
            _stratum=_strata(chunk, label, timestamp, period).to_numpy(),
            _key=rng.random(len(chunk)),
            _part=partition.index,
            _row=np.arange(offset, offset + len(chunk)),
        )
        offset += len(chunk)
        kept = _bottom_k(chunk if kept is None else pd.concat([kept, chunk], ignore_index=True), quota)
    return kept


def training_sample(
    source: str | Path,
    size: int,
    label: str,
    timestamp: str,
    columns: Sequence[str],
    engine: Engine | None = None,
    period: str = "D",
    seed: int = 0,
    chunk_size: int = 200_000,
) -> Any:
    """A stratified, time-aware sample of ``size`` rows of a partitioned window, to train on.

    Strata are (label, event-time ``period``): each gets its proportional share of ``size``
    (:func:`allocate`), so the sample keeps the window's class balance *and* its profile over time
    (a window whose last days are larger stays so). Within a stratum the rows are a uniform draw
    without replacement: every row gets a seeded uniform key (a stream per partition) and the rows
    with the smallest keys are kept, which merges across partitions (bottom-k). Two passes over the
    partitions: the stratum counts (label and time columns only), then the draw; memory is one chunk
    plus the sample, on every worker and here.

    Parameters
    ----------
    source : str or Path
        As :func:`summarize_partitioned`.
    size : int
        Rows wanted (the whole window when it has fewer).
    label, timestamp : str
        The label and event-time columns.
    columns : sequence of str
        Columns of the sample (label and timestamp are added when absent).
    engine : Engine, optional
    period : str
        A pandas frequency ("D", "W", "h"): the time strata.
    seed : int
    chunk_size : int

    Returns
    -------
    DataFrame
        The sampled rows in window order (partition, then row), index 0..n-1.
    """
    import pandas as pd

    from driftloop.drift.chunks import dataset_partitions

    if size < 1:
        raise ConfigError(f"training sample size must be an integer >= 1. Got {size} instead.")
    parts = dataset_partitions(source)
    shared = {"label": label, "timestamp": timestamp, "period": period, "chunk_size": chunk_size}
    counts = map_merge(parts, _stratum_counts, _add_counts, engine, shared=shared, name="driftloop-strata")
    quota = allocate(counts, size)
    cols = list(dict.fromkeys([*columns, label, timestamp]))
    draw = partial(_sample_rows_of_merge, quota=quota)
    sample = map_merge(
        parts,
        _sample_rows_of,
        draw,
        engine,
        shared={**shared, "quota": quota, "columns": cols, "seed": seed},
        name="driftloop-training-sample",
    )
    sample = sample.sort_values(["_part", "_row"], kind="stable")
    return sample[cols].reset_index(drop=True) if len(sample) else pd.DataFrame(columns=cols)


def _sample_rows_of_merge(a: Any, b: Any, quota: Mapping[str, int]) -> Any:
    import pandas as pd

    return _bottom_k(pd.concat([a, b], ignore_index=True), quota)


# --- training at scale: incremental fitting over partitions ---------------------------------------


def fit_incremental(
    model: Any,
    source: str | Path,
    features: Sequence[str],
    label: str,
    classes: Sequence[Any] | None = None,
    chunk_size: int = 200_000,
) -> Any:
    """Fit ``model`` with ``partial_fit`` on every chunk of every partition, in window order; returns it.

    Incremental fitting is sequential by nature (each step needs the model the previous one left),
    so it runs in this process whatever the engine: one chunk in memory at a time, never the window.
    Rows without a label are left out. ``classes``: every class the label can take (scikit-learn's
    classifiers need them on the first call); None for a regressor.

    Raises
    ------
    ModelError
        The model has no ``partial_fit`` (a pipeline, most ensembles), or it fails on a chunk
        (naming the partition's file).
    DataError
        A partition lacks a column (naming its file), or no row has a label.
    """
    from driftloop.batches import plain_missing
    from driftloop.drift.chunks import dataset_partitions, iter_partition_chunks
    from driftloop.errors import ModelError

    if not hasattr(model, "partial_fit"):
        raise ModelError(
            f"{type(model).__name__} has no partial_fit: incremental training needs an estimator that "
            "learns chunk by chunk (SGDClassifier, SGDRegressor, MultinomialNB, MLPClassifier, ...)."
        )
    kwargs = {"classes": list(classes)} if classes is not None else {}
    seen = 0
    for partition in dataset_partitions(source):
        for chunk in iter_partition_chunks(partition, [*features, label], chunk_size):
            chunk = chunk[chunk[label].notna()]
            if len(chunk) == 0:
                continue
            try:
                model.partial_fit(plain_missing(chunk[list(features)]), chunk[label].to_numpy(), **kwargs)
            except (ValueError, TypeError) as exc:
                raise ModelError(f"{type(model).__name__}.partial_fit failed on {partition.path}: {exc}") from exc
            seen += len(chunk)
    if seen == 0:
        raise DataError(f"Dataset {source} has no labelled row to train on.")
    return model


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
        _partitions(source),
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


def _partitions(source: str | Path) -> list[Any]:
    """:func:`driftloop.drift.chunks.dataset_partitions`, imported when called."""
    from driftloop.drift.chunks import dataset_partitions

    return dataset_partitions(source)
