"""Where per-partition work runs: in this process (``engine.kind: local``) or on Dask (``dask``).

The one primitive is :func:`map_merge` (:mod:`driftloop.engine.core`): a function mapped over
partitions, its results folded left to right, in partition order, by a merge function. ``local``
runs the map as a loop; ``dask`` runs it as one task per partition and folds the results on the
client as they arrive, still in partition order. The map and merge functions are the same in both,
and so is the order of every merge, so the two give the same result to the last bit: nothing is
forked beyond the map and the merge.

One concept per module:

* :mod:`~driftloop.engine.config`: the ``engine`` config group (:data:`TABLE`, :class:`EngineConfig`)
  and :class:`EngineError`;
* :mod:`~driftloop.engine.core`: :func:`open_engine` and :func:`map_merge`;
* :mod:`~driftloop.engine.sources`: partitioned parquet sources, listed as partitions;
* :mod:`~driftloop.engine.summaries`: drift summaries per partition (current window and reference);
* :mod:`~driftloop.engine.scoring`: champion/challenger scoring per partition;
* :mod:`~driftloop.engine.validation`: snapshot validation per partition;
* :mod:`~driftloop.engine.windows`: a partitioned source split into the snapshot's windows;
* :mod:`~driftloop.engine.training`: the training sample and incremental fitting.

Dask is an optional dependency (``pip install 'driftloop[dask]'``), imported only when an engine
of kind ``dask`` is opened: the stages that import this package do not pay for it.
"""

from __future__ import annotations

from driftloop.engine.config import TABLE, EngineConfig, EngineError, engine_config, scoring_workers
from driftloop.engine.core import Engine, map_merge, open_engine
from driftloop.engine.scoring import score_partition, score_partitioned
from driftloop.engine.sources import is_partitioned, partitions
from driftloop.engine.summaries import summarize_partitioned, summarize_reference_partitioned
from driftloop.engine.training import allocate, fit_incremental, training_sample
from driftloop.engine.validation import validate_partitioned
from driftloop.engine.windows import WindowBounds, split_partitioned, window_bounds

__all__ = [
    "TABLE",
    "Engine",
    "EngineConfig",
    "EngineError",
    "WindowBounds",
    "allocate",
    "engine_config",
    "fit_incremental",
    "is_partitioned",
    "map_merge",
    "open_engine",
    "partitions",
    "score_partition",
    "score_partitioned",
    "scoring_workers",
    "split_partitioned",
    "summarize_partitioned",
    "summarize_reference_partitioned",
    "training_sample",
    "validate_partitioned",
    "window_bounds",
]
