"""Holdout metrics as functions of weighted column sums.

Every metric here except ROC AUC is a function of sums ``w @ X`` of per-row
columns ``X``: confusion-matrix cells (one-hot of ``true * K + pred``), per-row log
loss and Brier score, per-bin calibration gaps, squared and absolute errors. The
point estimate uses ``w = 1``; a bootstrap resample uses its resample counts as
``w``. One matrix product then yields every metric of every resample at once, for
both models (the same ``w`` for both: that is what makes the bootstrap paired).

ROC AUC is a rank statistic, not a sum; it lives in :mod:`driftloop.compare.auc`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ClassificationLayout",
    "RegressionLayout",
    "classification_columns",
    "classification_from_sums",
    "encode",
    "greater_is_better",
    "metric_key",
    "metric_names",
    "point_metrics",
    "regression_columns",
    "regression_from_sums",
]

#: Clip probabilities like sklearn.metrics.log_loss does (machine epsilon of float64).
_EPS = np.finfo(np.float64).eps
_LOWER_IS_BETTER = ("log_loss", "brier_score", "ece", "rmse", "mae")


def metric_key(name: str) -> str:
    """Make a class name safe inside an MLflow metric key (letters, digits, ``_-.``)."""
    return re.sub(r"[^A-Za-z0-9_\-]", "_", str(name))


def encode(values: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Class names -> indices into ``classes`` (-1 for a name not in ``classes``)."""
    values = np.asarray(values).astype(str)
    names = np.asarray(classes, dtype=str)
    if names.size == 0:
        return np.full(len(values), -1, dtype=np.int64)
    order = np.argsort(names)
    pos = np.minimum(np.searchsorted(names, values, sorter=order), len(names) - 1)
    idx = order[pos]
    return np.where(names[idx] == values, idx, -1).astype(np.int64)


def metric_names(task: str, classes: tuple[str, ...] | list[str] = ()) -> tuple[str, ...]:
    """Every metric key compare.json can hold for ``task`` (per-class keys for ``classes``).

    ``log_loss``, ``brier_score``, ``ece`` and ``roc_auc`` need probabilities (a model without
    ``predict_proba`` lacks them: a rule naming them then fails as a missing metric).
    """
    if task == "regression":
        return ("rmse", "mae", "r2")
    per_class = tuple(f"{kind}_{metric_key(c)}" for c in classes for kind in ("precision", "recall", "f1"))
    return ("accuracy", "f1_macro", "log_loss", "brier_score", "ece", "roc_auc", *per_class)


def greater_is_better(metric: str) -> bool:
    """Direction of a metric: False for losses and errors, True otherwise."""
    return metric not in _LOWER_IS_BETTER


@dataclass(frozen=True)
class ClassificationLayout:
    """Column layout of :func:`classification_columns` for one model.

    ``classes`` index the confusion matrix; ``scored`` are the indices of the classes
    that macro averages and per-class metrics cover (those in the truth or predicted).
    """

    classes: tuple[str, ...]
    scored: tuple[int, ...]
    has_proba: bool
    n_bins: int = 10

    @property
    def width(self) -> int:
        k = len(self.classes)
        return k * k + (2 + self.n_bins if self.has_proba else 0)


