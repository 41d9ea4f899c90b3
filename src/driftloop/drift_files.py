"""The drift stage's inputs and outputs on disk, around the pure :mod:`driftloop.drift` package.

Reads the reference only through its stored summary (built once by the snapshot stage) and
the current window in chunks of ``drift.chunk_size`` rows, so memory does not grow with rows.
When a champion exists, its outputs on both windows give output drift, concept drift (labels
are present) and a label-free performance estimate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


def current_window(
    path: Path, reference: Any, columns: list[str], drift_cfg: Any, cfg: Mapping[str, Any] | None = None
) -> Any:
    """The current side of :func:`~driftloop.drift.evaluate_drift`: the window's chunks (a single file on
    the ``local`` engine: read here, as before the engine existed), or its
    :class:`~driftloop.drift.summary.CurrentSummary` folded per partition on the configured engine
    (:func:`driftloop.engine.summarize_partitioned`) when the window is a partitioned directory (the
    snapshot of a partitioned source) or ``engine.kind`` is ``dask``. Either gives the same report
    from the same rows; the engine only decides where the per-partition map runs.

    Raises
    ------
    DataError
        When the window does not exist (the snapshot stage has not run).
    """
    from driftloop.engine import engine_config, is_partitioned

    engine_cfg = engine_config(cfg)
    if engine_cfg.kind == "local" and not is_partitioned(path):
        return current_chunks(path, columns, drift_cfg.chunk_size)
    if not path.exists():
        raise DataError(f"{path} not found: run the snapshot stage first (dvc repro).")
    from driftloop.engine import open_engine, summarize_partitioned

    with open_engine(engine_cfg) as engine:
        return summarize_partitioned(reference, path, drift_cfg, engine)


def drift_with_champion(
    summary: Any,
    champion: ChampionRef | None,
    schema: Schema,
    drift_cfg: Any,
    cfg: Mapping[str, Any],
    *,
    root: Path,
    ws: Path,
) -> tuple[Any, ChampionScoring]:
    """The drift report of the current window against ``summary``, with the champion's outputs
    (:func:`champion_outputs`), and what else they give.

    The champion scores in a thread while the column tests run here: its scoring waits on worker
    processes (``engine.n_workers``) and the tests mostly release the GIL, so the two overlap. Its
    outputs decide no column and not the verdict, so they join the report at the end
    (:func:`driftloop.drift.evaluate.with_model_outputs`): the report is the one
    ``evaluate_drift(..., model_outputs=...)`` gives.
    """
    from concurrent.futures import ThreadPoolExecutor

    from driftloop.drift import evaluate_drift
    from driftloop.drift.evaluate import with_model_outputs

    if champion is not None:
        # scikit-learn whole, before two threads can import parts of it at once (a half-initialised
        # sklearn module, seen in CI when they did); skops imports every estimator module.
        import skops.io  # noqa: F401

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftloop-champion") as side:
        scoring = side.submit(champion_outputs, champion, schema, root=root, ws=ws, cfg=cfg)
        current = current_window(ws / paths.CURRENT, summary, list(schema.features), drift_cfg, cfg)
        report = evaluate_drift(summary, current, drift_cfg)
        outputs, scored = scoring.result()
    return with_model_outputs(report, outputs, drift_cfg), scored


def reference_summary_path(ws: Path) -> Path:
    """The snapshot's reference summary: the ``.npz``, or the format-1 ``.json`` of a snapshot taken
    before the ``.npz`` format (the snapshot stage removes it once it writes the ``.npz``)."""
    path = ws / paths.REFERENCE_SUMMARY
    legacy = ws / paths.LEGACY_REFERENCE_SUMMARY
    return legacy if not path.exists() and legacy.exists() else path


@dataclass(frozen=True)
class ChampionScoring:
    """What the champion's outputs give the drift stage beside :class:`~driftloop.drift.ModelOutputs`.

    Attributes
    ----------
    reference : str or None
        What the champion's reference outputs were measured on (``None``: no champion outputs).
    queue : pandas.DataFrame
        The review queue (:func:`driftloop.review.review_queue`); its header alone when there is
        no champion, the task is a regression or the model gives no probabilities.
    reviewed : mapping or None
        The drift report's ``reviewed_labels`` section (:func:`driftloop.review.reviewed_section`);
        ``None`` when nobody returned a label.
    """

    reference: str | None
    queue: pd.DataFrame
    reviewed: Mapping[str, Any] | None = None


def champion_outputs(
    champion: ChampionRef | None,
    schema: Schema,
    *,
    root: Path,
    ws: Path,
    load_options: Mapping[str, Any] | None = None,
    cfg: Mapping[str, Any] | None = None,
) -> tuple[ModelOutputs | None, ChampionScoring]:
    """The champion's predictions on its holdout (reference side) and the current window, and
    what else they give: the review queue and the reviewed labels' disagreement with them.
    ``(None, ChampionScoring(None, <empty queue>))`` on a first cycle or for a regressor (no class
    probabilities: a regressor's queue stays empty, see :mod:`driftloop.review`).

    ``champion`` is the one the cycle started with (the manifest's), so that a rerun after a
    promotion measures the same model. ``load_options`` are :func:`driftloop.compare.load_model`'s
    keywords (:func:`driftloop.compare.model_format.load_options`): a pickled champion is refused
    unless ``compare.allow_pickle_models``. ``cfg``, the composed config, gives them instead, and
    also ``drift.review`` (the queue's size), ``drift.seed`` and ``data.source.reviewed_labels``.
    The champion is loaded once: the queue and the reviewed rows reuse its outputs.
    """
    from driftloop.review import empty_queue

    empty = ChampionScoring(None, empty_queue(schema.id, schema.features))
    if champion is None or schema.task != "classification":
        return None, empty
    from driftloop.champion import champion_reference_frame, with_tags
    from driftloop.compare import load_model, predict_outputs
    from driftloop.drift import ModelOutputs

    if cfg is not None:
        from driftloop.compare.model_format import load_options as options_of

        load_options = options_of(cfg)
    champion = with_tags(champion)
    model = load_model(champion.uri, **dict(load_options or {}))
    reference, source = champion_reference_frame(champion, schema, root=root, reference=ws / paths.REFERENCE)
    current = pd.read_parquet(ws / paths.CURRENT)
    from driftloop.engine import scoring_workers

    workers = scoring_workers(cfg) if cfg is not None else 1
    ref = predict_outputs(model, reference, schema, workers=workers)
    cur = predict_outputs(model, current, schema, workers=workers)
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
    scoring = review_scoring(
        model, champion, schema, ws=ws, cfg=cfg, current=current, current_pred=cur.pred, current_proba=cur.proba
    )
    return outputs, dataclasses.replace(scoring, reference=source)


def review_scoring(
    model: Any,
    champion: ChampionRef,
    schema: Schema,
    *,
    ws: Path,
    cfg: Mapping[str, Any] | None,
    current: pd.DataFrame,
    current_pred: Any,
    current_proba: Any,
) -> ChampionScoring:
    """The review queue from the champion's outputs on ``current``, and the disagreement of the
    labels people returned with the champion's predictions on their rows.

    The rows already reviewed are left out of the queue (a row is reviewed once). The reviewed
    rows are looked up in both windows of the snapshot: the current window (predictions reused)
    and the reference (predicted here, only the reviewed rows). Problems of the returned files
    (an unknown class, an id labelled twice differently, a missing column) are listed in the
    section; ids in no window are counted (the snapshot names ids in no batch at all).
    """
    import numpy as np

    from driftloop.config import section
    from driftloop.drift.config import DriftConfig
    from driftloop.review import (
        disagreement,
        empty_queue,
        review_files,
        review_queue,
        reviewed_section,
        validate_reviews,
    )

    drift_cfg = DriftConfig.from_dict(section(cfg, "drift") if cfg is not None else {})
    folder = ((section(cfg, "data").get("source") or {}).get("reviewed_labels")) if cfg is not None else None
    files = review_files(ws / str(folder) if folder else None)
    reviews, problems = validate_reviews(files, None, schema.classes or None, task=schema.task)
    ids = current[schema.id].astype(str)
    if current_proba is None:  # a model without predict_proba: no confidence to rank by
        queue = empty_queue(schema.id, schema.features)
    else:
        fresh = ~ids.isin(reviews.index).to_numpy()
        queue = review_queue(
            current[fresh],
            np.asarray(current_pred)[fresh],
            np.asarray(current_proba).max(axis=1)[fresh],
            size=drift_cfg.review.size,
            control=drift_cfg.review.control,
            seed=drift_cfg.seed,
            id_column=schema.id,
            features=list(schema.features),
        )
    if not len(reviews) and not problems:
        return ChampionScoring(None, queue)
    from driftloop.compare import predict_outputs

    predicted = pd.Series(np.asarray(current_pred), index=ids.to_numpy())
    reference_ids = pd.read_parquet(ws / paths.REFERENCE, columns=[schema.id])[schema.id].astype(str)
    wanted = reference_ids.isin(reviews.index) & ~reference_ids.isin(predicted.index)
    if wanted.any():
        rows = pd.read_parquet(ws / paths.REFERENCE)[wanted.to_numpy()]
        more = predict_outputs(model, rows, schema, name="champion").pred
        predicted = pd.concat([pd.Series(np.asarray(more), index=reference_ids[wanted].to_numpy()), predicted])
    table = disagreement(reviews, predicted)
    outside = sorted(reviews.index.difference(predicted.index))
    reviewed = reviewed_section(
        table, n_reviewed=len(reviews), problems=problems, model=f"{champion.name} v{champion.version}", outside=outside
    )
    return ChampionScoring(None, queue, reviewed)


def write_review_queue(path: Path, scoring: ChampionScoring) -> None:
    """Write the review queue to ``path`` (the stage's staged file) and log it on the active
    (drift) run as ``review/review_queue.csv``: the same bytes in both places."""
    from driftloop.review import queue_csv
    from driftloop.tracking import log_text

    text = queue_csv(scoring.queue)
    path.write_bytes(text.encode("utf-8"))  # bytes: a comment's "\r\n" is not translated on any platform
    log_text(text, "review/review_queue.csv")


def drift_result(
    report: DriftReport, manifest: Manifest | None, outputs_reference: str | ChampionScoring | None
) -> tuple[DriftReport, DriftResult]:
    """The report with the rows the snapshot left out of both windows (and the reviewed labels'
    section, given a :class:`ChampionScoring`), and its ``drift.json`` form.

    The skipped and late rows belong in the report too, not only in the manifest; the JSON also
    names the drifted columns and what the champion's reference outputs were measured on.
    """
    if isinstance(outputs_reference, ChampionScoring):
        report = dataclasses.replace(report, reviewed_labels=outputs_reference.reviewed)
        outputs_reference = outputs_reference.reference
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
