"""The ``engine`` config group: where per-partition work runs (``local`` or ``dask``), and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftloop.errors import DriftloopError
from driftloop.redact import refuse_credentials
from driftloop.validation import Key, check

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
    "n_workers": Key(
        "integer",
        2,
        low=1,
        doc="dask: worker processes of the LocalCluster started when address is null; "
        "local: processes scoring a window of 100,000 rows or more",
    ),
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


def engine_config(cfg: Any) -> EngineConfig:
    """The composed config's ``engine`` group (its defaults when the config has none: a
    ``params.yaml`` composed before the group existed runs locally, as it did)."""
    return EngineConfig.from_dict((cfg or {}).get("engine"), "engine")


def scoring_workers(cfg: Any) -> int:
    """Processes that score a large window in this process's stage: ``engine.n_workers`` on the
    ``local`` engine (:func:`driftloop.compare.predict_outputs`' ``workers``), else 1 (on ``dask``
    the partitions are the unit of parallel work)."""
    engine = engine_config(cfg)
    return engine.n_workers if engine.kind == "local" else 1