def classification_columns(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, layout: ClassificationLayout
) -> np.ndarray:
    """Per-row columns whose weighted sums give every classification metric.

    Parameters
    ----------
    y, pred : numpy.ndarray of int
        True and predicted class indices into ``layout.classes``.
    proba : numpy.ndarray, shape (n, K), or None
        Class probabilities, columns in ``layout.classes`` order.
    layout : ClassificationLayout

    Returns
    -------
    numpy.ndarray, shape (n, layout.width), float64
    """
    k = len(layout.classes)
    n = len(y)
    out = np.zeros((n, layout.width), dtype=np.float64)
    out[np.arange(n), y * k + pred] = 1.0
    if layout.has_proba:
        if proba is None:
            raise ValueError("the layout scores probabilities but none were given")
        rows = np.arange(n)
        out[:, k * k] = -np.log(np.clip(proba[rows, y], _EPS, 1 - _EPS))
        onehot = np.zeros_like(proba)
        onehot[rows, y] = 1.0
        brier = np.square(proba - onehot).sum(axis=1)
        # sklearn halves the binary Brier score so it equals mean (p_pos - y)^2.
        out[:, k * k + 1] = brier / 2 if k == 2 else brier
        top = proba.argmax(axis=1)
        conf = proba[rows, top]
        correct = (top == y).astype(np.float64)
        bins = np.minimum((conf * layout.n_bins).astype(np.int64), layout.n_bins - 1)
        out[rows, k * k + 2 + bins] = conf - correct
    return out


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    # zero_division=0, as sklearn's precision/recall/F1 report when it warns.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def classification_from_sums(sums: np.ndarray, layout: ClassificationLayout) -> dict[str, np.ndarray]:
    """Metrics from weighted column sums.

    Parameters
    ----------
    sums : numpy.ndarray, shape (..., layout.width)
        ``w @ X`` for one weight vector (point estimate) or many (bootstrap).

    Returns
    -------
    dict
        ``accuracy``, ``f1_macro``, ``precision_<class>``, ``recall_<class>``,
        ``f1_<class>`` and, with probabilities, ``log_loss``, ``brier_score``, ``ece``;
        each an array of shape ``sums.shape[:-1]``.
    """
    k = len(layout.classes)
    cm = sums[..., : k * k].reshape(*sums.shape[:-1], k, k)
    total = cm.sum(axis=(-1, -2))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    precision = _safe_div(tp, predicted)
    recall = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, support + predicted)
    scored = list(layout.scored)
    out: dict[str, np.ndarray] = {
        "accuracy": _safe_div(tp.sum(axis=-1), total),
        "f1_macro": f1[..., scored].mean(axis=-1),
    }
    for i in scored:
        name = metric_key(layout.classes[i])
        out[f"precision_{name}"] = precision[..., i]
        out[f"recall_{name}"] = recall[..., i]
        out[f"f1_{name}"] = f1[..., i]
    if layout.has_proba:
        out["log_loss"] = _safe_div(sums[..., k * k], total)
        out["brier_score"] = _safe_div(sums[..., k * k + 1], total)
        out["ece"] = _safe_div(np.abs(sums[..., k * k + 2 :]).sum(axis=-1), total)
    return out


@dataclass(frozen=True)
class RegressionLayout:
    """Columns: weight, squared error, absolute error, y, y squared."""

    width: int = 5


def regression_columns(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-row columns whose weighted sums give RMSE, MAE and R²."""
    err = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # Centre y so the R² denominator (sum y² - (sum y)²/n) does not cancel catastrophically
    # in float32 bootstrap sums; R² is invariant to the shift.
    yc = y - y.mean()
    return np.column_stack([np.ones_like(y), err * err, np.abs(err), yc, yc * yc])


def regression_from_sums(sums: np.ndarray, layout: RegressionLayout | None = None) -> dict[str, np.ndarray]:
    """RMSE, MAE and R² from weighted column sums (see :func:`regression_columns`)."""
    w, sse, sae, sy, syy = (sums[..., i] for i in range(5))
    sst = syy - _safe_div(sy * sy, w)
    return {
        "rmse": np.sqrt(_safe_div(sse, w)),
        "mae": _safe_div(sae, w),
        "r2": np.where(sst > 0, 1 - _safe_div(sse, sst), np.nan),
    }


def point_metrics(
    task: str, y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None = None, classes: tuple[str, ...] | None = None
) -> dict[str, float]:
    """Point metrics of one model on one labelled set (used for train/validation metrics).

    Parameters
    ----------
    task : {"classification", "regression"}
    y, pred : array-like
        Labels and predictions (class names for classification).
    proba : numpy.ndarray, optional
        Probabilities, columns in ``classes`` order.
    classes : tuple of str, optional
        The model's classes (proba column order); defaults to the sorted labels seen.

    Returns
    -------
    dict of str to float
        As :func:`classification_from_sums` / :func:`regression_from_sums`, plus
        ``roc_auc`` (macro one-vs-rest) when probabilities are given.
    """
    if task == "regression":
        sums = regression_columns(np.asarray(y, float), np.asarray(pred, float)).sum(axis=0)
        return {k: float(v) for k, v in regression_from_sums(sums).items()}
    from driftloop.compare.auc import macro_auc

    y = np.asarray(y).astype(str)
    pred = np.asarray(pred).astype(str)
    known = tuple(classes) if classes is not None else tuple(sorted(set(y) | set(pred)))
    classes = tuple(sorted(set(known) | set(y) | set(pred), key=lambda c: (c not in known, c)))
    y_i, p_i = encode(y, classes), encode(pred, classes)
    if proba is not None and proba.shape[1] < len(classes):
        proba = np.hstack([proba, np.zeros((len(proba), len(classes) - proba.shape[1]))])
    scored = tuple(sorted(set(y_i.tolist()) | set(p_i.tolist())))
    layout = ClassificationLayout(classes, scored, proba is not None)
    sums = classification_columns(y_i, p_i, proba, layout).sum(axis=0)
    out = {k: float(v) for k, v in classification_from_sums(sums, layout).items()}
    if proba is not None and len(set(y_i.tolist())) > 1:
        out["roc_auc"] = float(macro_auc(y_i, proba))
    return out
