"""The stage context: what every stage needs, built once per stage by :func:`driftloop.stages.run_stage`.

A stage is ``run_<stage>(ctx, cfg)``: ``ctx`` carries the workspace and project paths, the
schema, the registry identity, the cycle's manifest and parent run, with MLflow tracking
already configured; ``cfg`` is the composed config, from which the stage parses only its own
group. Building the context opens the tracking store once, so that the stage's own calls find
it open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop import paths
from driftloop.config import project_root, section, workspace
from driftloop.registry_config import RENAMED as REGISTRY_RENAMED
from driftloop.registry_config import RegistryConfig
from driftloop.schema import Schema
from driftloop.validation import mapping_of, refuse_renamed

if TYPE_CHECKING:
    from driftloop.champion import ChampionRef
    from driftloop.contracts import CompareResult, Manifest


#: Which registered model a cycle serves, and its aliases: the ``registry`` group.
RegistryIdentity = RegistryConfig


def registry_identity(cfg: Mapping[str, Any]) -> RegistryIdentity:
    """The registry identity (the ``registry`` group: model name, alias, previous alias), read in
    this one place.

    Raises
    ------
    ConfigError
        When the ``registry`` group is missing or invalid, or ``promote`` still holds one of its
        keys (an old ``params.yaml``: the message names the ``registry`` key that replaced it).
    """
    refuse_renamed(mapping_of(cfg.get("promote"), "promote"), "promote", REGISTRY_RENAMED)
    return RegistryConfig.from_dict(section(cfg, "registry"))


@dataclass(frozen=True)
class StageContext:
    """Everything a stage shares with the others, built once (see :func:`build_context`).

    Attributes
    ----------
    stage : str
    workspace : Path
        Where the stage reads and writes (the DVC workspace, or an experiment's copy).
    root : Path
        The user's project: MLflow store, DVC cache, promotion lock.
    schema : Schema
    registry : RegistryIdentity
    experiment_id : str
        The MLflow experiment, tracking and registry URIs already set.
    manifest : Manifest or None
        ``data/snapshot/manifest.json``; None for the snapshot stage, which writes it.
    parent_run_id : str or None
        The parent run this stage writes under: the manifest's cycle run when this stage continues
        it, else a parent run of its own origin (an experiment, a rerun, a stage run by hand:
        :mod:`driftloop.cycle_origin`); None for the snapshot stage, which opens it.
    """

    stage: str
    workspace: Path
    root: Path
    schema: Schema
    registry: RegistryIdentity
    experiment_id: str
    manifest: Manifest | None = field(default=None, repr=False)
    parent_run_id: str | None = None

    @property
    def cycle_run_id(self) -> str | None:
        """The parent MLflow run this stage writes under (None before the snapshot stage, or in a
        bare workspace); never a finished production cycle's run (:mod:`driftloop.cycle_origin`)."""
        return self.parent_run_id

    def path(self, relative: Path) -> Path:
        """``relative`` (one of :mod:`driftloop.paths`) in the workspace."""
        return self.workspace / relative

    def read_json(self, relative: Path, what: str) -> Any:
        """An earlier stage's JSON report; DataError naming the stage to run when it is missing."""
        from driftloop.io import read_json

        return read_json(self.path(relative), what=what)

    def champion(self, compared: CompareResult | None = None) -> ChampionRef | None:
        """The champion this cycle started with, as the manifest recorded it (never the alias:
        after this cycle promoted, the alias names its own challenger); None on a first cycle."""
        from driftloop.champion import cycle_champion

        return cycle_champion(self.manifest, self.registry.model_name, self.registry.alias, compared=compared)


def build_context(stage: str, cfg: Mapping[str, Any]) -> StageContext:
    """Build the context of ``stage``: parse the shared config, configure tracking, read the manifest.

    Raises
    ------
    ConfigError
        When ``data.schema``, ``promote`` or ``tracking`` is invalid.
    RegistryError
        When MLflow refuses to open the experiment, or a ``sqlite:`` store is damaged.
    DataError
        When a stage after snapshot finds no manifest.
    """
    from driftloop.local_faults import check_sqlite_store, close_dead_runs
    from driftloop.tracking import TrackingConfig, configure

    schema = Schema.from_config(section(cfg, "data").get("schema") or {})
    identity = registry_identity(cfg)
    tracking = TrackingConfig.from_dict(section(cfg, "tracking"))
    check_sqlite_store(tracking.resolved_uri())
    experiment_id = configure(tracking)
    close_dead_runs(experiment_id)  # runs a killed stage left RUNNING (issue 13)
    ws = workspace()
    manifest, parent_run_id = None, None
    if stage != "snapshot":
        from driftloop.contracts import Manifest
        from driftloop.cycle_run import resolve_parent
        from driftloop.io import read_json

        manifest = Manifest.from_dict(read_json(ws / paths.MANIFEST, what="snapshot manifest"))
        parent_run_id = resolve_parent(experiment_id, manifest.cycle_run_id, cfg)
    return StageContext(
        stage=stage,
        workspace=ws,
        root=project_root(),
        schema=schema,
        registry=identity,
        experiment_id=experiment_id,
        manifest=manifest,
        parent_run_id=parent_run_id,
    )
