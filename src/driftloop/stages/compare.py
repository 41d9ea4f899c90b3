"""Stage 4 — compare: champion and challenger on the same time-ordered holdout.

Each model is evaluated in its own nested run under the stage's run (same metric
keys every cycle: ``holdout.<metric>``); the stage run carries the deltas with
their paired-bootstrap intervals and tests. Per-row predictions are kept as a DVC
output so that promote (and any auditor) can recompute from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from driftloop import paths
from driftloop.config import section, workspace
from driftloop.io import StagedOutputs, read_json, write_json, write_parquet
from driftloop.schema import Schema


def split_for_dvc_plots(plots_dir: Path) -> list[Path]:
    """One CSV per series under ``plots_dir/<kind>/`` so that `dvc plots show` overlays them
    (DVC draws each file of a plot directory as its own line; it cannot split one file by a column)."""
    written: list[Path] = []
    for kind, keys in (("roc", ["model", "class"]), ("pr", ["model", "class"]), ("calibration", ["model"])):
        path = plots_dir / f"{kind}.csv"
        if not path.is_file():
            continue
        frame = pd.read_csv(path)
        folder = plots_dir / kind
        folder.mkdir(exist_ok=True)
        for key, part in frame.groupby(keys, sort=True):
            name = "-".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
            out = folder / f"{name}.csv"
            part.drop(columns=keys).to_csv(out, index=False)
            written.append(out)
    folder = plots_dir / "confusion"
    folder.mkdir(exist_ok=True)
    for path in sorted(plots_dir.glob("confusion_*.csv")):
        out = folder / f"{path.stem.removeprefix('confusion_')}.csv"
        path.replace(out)
        written.append(out)
    return written


HEADLINE = ("accuracy", "f1_macro", "log_loss", "rmse", "mae", "r2")


def headline_metrics(result: Mapping[str, Any]) -> dict[str, Any]:
    """A small metrics file for `dvc metrics show/diff`: the verdict and, for the primary metric
    and a few standard ones, both models' values, the delta and its interval."""
    metrics = result.get("metrics") or {}
    names = [result.get("primary_metric"), *HEADLINE]
    keep = ("champion", "challenger", "delta", "ci_low", "ci_high", "p_value")
    out: dict[str, Any] = {"improved": result.get("improved")}
    for name in dict.fromkeys(n for n in names if n in metrics):
        out[name] = {k: metrics[name].get(k) for k in keep if metrics[name].get(k) is not None}
    return out


def _no_challenger(reason: str) -> dict[str, Any]:
    return {"improved": False, "reasons": [reason], "challenger_trained": False, "metrics": {}}


def run_compare(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the compare stage; returns the compare.json dict it wrote."""
    from driftloop.champion import find_champion
    from driftloop.compare import CompareConfig, compare_models, load_model, predict_outputs, write_plots
    from driftloop.promote.config import PromoteConfig
    from driftloop.tracking import TrackingConfig, configure, log_cycle_metrics, log_metrics, stage_run

    schema = Schema.from_config(section(cfg, "data").get("schema") or {})
    compare_cfg = CompareConfig.from_dict(section(cfg, "compare"))
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    configure(TrackingConfig.from_dict(section(cfg, "tracking")))
    ws = workspace()
    manifest = read_json(ws / paths.MANIFEST, what="snapshot manifest")
    train = read_json(ws / paths.TRAIN_JSON, what="retrain report")
    holdout = pd.read_parquet(ws / paths.HOLDOUT)
    with StagedOutputs() as staged:  # outputs move into place together once everything succeeded
        plots_dir = staged.path(ws / paths.PLOTS_DIR)
        plots_dir.mkdir()
        if not train.get("trained"):
            # No challenger: an empty plots folder, so last cycle's curves are not shown as this one's.
            result = _no_challenger(train.get("reason", "no challenger was trained this cycle"))
            write_json(staged.path(ws / paths.COMPARE_JSON), result)
            write_json(staged.path(ws / paths.COMPARE_METRICS), headline_metrics(result))
            write_parquet(staged.path(ws / paths.PREDICTIONS),
                          holdout[[schema.id]].assign(champion=None, challenger=None))
            with stage_run("compare", manifest.get("cycle_run_id")):
                import mlflow

                mlflow.set_tag("driftloop.compare.skipped", result["reasons"][0])
            return result

        champion_ref = find_champion(promote_cfg.model_name, promote_cfg.alias)
        challenger = load_model(train["model_uri"])
        champion = load_model(champion_ref.uri) if champion_ref else None
        cycle_run_id = manifest.get("cycle_run_id")
        with stage_run("compare", cycle_run_id, params={"compare": section(cfg, "compare")}) as run:
            import mlflow

            comparison = compare_models(holdout, schema, challenger, champion, compare_cfg)
            result = comparison.to_dict()
            result["challenger_trained"] = True
            result["challenger_uri"] = train["model_uri"]
            result["champion_uri"] = champion_ref.uri if champion_ref else None
            result["champion_version"] = champion_ref.version if champion_ref else None
            write_json(staged.path(ws / paths.COMPARE_JSON), result)
            write_json(staged.path(ws / paths.COMPARE_METRICS), headline_metrics(result))
            flat = comparison.metrics()
            log_metrics(flat)
            primary = result.get("primary_metric")
            log_cycle_metrics(cycle_run_id, {
                k: v for k, v in flat.items() if (primary and k.endswith(f".{primary}")) or k.endswith(".accuracy")
            })
            mlflow.log_dict(result, "compare/compare.json")

            preds = holdout[[schema.id]].copy()
            if schema.label:
                preds["label"] = holdout[schema.label].to_numpy()
            chal_out = predict_outputs(challenger, holdout, schema)
            preds["challenger"] = chal_out.pred
            champ_out = predict_outputs(champion, holdout, schema) if champion is not None else None
            preds["champion"] = champ_out.pred if champ_out is not None else None
            write_parquet(staged.path(ws / paths.PREDICTIONS), preds)

            for role, outputs, uri in (("challenger", chal_out, train["model_uri"]),
                                       ("champion", champ_out, champion_ref.uri if champion_ref else None)):
                if outputs is None:
                    continue
                with mlflow.start_run(run_name=f"evaluate-{role}", nested=True, parent_run_id=run.info.run_id):
                    mlflow.set_tags({"driftloop.stage": "compare", "driftloop.role": role,
                                     "driftloop.model_uri": uri})
                    values = {
                        f"holdout.{name}": entry.get(role)
                        for name, entry in result.get("metrics", {}).items()
                        if isinstance(entry, Mapping)
                    }
                    log_metrics({k: v for k, v in values.items() if v is not None})

            write_plots(comparison, plots_dir)
            split_for_dvc_plots(plots_dir)
            mlflow.log_artifacts(str(plots_dir), artifact_path="compare/plots")
    return result
