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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop.contracts import CompareResult

if TYPE_CHECKING:
    from driftloop.compare.comparison import ComparisonResult
    from driftloop.compare.config import CompareConfig
    from driftloop.compare.predict import Predictions
    from driftloop.schema import Schema


@dataclass(frozen=True)
class HoldoutScores:
    """What scoring the holdout gives the compare stage: the comparison (on the labelled rows) and
    each model's outputs on every holdout row, in the holdout's order (the per-row predictions)."""

    comparison: ComparisonResult
    challenger: Predictions
    champion: Predictions | None


def _take(p: Predictions, mask: Any) -> Predictions:
    from driftloop.compare.predict import Predictions

    return Predictions(p.pred[mask], p.proba[mask] if p.proba is not None else None, p.classes)


def score_holdout(
    path: Path,
    holdout: pd.DataFrame,
    schema: Schema,
    challenger: Any,
    champion: Any | None,
    compare_cfg: CompareConfig,
    cfg: Mapping[str, Any] | None = None,
) -> HoldoutScores:
    """Score challenger and champion on the holdout (``path``, read as ``holdout``) and compare them.

    Every model scores every holdout row once: on the ``local`` engine with a batch-folder source,
    here (:func:`driftloop.compare.predict_outputs`); with ``engine.kind: dask``, or a partitioned
    source (``data.source.format: partitioned``), per partition, every model on each chunk
    (:func:`driftloop.engine.score_partitioned`; the engine decides whether the map runs in a loop
    here or as Dask tasks). The same comparison
    (:func:`driftloop.compare.comparison.compare_predictions`) then runs on the labelled rows of
    those outputs, and the returned outputs cover every row (the per-row predictions file).

    Raises
    ------
    DataError
        No label column, no labelled row, a slice column the holdout lacks, or the scored rows do not
        line up with the holdout's (a holdout rewritten while the stage ran).
    """
    import numpy as np

    from driftloop.engine import engine_config, scoring_workers
    from driftloop.errors import DataError

    if schema.label is None or schema.label not in holdout.columns:
        raise DataError(f"the holdout has no label column {schema.label!r}; columns: {list(holdout.columns)}.")
    missing = [c for c in compare_cfg.slices if c not in holdout.columns]
    if missing:
        raise DataError(f"compare.slices names column(s) {missing} that the holdout lacks.")
    from driftloop.schema import labelled_mask

    labelled = np.asarray(labelled_mask(holdout, schema), dtype=bool)
    if not labelled.any():
        raise DataError("the holdout has no labelled rows.")
    models = {"challenger": challenger, **({"champion": champion} if champion is not None else {})}
    engine_cfg = engine_config(cfg)
    partitioned = ((cfg or {}).get("data") or {}).get("source", {}).get("format") == "partitioned"
    if engine_cfg.kind == "local" and not partitioned:
        from driftloop.compare import predict_outputs

        # Every row once per model: the comparison takes the labelled rows of these outputs, and the
        # per-row predictions file all of them (scoring twice was most of compare at a million rows).
        workers = scoring_workers(cfg)  # a large holdout in row blocks, one process each (engine.n_workers)
        outputs = {
            name: predict_outputs(model, holdout, schema, name, workers=workers) for name, model in models.items()
        }
    else:
        from driftloop.engine import open_engine, score_partitioned

        with open_engine(engine_cfg) as engine:
            kept, outputs = score_partitioned(models, path, schema, engine, keep=[schema.id])
        if not np.array_equal(kept[schema.id].astype(str).to_numpy(), holdout[schema.id].astype(str).to_numpy()):
            raise DataError(f"{path}: the scored rows are not the holdout's rows, in its order; rerun the stage.")
    from driftloop.compare.comparison import compare_predictions

    data = holdout[labelled].reset_index(drop=True)
    ch = outputs["challenger"]
    cp = outputs.get("champion")
    comparison = compare_predictions(
        data[schema.label].to_numpy(),
        _take(ch, labelled),
        _take(cp, labelled) if cp is not None else None,
        compare_cfg,
        schema.task,
        data.loc[:, list(compare_cfg.slices)] if compare_cfg.slices else None,
        ids=data[schema.id] if schema.id in data.columns else None,  # without ids, rows are keyed by content
    )
    return HoldoutScores(comparison, ch, cp)


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
