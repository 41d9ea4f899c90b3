"""Stage 5 — promote: gate the challenger, and move the champion alias only on evidence.

The gates are :mod:`driftloop.promote.gates`'; :mod:`driftloop.promote.cycle` gathers the
drift-resolution evidence from this cycle's files and acts on the decision: under a lock, the
challenger is registered with lineage tags and the alias moved in one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from driftloop import paths
from driftloop.config import section
from driftloop.context import StageContext
from driftloop.contracts import CompareResult, DriftResult, TrainResult
from driftloop.dvc_metrics import write_decision_metrics
from driftloop.promote.config import PromoteConfig
from driftloop.promote.cycle import (
    act_on_decision,
    cycle_lineage_tags,
    drift_resolution,
    log_decision,
    record_without_challenger,
)
from driftloop.promote.cycle_champion import rerun_against
from driftloop.promote.gates import Decision, evaluate_gates
from driftloop.promote.lost_registry import registry_uri
from driftloop.promote.promotion import StaleDecision, write_decision
from driftloop.promote.registry import ChampionRegistry
from driftloop.tracking import stage_run


def run_promote(ctx: StageContext, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the promote stage; returns the decision.json dict it wrote."""
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    drift = DriftResult.from_dict(ctx.read_json(paths.DRIFT_JSON, what="drift report"))
    train = TrainResult.from_dict(ctx.read_json(paths.TRAIN_JSON, what="retrain report"))
    comparison = CompareResult.from_dict(ctx.read_json(paths.COMPARE_JSON, what="comparison report"))
    # The champion this cycle started with (the manifest's), never the alias: after this cycle
    # promoted, the alias names its own challenger.
    champion = ctx.champion(compared=comparison)
    version = None if champion is None else champion.version
    identity = ctx.registry
    registry = ChampionRegistry(identity.model_name, alias=identity.alias, previous_alias=identity.previous_alias)
    lock_path = ctx.root / promote_cfg.lock_path  # the project's: a `dvc exp run --temp` copy shares the lock
    params = {"promote": section(cfg, "promote"), "registry": asdict(identity)}  # the identity as resolved
    with stage_run("promote", ctx.cycle_run_id, params=params):
        if not train.trained:
            decision = Decision(
                promoted=False,
                first_cycle=champion is None,
                gates=(),
                summary=train.reason or "no challenger was trained this cycle; the champion stays.",
            )
            outcome = None
            record_without_challenger(registry, decision, promote_cfg, ctx.cycle_run_id, version, lock_path)
        else:
            resolution = None  # a first cycle has no drift to resolve
            if champion is not None:
                drift_cfg = section(cfg, "drift")
                resolution = drift_resolution(
                    ctx.workspace, ctx.schema, drift, drift_cfg, train, comparison, promote_cfg, champion
                )
            decision = evaluate_gates(comparison.gate_view(), resolution, promote_cfg, champion is None)
            tags = cycle_lineage_tags(train, drift, ctx.cycle_run_id)
            try:
                decision, outcome = act_on_decision(registry, decision, promote_cfg, train, tags, version, lock_path)
            except StaleDecision as stale:  # another cycle promoted first: the next `dvc repro` starts over
                raise rerun_against(ctx.workspace, ctx.root, stale) from stale
        result = write_decision(
            ctx.path(paths.DECISION_JSON),
            decision,
            outcome,
            identity.model_name,
            # the project's own record of what serves, checked by the next snapshot
            run_id=train.logged_challenger()[1] if outcome is not None and outcome.version else None,
            registry=registry_uri(),
            new_registry=None if ctx.manifest is None else ctx.manifest.new_registry,
        )
        write_decision_metrics(ctx.workspace, result)  # the small numeric view for DVC
        log_decision(result, decision, ctx.cycle_run_id)
    return result
