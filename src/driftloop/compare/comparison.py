"""Champion vs challenger on exactly the same holdout rows: evidence, not a decision.

Every metric delta (``challenger - champion``) gets a paired bootstrap interval:
both models' per-row columns are weighted by the *same* resample counts (see
:mod:`driftloop.compare.bootstrap`). Accuracy also gets McNemar's exact test and
macro ROC AUC a paired DeLong test (its interval is DeLong's normal interval). Each
model's own bootstrap standard error of each metric is kept too (promote's
validation-gap check reads it). Whether the challenger is better is decided by the
promote stage's rules (:mod:`driftloop.promote.gates`), never here.

Reproducible for the same rows in any order: rows are put in a canonical order (by the
hash of their id, else of their contents) and each row's Poisson resample counts are a
function of (seed, row key, resample index) (:func:`~driftloop.compare.bootstrap.row_keys`),
so permuting the holdout gives byte-identical metrics, intervals and slices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftloop.compare.auc import delong_paired, macro_auc
from driftloop.compare.bootstrap import bootstrap_sums, hash_rows, percentile_interval, row_keys
from driftloop.compare.config import SLICE_METRICS, CompareConfig
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
from driftloop.errors import DataError
from driftloop.schema import Schema

__all__ = [
    "HEADLINE",
    "ComparisonResult",
    "MetricComparison",
    "compare_models",
    "compare_predictions",
    "headline_lines",
]

#: The metrics a person reads first, per task (stage metrics file, CLI, MLflow cycle run).
HEADLINE: dict[str, tuple[str, ...]] = {
    "classification": ("f1_macro", "accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}


def _f(x: Any) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _se(values: np.ndarray) -> float | None:
    """Bootstrap standard error (ddof=1) over the finite replicates."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1)) if v.size > 1 else None


