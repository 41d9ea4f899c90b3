"""Champion/challenger scoring per partition: every model on each chunk of a partition, read once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.engine.core import Engine, map_merge
from driftloop.engine.sources import partitions
from driftloop.errors import DataError


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

    needed: list[str] = []
    for model in models.values():
        for c in input_columns(model) or schema.features:
            if c not in needed:
                needed.append(c)
    columns = needed + [c for c in keep if c not in needed]
    parts = partitions(source)
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
