"""What the compare stage leaves behind, around the :mod:`driftloop.compare` package:
``compare.json``, the DVC plots files, per-row predictions, and one MLflow run per model.

Outside the package on purpose: importing ``driftloop.compare`` loads scipy, which a cycle that
trained no challenger never needs.

Each model is evaluated in its own nested run under the stage's run (same metric keys every
cycle: ``holdout.<metric>``); the stage run carries the deltas with their paired-bootstrap
intervals and tests. Per-row predictions are kept as a DVC output so that promote (and any
auditor) can recompute from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from driftloop.contracts import CompareResult

if TYPE_CHECKING:
    from driftloop.compare.comparison import ComparisonResult
    from driftloop.compare.predict import Predictions
    from driftloop.schema import Schema


def write_dvc_plots(comparison: ComparisonResult, plots_dir: Path) -> list[Path]:
    """The per-model files dvc.yaml's plots overlay in one panel each
    (:func:`driftloop.compare.plots.write_dvc_plots`)."""
    from driftloop.compare.plots import write_dvc_plots as write

    return write(comparison, plots_dir)


def no_challenger(reason: str) -> CompareResult:
    """``compare.json`` of a cycle that trained no challenger."""
    return CompareResult(challenger_trained=False, reason=reason)


def comparison_record(
    comparison: ComparisonResult, challenger_uri: str, champion_uri: str | None, champion_version: str | None
) -> CompareResult:
    """``compare.json``: the comparison, and which two models it scored (by pinned URI and version)."""
    return CompareResult(
        challenger_trained=True,
        evidence=comparison.to_dict(),
        challenger_uri=challenger_uri,
        champion_uri=champion_uri,
        champion_version=champion_version,
    )


def predictions_frame(
    holdout: pd.DataFrame, schema: Schema, challenger: Predictions | None, champion: Predictions | None
) -> pd.DataFrame:
    """Per-row holdout predictions (id, label, challenger, champion); None where a model is absent."""
    preds = holdout[[schema.id]].copy()
    if challenger is None:  # no challenger this cycle: the file still names every holdout row
        return preds.assign(champion=None, challenger=None)
    if schema.label:
        preds["label"] = holdout[schema.label].to_numpy()
    preds["challenger"] = challenger.pred
    preds["champion"] = champion.pred if champion is not None else None
    return preds


def log_comparison(result: CompareResult, comparison: ComparisonResult) -> None:
    """On the active (compare) run: the flat metrics and compare.json. The cycle's parent run gets
    only the primary metric, when the cycle is decided (:mod:`driftloop.stages.conclude`)."""
    from driftloop.tracking import log_dict, log_metrics

    log_metrics(comparison.metrics())
    log_dict(result.to_dict(), "compare/compare.json")


def log_model_runs(result: CompareResult, parent_run_id: str, models: Mapping[str, str | None]) -> None:
    """One nested run per scored model (``evaluate-<role>``) with its ``holdout.<metric>`` values.

    Parameters
    ----------
    result : CompareResult
        ``compare.json``.
    parent_run_id : str
        The compare stage's run.
    models : mapping
        Role (``challenger``, ``champion``) -> model URI; None for a model that was not scored.
    """
    from driftloop.tags import TAG_MODEL_URI, TAG_ROLE, TAG_STAGE
    from driftloop.tracking import log_metrics, nested_run

    for role, uri in models.items():
        if uri is None:
            continue
        with nested_run(
            f"evaluate-{role}",
            parent_run_id,
            {TAG_STAGE: "compare", TAG_ROLE: role, TAG_MODEL_URI: uri},
        ):
            values = {f"holdout.{name}": entry.value(role) for name, entry in result.metrics.items()}
            log_metrics({k: v for k, v in values.items() if v is not None})
