"""Output drift, concept drift and label-free performance estimation (CBPE) for a classifier.

* **Output drift**: predicted-class distribution (contingency chi2, statistic Cramer's V) and the
  confidence distribution (max class probability, two-sample KS), reference vs current. The two
  p-values are Bonferroni-corrected together; a test drifts when its effect reaches its threshold and
  its corrected p-value is below alpha.
* **Concept drift** (labels on both sides): the champion's metric on current minus reference, with a
  percentile bootstrap interval. Resampling rows is the same as drawing each confusion matrix from a
  multinomial with the observed cell shares, so ``n_bootstrap`` resamples cost O(n_bootstrap k^2),
  not O(n_bootstrap n). Drifted when the drop exceeds ``tolerance`` and the interval excludes 0.
* **CBPE** (confidence-based performance estimation): the expected confusion matrix on current is
  ``E[C[c, k]] = sum_{i: pred_i = c} p_ik``, from which expected accuracy and macro-F1 follow. It
  assumes calibrated probabilities and no concept drift (P(y | x) unchanged); when reference labels
  exist the estimate on the reference is compared with the realised value as a calibration check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftloop.drift._imports import load
from driftloop.drift.config import DriftConfig
from driftloop.drift.divergence import chi2_sf, contingency_chi2
from driftloop.errors import DataError

CBPE_ASSUMPTION = (
    "CBPE assumes the champion's probabilities are calibrated and that there is no concept "
    "drift (P(label | features) unchanged); under concept drift the estimate is biased."
)


@dataclass(frozen=True)
class ModelOutputs:
    """The champion's outputs on the reference and current windows.

    Parameters
    ----------
    classes : sequence of str
        Class labels, in the column order of the probability arrays.
    reference_pred, current_pred : array-like of labels
    reference_proba, current_proba : array (n, n_classes) or None
    reference_labels, current_labels : array-like of labels, optional
    """

    classes: Sequence[Any]
    reference_pred: Any
    reference_proba: Any
    current_pred: Any
    current_proba: Any
    reference_labels: Any = None
    current_labels: Any = None


def _codes(values: Any, classes: list[str], what: str) -> np.ndarray:
    # Each distinct value is spelled once (a window has a million rows but a few classes).
    rows, distinct = pd.factorize(np.asarray(values, dtype=object).ravel(), use_na_sentinel=False)
    names = [str(v) for v in distinct]
    per_name = np.asarray(pd.Categorical(names, categories=classes).codes, dtype=np.int64)
    if (per_name < 0).any():
        bad = sorted({n for n, c in zip(names, per_name, strict=True) if c < 0})[:5]
        raise DataError(f"{what} contains value(s) {bad} that are not among the classes {classes}.")
    return per_name[rows] if len(rows) else np.empty(0, dtype=np.int64)


def _labels(values: Any, pred: np.ndarray, classes: list[str], what: str) -> tuple[np.ndarray, np.ndarray]:
    """(class codes of the labelled rows, which rows are labelled): a row whose label is
    missing (NaN, None, ``pd.NA``: not labelled yet, as production windows often are) is left out
    of the concept check rather than refused; the CBPE estimate covers the window without them."""
    labels = np.asarray(values, dtype=object)
    if labels.size != pred.size:
        raise DataError(f"{what} and the predictions must have the same length. Got {labels.size} and {pred.size}.")
    known = ~pd.isna(pd.Series(labels)).to_numpy()
    return _codes(labels[known], classes, what), known


def _proba(p: Any, n: int, k: int, what: str) -> np.ndarray | None:
    if p is None:
        return None
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n, k):
        raise DataError(f"{what} must have shape ({n}, {k}) (rows, classes). Got {p.shape} instead.")
    return p


def _metric(cm: np.ndarray, metric: str) -> np.ndarray:
    """Accuracy or macro-F1 of confusion matrices ``cm[..., true, pred]`` (vectorised over leading axes)."""
    total = cm.sum(axis=(-2, -1))
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    if metric == "accuracy":
        return diag.sum(-1) / np.maximum(total, 1e-12)
    support, predicted = cm.sum(-1), cm.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(support + predicted > 0, 2 * diag / (support + predicted), 0.0)
    return f1.mean(-1)


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y * k + pred, minlength=k * k).reshape(k, k).astype(np.float64)


def _expected_confusion(proba: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    cm = np.zeros((k, k))
    for c in range(k):  # loop over classes, not rows
        cm[:, c] = proba[pred == c].sum(axis=0)
    return cm


def _bootstrap(cm: np.ndarray, metric: str, b: int, rng: np.random.Generator) -> np.ndarray:
    n = int(cm.sum())
    draws = rng.multinomial(n, (cm / n).ravel(), size=b).reshape(b, *cm.shape)
    return _metric(draws.astype(np.float64), metric)


def evaluate_model_outputs(mo: ModelOutputs, cfg: DriftConfig) -> tuple[dict, dict | None, dict | None]:
    """(output drift, concept drift or None, CBPE estimate or None) as JSON-safe dicts."""
    classes = [str(c) for c in mo.classes]
    k = len(classes)
    rp, cp = _codes(mo.reference_pred, classes, "reference_pred"), _codes(mo.current_pred, classes, "current_pred")
    rprob = _proba(mo.reference_proba, rp.size, k, "reference_proba")
    cprob = _proba(mo.current_proba, cp.size, k, "current_proba")
    thr = cfg.output.thresholds
    tests: dict[str, dict[str, Any]] = {}
    if rp.size and cp.size:
        r, c = np.bincount(rp, minlength=k), np.bincount(cp, minlength=k)
        x2, dof = contingency_chi2(r, c)
        tests["prediction_chi2"] = {
            "statistic": float(np.sqrt(x2 / (rp.size + cp.size))),
            "p_value": chi2_sf(x2, dof) if dof else 1.0,
            "threshold": thr["prediction_chi2"],
            "details": {
                "chi2": x2,
                "dof": dof,
                "reference_share": dict(zip(classes, (r / r.sum()).tolist(), strict=True)),
                "current_share": dict(zip(classes, (c / c.sum()).tolist(), strict=True)),
            },
        }
        if rprob is not None and cprob is not None:
            stats = load("scipy.stats")  # lazy: scipy.stats costs ~1 s to import, only needed here

            ks = stats.ks_2samp(rprob.max(1), cprob.max(1))
            tests["confidence_ks"] = {
                "statistic": float(ks.statistic),
                "p_value": float(ks.pvalue),
                "threshold": thr["confidence_ks"],
                "details": {
                    "mean_confidence": {"reference": float(rprob.max(1).mean()), "current": float(cprob.max(1).mean())}
                },
            }
    m = max(len(tests), 1)
    for t in tests.values():
        t["p_adjusted"] = min(1.0, t["p_value"] * m)
        t["drifted"] = bool(t["statistic"] >= t["threshold"] and t["p_adjusted"] < cfg.alpha)
    output = {"tests": tests, "drifted": any(t["drifted"] for t in tests.values())}

    rng = np.random.default_rng([cfg.seed, 2])
    metric, b = cfg.concept.metric, cfg.concept.n_bootstrap
    concept = None
    if mo.reference_labels is not None and mo.current_labels is not None and rp.size and cp.size:
        ry, r_known = _labels(mo.reference_labels, rp, classes, "reference_labels")
        cy, c_known = _labels(mo.current_labels, cp, classes, "current_labels")
    else:
        ry = cy = np.empty(0, dtype=np.int64)
    if ry.size and cy.size:  # labelled rows on both sides: the realised metric, measured
        rcm, ccm = _confusion(ry, rp[r_known], k), _confusion(cy, cp[c_known], k)
        ref_v, cur_v = float(_metric(rcm, metric)), float(_metric(ccm, metric))
        deltas = _bootstrap(ccm, metric, b, rng) - _bootstrap(rcm, metric, b, rng)
        lo, hi = np.quantile(deltas, [0.025, 0.975])
        concept = {
            "metric": metric,
            "reference": ref_v,
            "current": cur_v,
            "delta": cur_v - ref_v,
            "ci95": [float(lo), float(hi)],
            "n_bootstrap": b,
            "tolerance": cfg.concept.tolerance,
            "drifted": bool(cur_v - ref_v < -cfg.concept.tolerance and hi < 0),
            "labelled": {"reference": int(ry.size), "current": int(cy.size)},
        }
    estimate = None
    if cprob is not None and cp.size:
        ecm = _expected_confusion(cprob, cp, k)
        estimate = {
            "method": "CBPE",
            "assumption": CBPE_ASSUMPTION,
            "current": {"accuracy": float(_metric(ecm, "accuracy")), "f1_macro": float(_metric(ecm, "f1_macro"))},
        }
        if rprob is not None and mo.reference_labels is not None and rp.size:
            ry, known = _labels(mo.reference_labels, rp, classes, "reference_labels")
            rcm_e, rcm = _expected_confusion(rprob[known], rp[known], k), _confusion(ry, rp[known], k)
            estimate["reference_check"] = {
                m_: {"estimated": float(_metric(rcm_e, m_)), "realised": float(_metric(rcm, m_))}
                for m_ in ("accuracy", "f1_macro")
            }
    return output, concept, estimate