@dataclass(frozen=True)
class MetricComparison:
    """One metric for both models on the same rows.

    ``delta = challenger - champion`` (raw, whatever the metric's direction); ``ci_low``,
    ``ci_high`` bound the delta; ``p_value`` is set where a test applies (``test`` names it).
    ``challenger_se`` / ``champion_se`` are each model's own bootstrap standard error of the
    metric on these rows (None where no bootstrap ran: without a champion, or for DeLong's AUC).
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
    challenger_se: float | None = None
    champion_se: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: _f(getattr(self, k))
            for k in ("champion", "challenger", "delta", "ci_low", "ci_high", "challenger_se", "champion_se")
        }
        if self.p_value is not None:
            out["p_value"] = _f(self.p_value)
            out["test"] = self.test
        out["greater_is_better"] = self.greater_is_better
        out["ci_method"] = self.ci_method if self.delta is not None else None
        return out


@dataclass(frozen=True)
class ComparisonResult:
    """The comparison of two models on one holdout (evidence for promote's rules).

    ``to_dict()`` is the ``reports/compare.json`` format; ``metrics()`` the flat MLflow
    metrics. The predictions are kept (not serialised) for :func:`write_plots`.

    ``bootstrap_keys`` says what the resample counts are keyed by: ``"id"`` (the id column) or
    ``"content"`` (no ids given: each row's label and predictions). ``disagreement`` holds how
    different the two models are on these rows, the quantity the power of a paired comparison
    depends on (``python bench/bench_power.py``): ``disagreement_rate``, the share of rows whose
    predicted classes differ, or ``error_correlation``, the correlation of the two models' errors.
    """

    task: str
    confidence: float
    n_bootstrap: int
    bootstrap: str
    seed: int
    n_holdout: int
    classes: tuple[str, ...]
    metrics_table: dict
    slices: dict = field(default_factory=dict)
    mcnemar: McNemarResult | None = None
    bootstrap_keys: str = "content"
    disagreement: dict = field(default_factory=dict)
    y_true: np.ndarray | None = field(default=None, repr=False, compare=False)
    challenger_predictions: Predictions | None = field(default=None, repr=False, compare=False)
    champion_predictions: Predictions | None = field(default=None, repr=False, compare=False)

    @property
    def has_champion(self) -> bool:
        return self.champion_predictions is not None or any(m.champion is not None for m in self.metrics_table.values())

    def to_dict(self) -> dict[str, Any]:
        """The ``compare.json`` document (JSON-ready; NaN becomes null)."""
        out: dict[str, Any] = {
            "has_champion": self.has_champion,
            "task": self.task,
            "confidence": self.confidence,
            "n_bootstrap": self.n_bootstrap,
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "bootstrap_keys": self.bootstrap_keys,
            "n_holdout": self.n_holdout,
            **{k: _f(v) for k, v in self.disagreement.items()},
            "classes": list(self.classes),
            "metrics": {name: m.to_dict() for name, m in self.metrics_table.items()},
            "slices": self.slices,
        }
        if self.mcnemar is not None:
            out["mcnemar"] = {
                "champion_only_correct": self.mcnemar.champion_only,
                "challenger_only_correct": self.mcnemar.challenger_only,
                "p_value": self.mcnemar.p_value,
            }
        return out

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics with stable keys, e.g. ``compare.delta.f1_macro``.

        Keys: ``compare.{champion,challenger,delta,ci_low,ci_high,p_value}.<metric>``,
        ``compare.n_holdout``, ``compare.disagreement_rate`` (classification) or
        ``compare.error_correlation`` (regression) when there is a champion, and
        ``compare.slice.<column>.<level>.{champion,challenger,delta,ci_low,ci_high}.<metric>``.
        """
        out: dict[str, float] = {"compare.n_holdout": float(self.n_holdout)}
        out.update({f"compare.{k}": float(v) for k, v in self.disagreement.items() if _f(v) is not None})
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
        raise DataError(
            f"the holdout holds a single class {labels}: accuracy, F1 and AUC cannot tell two models "
            "apart. Use a longer holdout (train.holdout_days) or check the labels."
        )
    for name, p in models.items():
        if p is None or not p.classes:
            continue
        unseen = sorted(set(labels) - set(p.classes))
        if unseen and p.proba is not None:
            raise DataError(
                f"holdout label(s) {unseen} were unseen in training by the {name} (its classes: "
                f"{list(p.classes)}); it cannot score them. Retrain on data that holds them or "
                "drop them from the holdout."
            )


def _evaluate(
    task: str,
    y: np.ndarray,
    models: dict[str, Predictions | None],
    cfg: CompareConfig,
    rng: np.random.Generator,
    classes: tuple[str, ...],
    keys: np.ndarray,
) -> tuple[dict[str, MetricComparison], McNemarResult | None]:
    present = {k: v for k, v in models.items() if v is not None}
    names = list(present)
    blocks: list[np.ndarray] = []
    layouts: list[ClassificationLayout | None] = []
    if task == "classification":
        y_i = encode(y, classes)
        preds = {k: encode(present[k].pred, classes) for k in names}
        scored = tuple(sorted(set(y_i.tolist()).union(*(set(p.tolist()) for p in preds.values()))))
        probas = {k: _aligned_proba(present[k], classes) for k in names}
        for k in names:
            layout = ClassificationLayout(classes, scored, probas[k] is not None, cfg.ece_bins)
            layouts.append(layout)
            blocks.append(classification_columns(y_i, preds[k], probas[k], layout))

        def from_sums(s, layout):
            return classification_from_sums(s, layout)
    else:
        for k in names:
            layouts.append(None)
            blocks.append(regression_columns(y, present[k].pred))

        def from_sums(s, layout):
            return regression_from_sums(s)

    X = np.hstack(blocks)
    bounds = np.cumsum([0] + [b.shape[1] for b in blocks])
    point_sums = X.sum(axis=0)
    point = {k: from_sums(point_sums[bounds[i] : bounds[i + 1]], layouts[i]) for i, k in enumerate(names)}
    boot = None
    if "champion" in names:
        # Poisson counts keyed by row; multinomial ones follow the canonical order the rows are in.
        sums = bootstrap_sums(X, cfg.n_bootstrap, rng, cfg.bootstrap, keys=keys if cfg.bootstrap == "poisson" else None)
        boot = {k: from_sums(sums[:, bounds[i] : bounds[i + 1]], layouts[i]) for i, k in enumerate(names)}

    result: dict[str, MetricComparison] = {}
    for metric in point["challenger"]:
        ch = float(point["challenger"][metric])
        cp = float(point["champion"][metric]) if "champion" in point and metric in point["champion"] else None
        delta = low = high = se_ch = se_cp = None
        if cp is not None and boot is not None:
            delta = ch - cp
            low, high = percentile_interval(boot["challenger"][metric] - boot["champion"][metric], cfg.confidence)
            se_ch, se_cp = _se(boot["challenger"][metric]), _se(boot["champion"][metric])
        result[metric] = MetricComparison(
            metric, cp, ch, delta, low, high, greater_is_better(metric), challenger_se=se_ch, champion_se=se_cp
        )

    mcn = None
    if task == "classification":
        if "champion" in names:
            mcn = mcnemar_exact(preds["champion"] == y_i, preds["challenger"] == y_i)
            result["accuracy"] = MetricComparison(
                **{**result["accuracy"].__dict__, "p_value": mcn.p_value, "test": "mcnemar_exact"}
            )
        if probas["challenger"] is not None and len(set(y_i.tolist())) > 1:
            if "champion" in names and probas["champion"] is not None:
                t = delong_paired(y_i, probas["champion"], probas["challenger"], cfg.confidence)
                result["roc_auc"] = MetricComparison(
                    "roc_auc",
                    t.champion,
                    t.challenger,
                    t.delta,
                    t.ci_low,
                    t.ci_high,
                    True,
                    t.p_value,
                    "delong",
                    "delong",
                )
            else:
                result["roc_auc"] = MetricComparison(
                    "roc_auc", None, macro_auc(y_i, probas["challenger"]), None, None, None, True, None, None, "delong"
                )
    return result, mcn


def _canonical(
    y: np.ndarray, models: Mapping[str, Predictions | None], ids: Any | None
) -> tuple[np.ndarray, np.ndarray]:
    """Canonical row order and bootstrap keys: by id, ties (repeated ids) broken by content."""
    content = [y]
    for p in models.values():
        if p is not None:
            content.append(p.pred)
            if p.proba is not None:
                content.append(p.proba)
    if ids is None:
        return row_keys(hash_rows(*content))
    return row_keys(hash_rows(ids), lambda: hash_rows(*content))


def _disagreement(task: str, y: np.ndarray, challenger: Predictions, champion: Predictions | None) -> dict[str, float]:
    if champion is None:
        return {}
    if task == "classification":
        return {"disagreement_rate": float(np.mean(challenger.pred.astype(str) != champion.pred.astype(str)))}
    e_ch = np.asarray(challenger.pred, dtype=np.float64) - y
    e_cp = np.asarray(champion.pred, dtype=np.float64) - y
    if np.ptp(e_ch) == 0 or np.ptp(e_cp) == 0:
        return {"error_correlation": float("nan")}
    return {"error_correlation": float(np.corrcoef(e_ch, e_cp)[0, 1])}


def _rows(p: Predictions, index: np.ndarray) -> Predictions:
    """``p`` on the rows ``index`` selects, in that order."""
    return Predictions(np.asarray(p.pred)[index], None if p.proba is None else p.proba[index], p.classes)


def compare_predictions(
    y_true: Any,
    challenger: Predictions,
    champion: Predictions | None,
    cfg: CompareConfig,
    task: str = "classification",
    slice_frame: pd.DataFrame | None = None,
    ids: Any | None = None,
) -> ComparisonResult:
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
    ids : array-like, optional
        Row identifiers aligned with ``y_true`` (the schema's id column). Each row's bootstrap
        counts are then a function of (``cfg.seed``, its id, the resample index), so the same
        rows in any order give the same result. Without ids the rows' contents (label,
        predictions, probabilities) key them instead: still order-free, but a row's counts
        then change when a model's prediction for it changes.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    DataError
        A single-class holdout, labels unseen in training, or mismatched lengths.

    Examples
    --------
    A challenger right on 40 rows against a champion that always says ``neg``:

    >>> from driftloop.compare.predict import Predictions
    >>> y = np.array(["neg", "pos"] * 20)
    >>> chall = Predictions(y.copy(), None, ("neg", "pos"))
    >>> champ = Predictions(np.array(["neg"] * 40), None, ("neg", "pos"))
    >>> r = compare_predictions(y, chall, champ, CompareConfig(n_bootstrap=200), ids=np.arange(40))
    >>> f1 = r.to_dict()["metrics"]["f1_macro"]
    >>> round(f1["champion"], 3), f1["challenger"], f1["ci_low"] > 0
    (0.333, 1.0, True)
    """
    y = np.asarray(y_true)
    models = {"challenger": challenger, "champion": champion}
    for name, p in models.items():
        if p is not None and len(p.pred) != len(y):
            raise DataError(f"the {name} gave {len(p.pred)} prediction(s) for {len(y)} holdout row(s).")
    if ids is not None and len(ids) != len(y):
        raise DataError(f"{len(ids)} row id(s) were given for {len(y)} holdout row(s).")
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
    # Every statistic below is computed on the rows in one canonical order, so even floating-point
    # sums (and the order of slice levels) are the same for any order of the holdout.
    order, keys = _canonical(y, models, ids)
    y_c = y[order]
    challenger_c = _rows(challenger, order)
    models_c = {"challenger": challenger_c, "champion": None if champion is None else _rows(champion, order)}
    seeds = np.random.SeedSequence(cfg.seed).spawn(1 + cfg.max_slice_levels * max(len(cfg.slices), 1))
    table, mcn = _evaluate(task, y_c, models_c, cfg, np.random.default_rng(seeds[0]), classes, keys)

    slices: dict[str, dict] = {}
    if cfg.slices and slice_frame is not None:
        keep = SLICE_METRICS.get(task, ())
        seed_i = 1
        frame_c = slice_frame.iloc[order]
        for column in cfg.slices:
            values = frame_c[column].astype("string").fillna("__missing__").to_numpy()
            # Most frequent levels first, ties by name: the same levels in the same order for any row order.
            counts = pd.Series(values).value_counts()
            counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
            counts = counts.iloc[: cfg.max_slice_levels]
            slices[column] = {}
            for level, n in counts.items():
                if n < cfg.min_slice_rows:
                    continue
                mask = values == level
                sub = {
                    k: None
                    if p is None
                    else Predictions(p.pred[mask], None if p.proba is None else p.proba[mask], p.classes)
                    for k, p in models_c.items()
                }
                sub_table, _ = _evaluate(
                    task, y_c[mask], sub, cfg, np.random.default_rng(seeds[seed_i]), classes, keys[mask]
                )
                seed_i += 1
                slices[column][str(level)] = {
                    "n": int(n),
                    "metrics": {k: sub_table[k].to_dict() for k in keep if k in sub_table},
                }

    return ComparisonResult(
        task=task,
        confidence=cfg.confidence,
        n_bootstrap=cfg.n_bootstrap,
        bootstrap=cfg.bootstrap,
        seed=cfg.seed,
        n_holdout=len(y),
        classes=classes,
        metrics_table=table,
        slices=slices,
        mcnemar=mcn,
        bootstrap_keys="content" if ids is None else "id",
        disagreement=_disagreement(task, y_c, challenger_c, models_c["champion"]),
        y_true=y,
        challenger_predictions=challenger,
        champion_predictions=champion,
    )


def compare_models(
    holdout: pd.DataFrame, schema: Schema, challenger: Any, champion: Any | None, cfg: CompareConfig
) -> ComparisonResult:
    """Score challenger and champion on the same holdout and compare them.

    Parameters
    ----------
    holdout : pandas.DataFrame
        Labelled rows (unlabelled ones are dropped) with the models' input columns and,
        ideally, the schema's id column: the bootstrap is keyed by it (by row contents without).
    schema : Schema
    challenger, champion : estimator, LoadedModel or PyFuncModel
        ``champion`` may be None (first cycle): champion values, deltas and intervals are null.
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
    Two scikit-learn estimators fitted inline (an MLflow model URI goes through
    :func:`~driftloop.compare.predict.load_model` first):

    >>> import pandas as pd
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from driftloop.schema import Schema
    >>> schema = Schema("id", "ts", "y", numeric=("x",))
    >>> x = np.random.default_rng(0).normal(size=80)
    >>> holdout = pd.DataFrame({"id": range(80), "ts": pd.Timestamp("2026-01-01"), "x": x,
    ...                         "y": np.where(x > 0, "pos", "neg")})
    >>> challenger = LogisticRegression().fit(holdout[["x"]], holdout["y"])
    >>> champion = DummyClassifier().fit(holdout[["x"]], holdout["y"])
    >>> result = compare_models(holdout, schema, challenger, champion, CompareConfig(n_bootstrap=200))
    >>> round(result.to_dict()["metrics"]["f1_macro"]["delta"], 2)
    0.63
    """
    from driftloop.schema import labelled_mask

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
    ids = data[schema.id] if schema.id in data.columns else None  # without ids, rows are keyed by content
    return compare_predictions(
        data[schema.label].to_numpy(),
        ch,
        cp,
        cfg,
        schema.task,
        data.loc[:, list(cfg.slices)] if cfg.slices else None,
        ids=ids,
    )


def headline_lines(doc: Mapping[str, Any]) -> list[str]:
    """One sentence per headline metric of a compare.json dict, e.g.
    ``f1_macro: challenger 0.8100 vs champion 0.7000, delta +0.1100, 95% interval [+0.0800, +0.1400]``."""
    metrics = doc.get("metrics") or {}
    level = f"{float(doc.get('confidence', 0.95)):.0%}"
    lines = []
    for name in HEADLINE.get(str(doc.get("task")), ()):
        e = metrics.get(name)
        if not e or e.get("challenger") is None:
            continue
        better = "higher" if e.get("greater_is_better", True) else "lower"
        if e.get("champion") is None:
            lines.append(f"{name}: challenger {e['challenger']:.4f} (no champion; {better} is better)")
            continue
        interval = "" if e.get("ci_low") is None else f", {level} interval [{e['ci_low']:+.4f}, {e['ci_high']:+.4f}]"
        lines.append(
            f"{name}: challenger {e['challenger']:.4f} vs champion {e['champion']:.4f}, "
            f"delta {e['delta']:+.4f}{interval} ({better} is better)"
        )
    return lines
