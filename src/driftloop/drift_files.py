"""The drift stage's inputs and outputs on disk, around the pure :mod:`driftloop.drift` package.

Reads the reference only through its stored summary (built once by the snapshot stage) and
the current window in chunks of ``drift.chunk_size`` rows, so memory does not grow with rows.
When a champion exists, its outputs on both windows give output drift, concept drift (labels
are present) and a label-free performance estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop import paths
from driftloop.contracts import DriftResult, Manifest
from driftloop.errors import DataError
from driftloop.schema import Schema

if TYPE_CHECKING:
    from driftloop.champion import ChampionRef
    from driftloop.drift import DriftReport, ModelOutputs


def current_chunks(path: Path, columns: list[str], chunk_size: int) -> Iterable[pd.DataFrame]:
    """The snapshot's current window in chunks of ``drift.chunk_size`` rows (memory flat in rows).

    Raises
    ------
    DataError
        When the file does not exist (the snapshot stage has not run).
    """
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


def champion_outputs(
    champion: ChampionRef | None,
    schema: Schema,
    *,
    root: Path,
    ws: Path,
    load_options: Mapping[str, Any] | None = None,
) -> tuple[ModelOutputs | None, str | None]:
    """The champion's predictions on its holdout (reference side) and the current window, and
    what the reference side is; ``(None, None)`` on a first cycle or for a regressor.

    ``champion`` is the one the cycle started with (the manifest's), so that a rerun after a
    promotion measures the same model. ``load_options`` are :func:`driftloop.compare.load_model`'s
    keywords (:func:`driftloop.compare.model_format.load_options`): a pickled champion is refused
    unless ``compare.allow_pickle_models``.
    """
    if champion is None or schema.task != "classification":
        return None, None
    from driftloop.champion import champion_reference_frame, with_tags
    from driftloop.compare import load_model, predict_outputs
    from driftloop.drift import ModelOutputs

    champion = with_tags(champion)
    model = load_model(champion.uri, **dict(load_options or {}))
    reference, source = champion_reference_frame(champion, schema, root=root, reference=ws / paths.REFERENCE)
    current = pd.read_parquet(ws / paths.CURRENT)
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


def drift_result(
    report: DriftReport, manifest: Manifest | None, outputs_reference: str | None
) -> tuple[DriftReport, DriftResult]:
    """The report with the rows the snapshot left out of both windows, and its ``drift.json`` form.

    The skipped and late rows belong in the report too, not only in the manifest; the JSON also
    names the drifted columns and what the champion's reference outputs were measured on.
    """
    if manifest is not None:
        report = dataclasses.replace(report, skipped=manifest.skipped, late=manifest.late)
    result = DriftResult(
        report=report.to_dict(),
        drifted_columns=tuple(report.drifted_columns),
        model_outputs_reference=outputs_reference,
    )
    return report, result


def column_scores(result: DriftResult) -> pd.DataFrame:
    """Headline per column for `dvc plots`: the largest statistic/threshold ratio over its tests
    (>= 1 means some effect passed its threshold; whether it drifted also needs the p-value)."""
    rows = []
    for name, col in result.columns.items():
        ratios = [
            t["statistic"] / t["threshold"]
            for t in col.get("tests", {}).values()
            if t.get("statistic") is not None and t.get("threshold")
        ]
        rows.append(
            {
                "column": name,
                "kind": col.get("kind"),
                "drifted": bool(col.get("drifted")),
                "effect_over_threshold": round(max(ratios), 4) if ratios else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["column", "kind", "drifted", "effect_over_threshold"])


def log_drift(result: DriftResult, html: str, metrics: Mapping[str, float], cycle_run_id: str | None) -> None:
    """On the active (drift) run: the metrics, drift.json, the HTML report and the verdict as tags;
    the share and count of drifted columns also on the cycle's run."""
    from driftloop.tags import TAG_DRIFT_COLUMNS, TAG_DRIFT_DRIFTED
    from driftloop.tracking import log_cycle_metrics, log_dict, log_metrics, log_text, set_tags

    log_metrics(metrics)
    # the drift share on the cycle's parent run at once (one of its fixed headline metrics)
    log_cycle_metrics(cycle_run_id, {k: metrics[k] for k in ("drift.share_drifted",) if k in metrics})
    log_dict(result.to_dict(), "drift/drift.json")
    log_text(html, "drift/drift.html")
    set_tags(
        {
            TAG_DRIFT_DRIFTED: str(result.drifted).lower(),
            TAG_DRIFT_COLUMNS: ",".join(result.drifted_columns) or "-",
        }
    )
