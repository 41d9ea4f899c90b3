"""Training at scale: a stratified, time-aware sample of a partitioned window, and incremental fitting
with ``partial_fit`` over its partitions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions
from driftloop.errors import ConfigError, DataError

# --- training at scale: a stratified, time-aware sample of a partitioned window -------------------

_SAMPLE_STREAM = 4  # random stream of the training sample's keys (drift uses 1 to 3)


def _strata(chunk: Any, label: str, timestamp: str, period: str) -> Any:
    """Each row's stratum: its label and the ``period`` (a fixed pandas frequency: "D", "7D", "h";
    not "W", which ``floor`` refuses) its event time falls in, as one string Series
    ("<label>|<period start>"; a missing label or time is its own).

    The names are spelled once per distinct (label, period) pair and spread back by code: spelling
    a datetime per row was most of the sample's time (6 s at 1M rows). The strings are the ones
    ``label.astype(str) + "|" + period_start.astype(str)`` gives row by row (a datetime column's
    spelling depends only on which values it holds, and the distinct ones are those values).
    """
    import numpy as np
    import pandas as pd

    values = chunk[label]
    # Labels are spelled per row before they are coded: 1, 1.0 and True are one value to a hash
    # table but three different names.
    text = values.astype(str).where(values.notna(), "<missing>")
    label_codes, label_names = pd.factorize(text)
    when = pd.to_datetime(chunk[timestamp], utc=True, errors="coerce").dt.floor(period)
    when_codes, when_values = pd.factorize(when, use_na_sentinel=False)  # NaT is a value here
    width = max(len(when_values), 1)
    pairs, inverse = np.unique(label_codes.astype("int64") * width + when_codes, return_inverse=True)
    # The row-by-row expression itself, on the distinct pairs: a missing time spells a missing
    # stratum as it did (pandas' text of NaT is missing, and so is anything joined to it).
    names = (
        pd.Series(label_names).take(pairs // width).reset_index(drop=True)
        + "|"
        + pd.Series(when_values).take(pairs % width).reset_index(drop=True).astype(str)
    )
    return pd.Series(names.to_numpy()[inverse.reshape(-1)], index=chunk.index, dtype=names.dtype)


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
        A fixed pandas frequency ("D", "7D", "h"; not "W" or "M", which ``floor`` refuses): the time strata.
    seed : int
    chunk_size : int

    Returns
    -------
    DataFrame
        The sampled rows in window order (partition, then row), index 0..n-1.
    """
    import pandas as pd

    if size < 1:
        raise ConfigError(f"training sample size must be an integer >= 1. Got {size} instead.")
    parts = partitions(source)
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
    from driftloop.drift.chunks import iter_partition_chunks
    from driftloop.errors import ModelError

    if not hasattr(model, "partial_fit"):
        raise ModelError(
            f"{type(model).__name__} has no partial_fit: incremental training needs an estimator that "
            "learns chunk by chunk (SGDClassifier, SGDRegressor, MultinomialNB, MLPClassifier, ...)."
        )
    kwargs = {"classes": list(classes)} if classes is not None else {}
    seen = 0
    for partition in partitions(source):
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
