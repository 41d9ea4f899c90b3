"""Stage 5 — promote: gate the challenger, and move the champion alias only on evidence.

Evidence for "drift resolved" is gathered here: the challenger's training data is
re-tested against the holdout (the newest part of the current window, never trained
on) on the columns that drifted, with the drift stage's tests and thresholds; its
holdout predictions are set against the observed labels, and its holdout metric
against its validation metric. Then every
gate is evaluated, the decision written, and — under a lock — the challenger
registered with lineage tags and the alias moved in one call.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import pandas as pd

from driftloop import paths
from driftloop.config import project_root, section, workspace
from driftloop.io import read_json
from driftloop.schema import Schema


def training_vs_holdout(schema: Schema, drifted: list[str], drift_cfg_map: Mapping[str, Any]) -> dict[str, Any] | None:
    """drift.json-format report of the challenger's training data against the holdout, on the
    columns that drifted this cycle.

    The holdout is the part of the current window the challenger never saw (its newest days);
    the rest of the current window is usually *in* the training data, so testing against the
    whole window would compare a set with a subset of itself and could hardly fail.
    """
    if not drifted:
        return None
    from driftloop.drift import DriftConfig, evaluate_drift, summarize_reference

    ws = workspace()
    # Same univariate tests and thresholds as the drift stage; the domain classifier answers a
    # different question (is anything at all different) and is not part of this check.
    multivariate = dict(drift_cfg_map.get("multivariate") or {}, enabled=False)
    cfg = DriftConfig.from_dict({**drift_cfg_map, "multivariate": multivariate})
    training = pd.read_parquet(ws / paths.TRAINING, columns=list(drifted))
    holdout = pd.read_parquet(ws / paths.HOLDOUT, columns=list(drifted))
    kinds = {c: schema.kinds[c] for c in drifted}
    summary = summarize_reference(training, kinds, cfg)
    return evaluate_drift(summary, holdout, cfg, columns=list(drifted)).to_dict()


def _experiment_outcome(decision: Any, registry: Any, promote_cfg: Any, train: Mapping[str, Any],
                        tags: Mapping[str, str], champion_version: str | None) -> tuple[Any, Any]:
    """Under `dvc exp run` the decision is recorded, but what serves does not change unless
    ``promote.in_experiments: promote``; with ``register_without_alias`` the challenger is
    registered (for inspection) without any alias."""
    from dataclasses import replace

    from driftloop.promote.promotion import PromotionOutcome, promote

    note = (f" Experiment run (DVC_EXP_NAME={os.environ.get('DVC_EXP_NAME', '?')}): "
            f"promote.in_experiments={promote_cfg.in_experiments}, the champion alias was not moved.")
    if promote_cfg.in_experiments == "register_without_alias":
        rejected = replace(decision, promoted=False)
        outcome = promote(registry, rejected, train["model_uri"], train["run_id"], tags,
                          description=decision.summary + note, lock_path=project_root() / promote_cfg.lock_path,
                          on_reject="register_without_alias", lock_timeout_s=promote_cfg.lock_timeout_s)
    else:
        outcome = PromotionOutcome(None, champion_version, False)
    return replace(decision, promoted=False, summary=decision.summary + note), outcome


def run_promote(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the promote stage; returns the decision.json dict it wrote."""
    from driftloop.champion import find_champion
    from driftloop.promote.config import PromoteConfig
    from driftloop.promote.gates import Decision, evaluate_gates, primary_direction
    from driftloop.promote.lineage_tags import build_lineage_tags
    from driftloop.promote.promotion import promote, write_decision
    from driftloop.promote.registry import ChampionRegistry
    from driftloop.promote.resolution import assess_drift_resolution
    from driftloop.tracking import TrackingConfig, configure, git_commit, log_cycle_metrics, log_metrics, stage_run

    schema = Schema.from_config(section(cfg, "data").get("schema") or {})
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    configure(TrackingConfig.from_dict(section(cfg, "tracking")))
    ws = workspace()
    manifest = read_json(ws / paths.MANIFEST, what="snapshot manifest")
    drift = read_json(ws / paths.DRIFT_JSON, what="drift report")
    train = read_json(ws / paths.TRAIN_JSON, what="retrain report")
    comparison = read_json(ws / paths.COMPARE_JSON, what="comparison report")
    champion = find_champion(promote_cfg.model_name, promote_cfg.alias)
    first_cycle = champion is None
    drifted = list(drift.get("drifted_columns") or [])

    registry = ChampionRegistry(promote_cfg.model_name, alias=promote_cfg.alias,
                                previous_alias=promote_cfg.previous_alias)
    cycle_run_id = manifest.get("cycle_run_id")
    with stage_run("promote", cycle_run_id, params={"promote": section(cfg, "promote")}):
        import mlflow

        if not train.get("trained"):
            decision = Decision(
                promoted=False, first_cycle=first_cycle, gates=(),
                summary=train.get("reason", "no challenger was trained this cycle; the champion stays."),
            )
            outcome = None
        else:
            resolution = None
            if not first_cycle:
                preds = pd.read_parquet(ws / paths.PREDICTIONS)
                primary = promote_cfg.primary.metric or comparison.get("primary_metric")
                resolution = assess_drift_resolution(
                    training_vs_holdout(schema, drifted, section(cfg, "drift")),
                    drifted,
                    preds["label"].to_numpy(),
                    preds["challenger"].to_numpy(),
                    list(schema.classes),
                    (train.get("validation_metrics") or {}).get(primary),
                    ((comparison.get("metrics") or {}).get(primary) or {}).get("challenger"),
                    promote_cfg,
                    greater_is_better=primary_direction(comparison, primary, promote_cfg),
                )
            decision = evaluate_gates(comparison, resolution, promote_cfg, first_cycle)
            tags = build_lineage_tags(
                git_commit=git_commit(),
                training_data_md5=train["training_data_md5"],
                training_data_path=train["training_data_path"],
                holdout_data_md5=train["holdout_md5"],
                holdout_data_path=train["holdout_path"],
                cycle_run_id=cycle_run_id,
                drift_summary={
                    "drifted": bool(drift.get("dataset", {}).get("drifted")),
                    "share_drifted": drift.get("dataset", {}).get("share_drifted"),
                    "columns": drifted,
                },
            )
            experiment = os.environ.get("DVC_EXP_NAME") or os.environ.get("DVC_EXP_BASELINE_REV")
            if experiment and promote_cfg.in_experiments != "promote":
                decision, outcome = _experiment_outcome(
                    decision, registry, promote_cfg, train, tags, comparison.get("champion_version"))
            else:
                outcome = promote(
                    registry, decision, train["model_uri"], train["run_id"], tags,
                    description=decision.summary,
                    # The project root, not the workspace: a `dvc exp run --temp` copy shares the lock.
                    lock_path=project_root() / promote_cfg.lock_path,
                    on_reject=promote_cfg.on_reject, lock_timeout_s=promote_cfg.lock_timeout_s,
                    # Refuse if the champion moved since compare scored it (a concurrent cycle or a
                    # rollback): the comparison would no longer be against the serving model.
                    expected_champion=comparison.get("champion_version"),
                )
        result = write_decision(ws / paths.DECISION_JSON, decision, outcome, promote_cfg.model_name)
        mlflow.log_dict(result, "promote/decision.json")
        log_metrics({"promote.promoted": bool(result["promoted"]),
                     "promote.gates_failed": sum(1 for g in result.get("gates", []) if not g["passed"])})
        mlflow.set_tag("driftloop.decision", decision.summary[:5000])
    if cycle_run_id:
        import mlflow

        client = mlflow.MlflowClient()
        client.set_tag(cycle_run_id, "driftloop.decision", decision.summary[:5000])
        client.log_dict(cycle_run_id, result, "decision.json")
        log_cycle_metrics(cycle_run_id, {"promote.promoted": float(bool(result["promoted"]))})
    return result
