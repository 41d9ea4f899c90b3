"""Champion vs challenger on exactly the same holdout rows.

Every metric delta (``challenger - champion``) gets a paired bootstrap interval:
both models' per-row columns are weighted by the *same* resample counts (see
:mod:`driftloop.compare.bootstrap`). Accuracy also gets McNemar's exact test and
macro ROC AUC a paired DeLong test (its interval is DeLong's normal interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from driftloop.compare.auc import delong_paired, macro_auc
from driftloop.compare.bootstrap import bootstrap_sums, percentile_interval
from driftloop.compare.config import CompareConfig
from driftloop.compare.decision import decide
from driftloop.compare.mcnemar import McNemarResult, mcnemar_exact
from driftloop.compare.metrics import (
    ClassificationLayout,
    classification_columns,
    classification_from_sums,
    encode,
    greater_is_better,
    metric_key,
    regression_columns,
    regression_from_sums,
)
from driftloop.compare.predict import Predictions, predict_outputs
from driftloop.errors import ConfigError, DataError
from driftloop.schema import Schema

__all__ = ["MetricComparison", "ComparisonResult", "compare_predictions", "compare_models"]


def _f(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


@dataclass(frozen=True)
class MetricComparison:
    """One metric for both models on the same rows.

    ``delta = challenger - champion`` (raw, whatever the metric's direction); ``ci_low``,
    ``ci_high`` bound the delta; ``p_value`` is set where a test applies (``test`` names it).
    """

    name: str
    champion: float | None
    challenger: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    greater_is_better: bool
    p_value: float | None = None
    test: str | None = None
    ci_method: str = "paired_bootstrap"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: _f(getattr(self, k)) for k in ("champion", "challenger", "delta", "ci_low",
                                                                  "ci_high")}
        if self.p_value is not None:
            out["p_value"] = _f(self.p_value)
            out["test"] = self.test
        out["greater_is_better"] = self.greater_is_better
        out["ci_method"] = self.ci_method if self.delta is not None else None
        return out


@dataclass(frozen=True)
class ComparisonResult:
    """The comparison of two models on one holdout, and the decision.

    ``to_dict()`` is the ``reports/compare.json`` format; ``metrics()`` the flat MLflow
    metrics. The predictions are kept (not serialised) for :func:`write_plots`.
    """

    task: str
    primary_metric: str
    greater_is_better: bool
    margin: float
    confidence: float
    n_bootstrap: int
    bootstrap: str
    seed: int
    n_holdout: int
    classes: tuple[str, ...]
    metrics_table: dict
    improved: bool | None
    reasons: tuple[str, ...]
    slices: dict = field(default_factory=dict)
    mcnemar: McNemarResult | None = None
    y_true: np.ndarray | None = field(default=None, repr=False, compare=False)
    challenger_predictions: Predictions | None = field(default=None, repr=False, compare=False)
    champion_predictions: Predictions | None = field(default=None, repr=False, compare=False)

    @property
    def has_champion(self) -> bool:
        return self.champion_predictions is not None or any(
            m.champion is not None for m in self.metrics_table.values())

    def to_dict(self) -> dict[str, Any]:
        """The ``compare.json`` document (JSON-ready; NaN becomes null)."""
        out: dict[str, Any] = {
            "improved": self.improved,
            "reasons": list(self.reasons),
            "has_champion": self.has_champion,
            "task": self.task,
            "primary_metric": self.primary_metric,
            "greater_is_better": self.greater_is_better,
            "margin": self.margin,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "n_holdout": self.n_holdout,
            "classes": list(self.classes),
            "metrics": {name: m.to_dict() for name, m in self.metrics_table.items()},
            "slices": self.slices,
        }
        if self.mcnemar is not None:
            out["mcnemar"] = {"champion_only_correct": self.mcnemar.champion_only,
                              "challenger_only_correct": self.mcnemar.challenger_only,
                              "p_value": self.mcnemar.p_value}
        return out

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics with stable keys, e.g. ``compare.delta.f1_macro``.

        Keys: ``compare.{champion,challenger,delta,ci_low,ci_high,p_value}.<metric>``,
        ``compare.improved`` (1/0; absent without a champion), ``compare.n_holdout`` and
        ``compare.slice.<column>.<level>.{champion,challenger,delta,ci_low,ci_high}.<metric>``.
        """
        out: dict[str, float] = {"compare.n_holdout": float(self.n_holdout)}
        if self.improved is not None:
            out["compare.improved"] = 1.0 if self.improved else 0.0
        for name, m in self.metrics_table.items():
            for part in ("champion", "challenger", "delta", "ci_low", "ci_high", "p_value"):
                value = _f(getattr(m, part))
                if value is not None:
                    out[f"compare.{part}.{name}"] = value
        for column, levels in self.slices.items():
            for level, entry in levels.items():
                for name, values in entry["metrics"].items():
                    for part, value in values.items():
                        if part in ("champion", "challenger", "delta", "ci_low", "ci_high") and value is not None:
                            out[f"compare.slice.{metric_key(column)}.{metric_key(level)}.{part}.{name}"] = value
        return out


def _aligned_proba(p: Predictions, classes: tuple[str, ...]) -> np.ndarray | None:
    """Probabilities re-ordered to ``classes`` (zeros for a class the model never saw)."""
    if p.proba is None:
        return None
    out = np.zeros((len(p.proba), len(classes)))
    src = {c: i for i, c in enumerate(p.classes)}
    for j, c in enumerate(classes):  # a loop over classes, not rows
        if c in src:
            out[:, j] = p.proba[:, src[c]]
    return out


def _check_classification(y: np.ndarray, models: Mapping[str, Predictions | None]) -> None:
    labels = sorted(set(y.tolist()))
    if len(labels) < 2:
        raise DataError(f"the holdout holds a single class {labels}: accuracy, F1 and AUC cannot tell two models "
                        "apart. Use a longer holdout (train.holdout_days) or check the labels.")
    for name, p in models.items():
        if p is None or not p.classes:
            continue
        unseen = sorted(set(labels) - set(p.classes))
        if unseen and p.proba is not None:
            raise DataError(f"holdout label(s) {unseen} were unseen in training by the {name} (its classes: "
                            f"{list(p.classes)}); it cannot score them. Retrain on data that holds them or "
                            "drop them from the holdout.")


def _evaluate(task: str, y: np.ndarray, models: dict[str, Predictions | None], cfg: CompareConfig,
              rng: np.random.Generator, classes: tuple[str, ...]) -> tuple[dict[str, MetricComparison],
                                                                        McNemarResult | None]:
    names = [k for k, v in models.items() if v is not None]
    blocks, layouts = [], []
    if task == "classification":
        y_i = encode(y, classes)
        preds = {k: encode(models[k].pred, classes) for k in names}
        scored = tuple(sorted(set(y_i.tolist()).union(*(set(p.tolist()) for p in preds.values()))))
        probas = {k: _aligned_proba(models[k], classes) for k in names}
        for k in names:
            layout = ClassificationLayout(classes, scored, probas[k] is not None, cfg.ece_bins)
            layouts.append(layout)
            blocks.append(classification_columns(y_i, preds[k], probas[k], layout))

        def from_sums(s, layout):
            return classification_from_sums(s, layout)
    else:
        for k in names:
            layouts.append(None)
            blocks.append(regression_columns(y, models[k].pred))

        def from_sums(s, layout):
            return regression_from_sums(s)

    X = np.hstack(blocks)
    bounds = np.cumsum([0] + [b.shape[1] for b in blocks])
    point_sums = X.sum(axis=0)
    point = {k: from_sums(point_sums[bounds[i]:bounds[i + 1]], layouts[i]) for i, k in enumerate(names)}
    boot = None
    if "champion" in names:
        sums = bootstrap_sums(X, cfg.n_bootstrap, rng, cfg.bootstrap)
        boot = {k: from_sums(sums[:, bounds[i]:bounds[i + 1]], layouts[i]) for i, k in enumerate(names)}

    result: dict[str, MetricComparison] = {}
    for metric in point["challenger"]:
        ch = float(point["challenger"][metric])
        cp = float(point["champion"][metric]) if "champion" in point and metric in point["champion"] else None
        delta = low = high = None
        if cp is not None and boot is not None:
            delta = ch - cp
            low, high = percentile_interval(boot["challenger"][metric] - boot["champion"][metric], cfg.confidence)
        result[metric] = MetricComparison(metric, cp, ch, delta, low, high, greater_is_better(metric))

    mcn = None
    if task == "classification":
        if "champion" in names:
            mcn = mcnemar_exact(preds["champion"] == y_i, preds["challenger"] == y_i)
            result["accuracy"] = MetricComparison(**{**result["accuracy"].__dict__, "p_value": mcn.p_value,
                                                     "test": "mcnemar_exact"})
        if probas["challenger"] is not None and len(set(y_i.tolist())) > 1:
            if "champion" in names and probas["champion"] is not None:
                t = delong_paired(y_i, probas["champion"], probas["challenger"], cfg.confidence)
                result["roc_auc"] = MetricComparison("roc_auc", t.champion, t.challenger, t.delta, t.ci_low,
                                                     t.ci_high, True, t.p_value, "delong", "delong")
            else:
                result["roc_auc"] = MetricComparison("roc_auc", None, macro_auc(y_i, probas["challenger"]),
                                                     None, None, None, True, None, None, "delong")
    return result, mcn


def compare_predictions(y_true: Any, challenger: Predictions, champion: Predictions | None, cfg: CompareConfig,
                        task: str = "classification", slice_frame: pd.DataFrame | None = None) -> ComparisonResult:
    """Compare two models' predictions on the same rows (the pure core of :func:`compare_models`).

    Parameters
    ----------
    y_true : array-like
        The holdout labels (class names or values).
    challenger, champion : Predictions
        ``champion`` may be None (first cycle).
    cfg : CompareConfig
    task : {"classification", "regression"}
    slice_frame : pandas.DataFrame, optional
        Columns named in ``cfg.slices``, aligned with ``y_true``.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    DataError
        A single-class holdout, labels unseen in training, or mismatched lengths.
    ConfigError
        A primary or guard metric that this task does not have.
    """
    y = np.asarray(y_true)
    models = {"challenger": challenger, "champion": champion}
    for name, p in models.items():
        if p is not None and len(p.pred) != len(y):
            raise DataError(f"the {name} gave {len(p.pred)} prediction(s) for {len(y)} holdout row(s).")
    if task == "classification":
        y = y.astype(str)
        _check_classification(y, models)
        known = set(y.tolist())
        for p in models.values():
            if p is not None:
                known |= set(p.classes) | set(p.pred.tolist())
        classes = tuple(sorted(known))
    else:
        y = y.astype(np.float64)
        if len(y) < 2 or np.ptp(y) == 0:
            raise DataError(f"the regression holdout has {len(y)} row(s) with a constant target: R² is undefined.")
        classes = ()
    seeds = np.random.SeedSequence(cfg.seed).spawn(1 + cfg.max_slice_levels * max(len(cfg.slices), 1))
    table, mcn = _evaluate(task, y, models, cfg, np.random.default_rng(seeds[0]), classes)

    primary = cfg.primary_for(task)
    for name in (primary, *cfg.guards):
        if name not in table:
            raise ConfigError(f"compare metric {name!r} is not computed for this {task} task; available: "
                              f"{sorted(table)}.")
    improved, reasons = decide(table, cfg, task, champion is not None)

    slices: dict[str, dict] = {}
    if cfg.slices and slice_frame is not None:
        keep = [primary] + (["accuracy"] if task == "classification" and primary != "accuracy" else [])
        seed_i = 1
        for column in cfg.slices:
            values = slice_frame[column].astype("string").fillna("__missing__").to_numpy()
            counts = pd.Series(values).value_counts().iloc[: cfg.max_slice_levels]
            slices[column] = {}
            for level, n in counts.items():
                if n < cfg.min_slice_rows:
                    continue
                mask = values == level
                sub = {k: None if p is None else Predictions(p.pred[mask], None if p.proba is None
                                                              else p.proba[mask], p.classes)
                       for k, p in models.items()}
                sub_table, _ = _evaluate(task, y[mask], sub, cfg, np.random.default_rng(seeds[seed_i]), classes)
                seed_i += 1
                slices[column][str(level)] = {"n": int(n), "metrics": {
                    k: sub_table[k].to_dict() for k in keep if k in sub_table}}

    return ComparisonResult(
        task=task, primary_metric=primary,
        greater_is_better=cfg.greater_is_better if cfg.greater_is_better is not None else greater_is_better(primary),
        margin=cfg.margin, confidence=cfg.confidence, n_bootstrap=cfg.n_bootstrap, bootstrap=cfg.bootstrap,
        seed=cfg.seed, n_holdout=len(y), classes=classes, metrics_table=table, improved=improved,
        reasons=reasons, slices=slices, mcnemar=mcn, y_true=y, challenger_predictions=challenger,
        champion_predictions=champion,
    )


def compare_models(holdout: pd.DataFrame, schema: Schema, challenger: Any, champion: Any | None,
                   cfg: CompareConfig) -> ComparisonResult:
    """Score challenger and champion on the same holdout and compare them.

    Parameters
    ----------
    holdout : pandas.DataFrame
        Labelled rows (unlabelled ones are dropped) with the models' input columns.
    schema : Schema
    challenger, champion : estimator, LoadedModel or PyFuncModel
        ``champion`` may be None (first cycle): champion values are null and
        ``improved`` is null with the reason "no champion".
    cfg : CompareConfig

    Returns
    -------
    ComparisonResult

    Raises
    ------
    DataError
        No label column, a single-class holdout, labels unseen in training, a slice
        column the holdout lacks.
    ModelError
        A model whose input schema differs from the holdout's, or that fails to predict.

    Examples
    --------
    >>> result = compare_models(holdout, schema, challenger, champion, CompareConfig())  # doctest: +SKIP
    >>> result.to_dict()["improved"]  # doctest: +SKIP
    """
    from driftloop.train.labels import labelled_mask

    if schema.label is None or schema.label not in holdout.columns:
        raise DataError(f"the holdout has no label column {schema.label!r}; columns: {list(holdout.columns)}.")
    missing = [c for c in cfg.slices if c not in holdout.columns]
    if missing:
        raise DataError(f"compare.slices names column(s) {missing} that the holdout lacks.")
    data = holdout[labelled_mask(holdout, schema)].reset_index(drop=True)
    if data.empty:
        raise DataError("the holdout has no labelled rows.")
    ch = predict_outputs(challenger, data, schema, "challenger")
    cp = predict_outputs(champion, data, schema, "champion") if champion is not None else None
    return compare_predictions(data[schema.label].to_numpy(), ch, cp, cfg, schema.task,
                               data.loc[:, list(cfg.slices)] if cfg.slices else None)
