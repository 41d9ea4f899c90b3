"""What the compare stage leaves behind, around the :mod:`driftloop.compare` package:
``compare.json``, the DVC metrics and plots files, per-row predictions, and one MLflow run per model.

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
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop.contracts import CompareResult

if TYPE_CHECKING:
    from driftloop.compare.comparison import ComparisonResult
    from driftloop.compare.predict import Predictions
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


def headline_metrics(result: CompareResult | Mapping[str, Any]) -> dict[str, Any]:
    """A small metrics file for `dvc metrics show/diff`: for the task's headline metrics, both
    models' values, the delta and its interval (the decision is promote's, in decision.json).

    Examples
    --------
    >>> headline_metrics({"challenger_trained": False, "metrics": {}})
    {'challenger_trained': False}
    """
    if not isinstance(result, CompareResult):
        result = CompareResult.from_dict(result)
    out: dict[str, Any] = {"challenger_trained": result.challenger_trained}
    metrics = result.metrics
    if not metrics:  # no challenger: nothing to show, and no reason to load scipy with the compare package
        return out
    from driftloop.compare.comparison import HEADLINE

    keep = ("champion", "challenger", "delta", "ci_low", "ci_high", "p_value")
    for name in HEADLINE.get(str(result.task), ()):
        if name in metrics:
            entry = metrics[name]
            out[name] = {k: getattr(entry, k) for k in keep if getattr(entry, k) is not None}
    return out


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


def headline_cycle_metrics(flat: Mapping[str, float], task: str) -> dict[str, float]:
    """The comparison's headline metrics (no slices), also logged on the cycle's run."""
    from driftloop.compare.comparison import HEADLINE

    headline = HEADLINE.get(task, ())
    return {k: v for k, v in flat.items() if not k.startswith("compare.slice.") and k.rsplit(".", 1)[-1] in headline}


def log_comparison(result: CompareResult, comparison: ComparisonResult, task: str, cycle_run_id: str | None) -> None:
    """On the active (compare) run: the flat metrics and compare.json; the headline on the cycle's run."""
    from driftloop.tracking import log_cycle_metrics, log_dict, log_metrics

    flat = comparison.metrics()
    log_metrics(flat)
    log_cycle_metrics(cycle_run_id, headline_cycle_metrics(flat, task))
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
