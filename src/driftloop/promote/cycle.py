"""A cycle's promotion, around the pure gates: what promote reads from the cycle's files, and
how it acts on a decision (normally, under ``dvc exp run``, or without a challenger).

Evidence for "drift resolved" is gathered here: the challenger's training data is re-tested
against the holdout (the newest part of the current window, never trained on) on the columns
that drifted, with the drift stage's tests and thresholds; its holdout predictions are set
against the observed labels, and its holdout metric against its validation metric.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop import paths
from driftloop.contracts import CompareResult, DecisionRecord, DriftResult, TrainResult
from driftloop.promote.config import PromoteConfig
from driftloop.promote.gates import Decision
from driftloop.tags import TAG_GATE_PREFIX, TAG_RUN_DECISION

if TYPE_CHECKING:
    from driftloop.champion import ChampionRef
    from driftloop.promote.promotion import PromotionOutcome
    from driftloop.promote.registry import ChampionRegistry
    from driftloop.promote.resolution import DriftResolution
    from driftloop.schema import Schema


def in_experiment() -> bool:
    """Whether this stage runs under ``dvc exp run`` (DVC sets these variables)."""
    return bool(os.environ.get("DVC_EXP_NAME") or os.environ.get("DVC_EXP_BASELINE_REV"))


def champion_validation_metric(champion: ChampionRef | None, metric: str | None) -> float | None:
    """The champion's ``validation.<metric>`` from its training run (None when unknown: a version
    registered by hand, or a run without that metric)."""
    if champion is None or not metric:
        return None
    from driftloop.promote.registry import model_version
    from driftloop.tracking import run_metric

    run_id = model_version(champion.name, champion.version).run_id
    return run_metric(run_id, f"validation.{metric}") if run_id else None


def drift_resolution(
    ws: Path,
    schema: Schema,
    drift: DriftResult,
    drift_cfg: Mapping[str, Any],
    train: TrainResult,
    comparison: CompareResult,
    promote_cfg: PromoteConfig,
    champion: ChampionRef,
) -> DriftResolution:
    """Whether the challenger resolves the drift the drift stage flagged, from this cycle's DVC outputs.

    The champion's training data is this cycle's reference (the snapshot read it back through the
    champion's lineage tag); the challenger's is ``training.parquet`` (train and validation rows);
    the holdout is the newest labelled part of the current window, which neither model trained on.
    """
    import pandas as pd

    from driftloop.drift import DriftConfig
    from driftloop.promote.resolution import ResolutionInputs, assess_drift_resolution

    primary = promote_cfg.primary_metric
    preds = pd.read_parquet(ws / paths.PREDICTIONS)
    columns = list(drift.drifted_columns)
    read = (lambda path: pd.read_parquet(path, columns=columns)) if columns else (lambda path: pd.DataFrame())
    inputs = ResolutionInputs(
        task=schema.task,
        drifted_columns=tuple(columns),
        column_kinds={c: schema.kinds[c] for c in columns},
        champion_training=read(ws / paths.REFERENCE),
        challenger_training=read(ws / paths.TRAINING),
        holdout=read(ws / paths.HOLDOUT),
        labels=preds["label"].to_numpy(),
        challenger_predictions=preds["challenger"].to_numpy(),
        champion_predictions=preds["champion"].to_numpy(),
        validation_metric=train.validation_metric(primary),
        n_validation=train.split_rows("validation"),
        drift_config=DriftConfig.from_dict(drift_cfg),
        champion_validation_metric=champion_validation_metric(champion, primary),
    )
    return assess_drift_resolution(inputs, comparison.gate_view(), promote_cfg)


def cycle_lineage_tags(train: TrainResult, drift: DriftResult, cycle_run_id: str | None) -> dict[str, Any]:
    """The lineage tags the challenger is registered with: code, data md5s, cycle and drift summary."""
    from driftloop.promote.lineage_tags import build_lineage_tags
    from driftloop.tracking import git_commit

    return build_lineage_tags(
        git_commit=git_commit(),
        training_data_md5=train.training_data_md5,
        training_data_path=train.training_data_path,
        holdout_data_md5=train.holdout_md5,
        holdout_data_path=train.holdout_path,
        cycle_run_id=cycle_run_id,
        drift_summary={
            "drifted": drift.drifted,
            "share_drifted": drift.share_drifted,
            "columns": list(drift.drifted_columns),
        },
    )


def act_on_decision(
    registry: ChampionRegistry,
    decision: Decision,
    promote_cfg: PromoteConfig,
    train: TrainResult,
    tags: Mapping[str, Any],
    champion_version: str | None,
    lock_path: Path,
) -> tuple[Decision, PromotionOutcome]:
    """Register the challenger and move the alias as ``decision`` says, under the lock.

    Under ``dvc exp run`` the decision is recorded, but what serves does not change unless
    ``promote.in_experiments: promote``; with ``register_without_alias`` the challenger is
    registered (for inspection) without any alias.

    Returns
    -------
    tuple
        The decision as acted on (an experiment's says the alias was not moved) and the outcome.
    """
    from driftloop.promote.promotion import PromotionOutcome, promote

    model_uri, run_id = train.logged_challenger()
    if not in_experiment() or promote_cfg.in_experiments == "promote":
        return decision, promote(
            registry,
            decision,
            model_uri,
            run_id,
            tags,
            description=decision.summary,
            lock_path=lock_path,
            on_reject=promote_cfg.on_reject,
            lock_timeout_s=promote_cfg.lock_timeout_s,
            # Refuse if the champion moved since compare scored it (a concurrent cycle or a
            # rollback): the comparison would no longer be against the serving model.
            expected_champion=champion_version,
        )
    note = (
        f" Experiment run (DVC_EXP_NAME={os.environ.get('DVC_EXP_NAME', '?')}): "
        f"promote.in_experiments={promote_cfg.in_experiments}, the champion alias was not moved."
    )
    if promote_cfg.in_experiments == "register_without_alias":
        outcome = promote(
            registry,
            replace(decision, promoted=False),
            model_uri,
            run_id,
            tags,
            description=decision.summary + note,
            lock_path=lock_path,
            on_reject="register_without_alias",
            lock_timeout_s=promote_cfg.lock_timeout_s,
        )
    else:
        outcome = PromotionOutcome(None, champion_version, False)
    return replace(decision, promoted=False, summary=decision.summary + note), outcome


def record_without_challenger(
    registry: ChampionRegistry,
    decision: Decision,
    promote_cfg: PromoteConfig,
    cycle_run_id: str | None,
    champion_version: str | None,
    lock_path: Path,
) -> None:
    """Record a cycle that trained no challenger as the model's last decision, so that
    ``driftloop status`` shows this cycle's outcome rather than an earlier one.

    Only when the registered model exists (nothing to report on before a first promotion), while
    the champion is still the one the cycle started with (else "the champion stays" would be
    about another model), and not from a ``dvc exp run`` that may not touch the registry
    (``promote.in_experiments: skip``).
    """
    from driftloop.promote.promotion import promotion_guard

    if in_experiment() and promote_cfg.in_experiments == "skip":
        return
    record = {
        **decision.to_dict(),
        "challenger_trained": False,
        "run_id": None,
        "version": None,
        "cycle_run_id": cycle_run_id,
    }
    with promotion_guard(registry, lock_path, promote_cfg.lock_timeout_s):
        if registry.aliases().get(registry.alias) == champion_version:
            registry.record_decision(record, create=False)


def log_decision(result: Mapping[str, Any], decision: Decision, cycle_run_id: str | None) -> None:
    """On the active (promote) run: decision.json, whether it promoted, the failed enforced gates, the
    summary, and every gate made advisory or turned off (a choice someone must be able to find in
    the UI); the summary, decision.json and ``promote.promoted`` also on the cycle's run."""
    from driftloop.tracking import annotate_cycle, log_dict, log_metrics, set_tags

    record = DecisionRecord.from_dict(result)
    log_dict(result, "promote/decision.json")
    log_metrics({"promote.promoted": record.promoted, "promote.gates_failed": len(record.failed)})
    set_tags({TAG_RUN_DECISION: decision.summary[:5000]})
    set_tags(
        {f"{TAG_GATE_PREFIX}{g.name}": f"{g.mode}: {g.reason}"[:5000] for g in decision.gates if g.mode != "enforce"}
    )
    annotate_cycle(
        cycle_run_id,
        tags={TAG_RUN_DECISION: decision.summary[:5000]},
        artifacts={"decision.json": result},
        metrics={"promote.promoted": float(record.promoted)},
    )
