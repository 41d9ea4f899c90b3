"""Stage 2 — drift: the current window against the reference's stored summary.

Reads the reference only through ``reference_summary.npz`` (built once by
snapshot) and the current window in chunks of ``drift.chunk_size`` rows (a smaller
file in one read), so memory does not grow with rows. When a champion exists, its outputs on both windows give output
drift, concept drift (labels are present) and a label-free performance estimate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from driftloop import paths
from driftloop.config import project_root, section, workspace
from driftloop.errors import DataError
from driftloop.io import StagedOutputs, atomic_write_text, read_json, write_json
from driftloop.schema import Schema


def current_chunks(path: Path, columns: list[str], chunk_size: int) -> Iterable[pd.DataFrame]:
    """The snapshot's current window in chunks of ``drift.chunk_size`` rows (memory flat in rows)."""
    from driftloop.drift.chunks import iter_file_chunks

    if not path.exists():
        raise DataError(f"{path} not found: run the snapshot stage first (dvc repro).")
    return iter_file_chunks(path, columns, chunk_size)


def reference_summary_path(ws: Path) -> Path:
    """The snapshot's reference summary: the ``.npz``, or the format-1 ``.json`` of a snapshot taken
    before the ``.npz`` format (the snapshot stage removes it once it writes the ``.npz``)."""
    path = ws / paths.REFERENCE_SUMMARY
    legacy = ws / paths.LEGACY_REFERENCE_SUMMARY
    return legacy if not path.exists() and legacy.exists() else path


def champion_reference_frame(champion: Any, schema: Schema) -> tuple[pd.DataFrame, str]:
    """The frame the champion's *reference* outputs are measured on: its own holdout (lineage
    tag -> DVC cache/remote), data it was never trained on. Its training data would give
    in-sample accuracy and over-confident scores, biasing output and concept drift toward
    "drift". Falls back to the reference window, saying so, for versions without the tag."""
    from driftloop.batches import coerce
    from driftloop.lineage import fetch_by_md5
    from driftloop.promote.lineage_tags import TAG_HOLDOUT_MD5

    md5 = champion.tags.get(TAG_HOLDOUT_MD5)
    if md5:
        what = f"holdout of {champion.name} v{champion.version}"
        path = fetch_by_md5(project_root(), md5, what=what)
        return coerce(pd.read_parquet(path), schema, where=f"{what} ({md5})"), what
    return pd.read_parquet(workspace() / paths.REFERENCE), "reference window (champion has no holdout tag)"


def champion_outputs(model_name: str, alias: str, schema: Schema) -> tuple[Any, str | None]:
    """The champion's predictions on its holdout (reference side) and the current window, and
    what the reference side is; ``(None, None)`` on the first cycle."""
    from driftloop.champion import find_champion

    champion = find_champion(model_name, alias)
    if champion is None or schema.task != "classification":
        return None, None
    from driftloop.compare import load_model, predict_outputs
    from driftloop.drift import ModelOutputs

    model = load_model(champion.uri)
    reference, source = champion_reference_frame(champion, schema)
    current = pd.read_parquet(workspace() / paths.CURRENT)
    ref = predict_outputs(model, reference, schema)
    cur = predict_outputs(model, current, schema)
    label = schema.label
    outputs = ModelOutputs(
        classes=list(ref.classes),
        reference_pred=ref.pred,
        reference_proba=ref.proba,
        current_pred=cur.pred,
        current_proba=cur.proba,
        reference_labels=reference[label].to_numpy() if label else None,
        current_labels=current[label].to_numpy() if label else None,
    )
    return outputs, source


def column_scores(result: Mapping[str, Any]) -> pd.DataFrame:
    """Headline per column for `dvc plots`: the largest statistic/threshold ratio over its tests
    (>= 1 means some effect passed its threshold; whether it drifted also needs the p-value)."""
    rows = []
    for name, col in result.get("columns", {}).items():
        ratios = [
            t["statistic"] / t["threshold"]
            for t in col.get("tests", {}).values()
            if t.get("statistic") is not None and t.get("threshold")
        ]
        rows.append({"column": name, "kind": col.get("kind"), "drifted": bool(col.get("drifted")),
                     "effect_over_threshold": round(max(ratios), 4) if ratios else 0.0})
    return pd.DataFrame(rows, columns=["column", "kind", "drifted", "effect_over_threshold"])


def run_drift(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the drift stage; returns the drift.json dict it wrote."""
    from driftloop.drift import DriftConfig, ReferenceSummary, evaluate_drift, render_html
    from driftloop.promote.config import PromoteConfig
    from driftloop.tracking import TrackingConfig, configure, log_cycle_metrics, log_metrics, stage_run

    schema = Schema.from_config(section(cfg, "data").get("schema") or {})
    drift_cfg = DriftConfig.from_dict(section(cfg, "drift"))
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    configure(TrackingConfig.from_dict(section(cfg, "tracking")))
    ws = workspace()
    manifest = read_json(ws / paths.MANIFEST, what="snapshot manifest")
    summary = ReferenceSummary.load(reference_summary_path(ws))

    outputs, outputs_reference = champion_outputs(promote_cfg.model_name, promote_cfg.alias, schema)
    chunks = current_chunks(ws / paths.CURRENT, list(schema.features), drift_cfg.chunk_size)
    report = evaluate_drift(summary, chunks, drift_cfg, model_outputs=outputs)
    result = report.to_dict()
    result["drifted_columns"] = list(report.drifted_columns)
    # Output and concept drift compare the champion on its own holdout with the current window.
    result["model_outputs_reference"] = outputs_reference
    html = render_html(report)
    metrics = report.metrics()
    with StagedOutputs() as staged:  # reports move into place only once MLflow has them too
        write_json(staged.path(ws / paths.DRIFT_JSON), result)
        atomic_write_text(staged.path(ws / paths.DRIFT_HTML), html)
        write_json(staged.path(ws / paths.DRIFT_METRICS), metrics)
        column_scores(result).to_csv(staged.path(ws / paths.DRIFT_COLUMNS), index=False)

        with stage_run("drift", manifest.get("cycle_run_id"), params={"drift": drift_cfg_dict(cfg)}):
            import mlflow

            log_metrics(metrics)
            log_cycle_metrics(manifest.get("cycle_run_id"), {
                k: metrics[k] for k in ("drift.share_drifted", "drift.n_drifted") if k in metrics
            })
            mlflow.log_dict(result, "drift/drift.json")
            mlflow.log_text(html, "drift/drift.html")
            mlflow.set_tag("driftloop.drift.drifted", str(bool(result["dataset"]["drifted"])).lower())
            mlflow.set_tag("driftloop.drift.columns", ",".join(report.drifted_columns) or "-")
    return result


def drift_cfg_dict(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return dict(section(cfg, "drift"))
