"""Evidence that a challenger resolves the drift it was trained to fix (pure, no I/O).

Three checks, each recorded with its numbers:

1. ``training_data`` -- the challenger's training data no longer differs from the
   current window on the columns that drifted. The caller computes a ``drift.json``
   style result (same tests, same thresholds as the drift stage) for the
   challenger's training data against the current window; the check passes when none
   of ``drifted_columns`` is still flagged. A drifted column absent from that result
   fails (missing evidence fails, as a missing metric does). With no drifted column
   the check passes with the detail "no drift to resolve".
2. ``output_matches_labels`` -- the challenger's predicted-class distribution on the
   holdout matches the observed labels. A 2 x K contingency table (predicted counts,
   observed counts) over the union of the configured, observed and predicted classes.
   Following the design's rule for large n (decide on an effect size, use the
   p-value as a second condition), the check fails only when the total variation
   distance exceeds ``label_max_tvd`` *and* the chi-squared test rejects at
   ``label_alpha``. The two rows come from the same rows of the holdout, so the
   independence assumption of the chi-squared test is not met; for positively
   correlated pairs it overstates the variance, i.e. it is conservative, which is
   why the effect size carries the decision.
3. ``holdout_vs_validation`` -- the challenger's holdout metric is within
   ``validation_tolerance`` of its validation metric, inclusive
   (``abs`` mode: ``|validation - holdout| <= tol``; ``drop`` mode: only a fall
   counts). A NaN metric fails.

Checks 2 and 3 run also when nothing drifted: they guard against a broken
challenger and cost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from driftloop.errors import DataError
from driftloop.promote.config import PromoteConfig, ResolutionConfig

#: Absolute slack for float rounding in inclusive comparisons (values arrive rounded via JSON).
EPS = 1e-12

CHECK_TRAINING_DATA = "training_data"
CHECK_OUTPUT_LABELS = "output_matches_labels"
CHECK_VALIDATION_GAP = "holdout_vs_validation"
CHECK_NAMES: tuple[str, ...] = (CHECK_TRAINING_DATA, CHECK_OUTPUT_LABELS, CHECK_VALIDATION_GAP)


@dataclass(frozen=True)
class ResolutionCheck:
    """One drift-resolution check: its verdict, a sentence, and the numbers behind it."""

    name: str
    passed: bool
    detail: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class DriftResolution:
    """The three checks of :func:`assess_drift_resolution`, in :data:`CHECK_NAMES` order."""

    checks: tuple[ResolutionCheck, ...]
    drifted_columns: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return all(c.passed for c in self.checks)

    def check(self, name: str) -> ResolutionCheck | None:
        """The check called ``name``, or None."""
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "passed": self.passed,
            "drifted_columns": list(self.drifted_columns),
            "checks": [c.to_dict() for c in self.checks],
        }


def check_training_data(train_vs_current: Mapping[str, Any] | None, drifted_columns: Sequence[str]) -> ResolutionCheck:
    """Check 1: none of ``drifted_columns`` still drifts between training data and current window.

    Parameters
    ----------
    train_vs_current : mapping or None
        ``{"columns": {"<col>": {"drifted": bool, ...}}}`` (drift.json format).
    drifted_columns : sequence of str
        Columns the drift stage flagged this cycle.

    Returns
    -------
    ResolutionCheck
    """
    drifted = tuple(dict.fromkeys(str(c) for c in drifted_columns))
    if not drifted:
        return ResolutionCheck(CHECK_TRAINING_DATA, True, "no drift to resolve: no column drifted this cycle",
                               {"drifted_columns": []})
    if train_vs_current is None:
        return ResolutionCheck(
            CHECK_TRAINING_DATA, False,
            f"no training-vs-current drift result was supplied for the drifted column(s) {list(drifted)}",
            {"drifted_columns": list(drifted)},
        )
    columns = train_vs_current.get("columns") or {}
    missing = [c for c in drifted if c not in columns or "drifted" not in (columns[c] or {})]
    still = [c for c in drifted if c not in missing and bool(columns[c]["drifted"])]
    evidence = {"drifted_columns": list(drifted), "still_drifted": still, "missing": missing}
    if missing or still:
        parts = []
        if still:
            parts.append(f"training data still differs from the current window on {still}")
        if missing:
            parts.append(f"no training-vs-current result for {missing}")
        return ResolutionCheck(CHECK_TRAINING_DATA, False, "; ".join(parts), evidence)
    return ResolutionCheck(
        CHECK_TRAINING_DATA, True,
        f"training data matches the current window on every drifted column {list(drifted)}", evidence,
    )


def _as_labels(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(list(values) if not hasattr(values, "__array__") else values, dtype=object).ravel()
    import pandas as pd

    if pd.isna(arr).any():
        raise DataError(f"{what} contains {int(pd.isna(arr).sum())} missing value(s); every holdout row needs one.")
    # Compare as strings so that 1 and "1" from different sources count as one class.
    return arr.astype(str)


def check_output_matches_labels(
    holdout_labels: Any, challenger_predictions: Any, classes: Sequence[Any], cfg: ResolutionConfig
) -> ResolutionCheck:
    """Check 2: predicted-class distribution vs observed label distribution on the holdout.

    Raises
    ------
    DataError
        When the holdout is empty, the two arrays differ in length, or hold missing values.
    """
    from scipy.stats import chi2_contingency

    labels = _as_labels(holdout_labels, "holdout_labels")
    preds = _as_labels(challenger_predictions, "challenger_predictions")
    if labels.size == 0:
        raise DataError("holdout_labels is empty: the output-vs-labels check needs a labelled holdout.")
    if labels.size != preds.size:
        raise DataError(
            f"challenger_predictions has {preds.size} rows but holdout_labels has {labels.size}; "
            "they must be predictions for the same holdout rows."
        )
    union = list(dict.fromkeys([str(c) for c in classes] + sorted(set(labels) | set(preds))))
    index = {c: i for i, c in enumerate(union)}
    obs = np.bincount(np.vectorize(index.__getitem__, otypes=[int])(labels), minlength=len(union))
    pred = np.bincount(np.vectorize(index.__getitem__, otypes=[int])(preds), minlength=len(union))
    n = labels.size
    tvd = 0.5 * float(np.abs(obs / n - pred / n).sum())
    keep = (obs + pred) > 0  # classes seen in neither row carry no information and break the test
    if keep.sum() < 2:
        stat, p_value = 0.0, 1.0  # a single class on both sides: the distributions are identical
    else:
        res = chi2_contingency(np.vstack([pred[keep], obs[keep]]))
        stat, p_value = float(res.statistic), float(res.pvalue)
    mismatch = tvd > cfg.label_max_tvd + EPS and p_value < cfg.label_alpha
    evidence = {
        "classes": union,
        "observed": {c: int(v) for c, v in zip(union, obs)},
        "predicted": {c: int(v) for c, v in zip(union, pred)},
        "tvd": tvd, "max_tvd": cfg.label_max_tvd,
        "chi2": stat, "p_value": p_value, "alpha": cfg.label_alpha, "n": int(n),
    }
    verdict = "differs from" if mismatch else "matches"
    detail = (
        f"predicted-class distribution {verdict} the observed labels on {n} holdout rows "
        f"(TVD {tvd:.3f} vs max {cfg.label_max_tvd}; chi-squared p {p_value:.3g} vs alpha {cfg.label_alpha})"
    )
    return ResolutionCheck(CHECK_OUTPUT_LABELS, not mismatch, detail, evidence)


def check_holdout_vs_validation(
    validation_metric: float | None, holdout_metric: float | None, cfg: ResolutionConfig,
    greater_is_better: bool = True,
) -> ResolutionCheck:
    """Check 3: holdout metric within ``cfg.validation_tolerance`` of the validation metric (inclusive)."""
    tol = cfg.validation_tolerance
    evidence = {"validation": validation_metric, "holdout": holdout_metric, "tolerance": tol,
                "mode": cfg.validation_mode}
    bad = [n for n, v in (("validation", validation_metric), ("holdout", holdout_metric))
           if v is None or not isinstance(v, (int, float)) or math.isnan(float(v))]
    if bad:
        return ResolutionCheck(CHECK_VALIDATION_GAP, False, f"{' and '.join(bad)} metric missing or NaN", evidence)
    v, h = float(validation_metric), float(holdout_metric)  # type: ignore[arg-type]
    if cfg.validation_mode == "abs":
        gap = abs(v - h)
        ok = gap <= tol + EPS
        how = f"|validation {v:.4f} - holdout {h:.4f}| = {gap:.4f}"
    else:
        gap = (v - h) if greater_is_better else (h - v)  # positive = holdout worse
        ok = gap <= tol + EPS
        how = f"holdout {h:.4f} is {gap:.4f} worse than validation {v:.4f}"
    evidence["gap"] = gap
    return ResolutionCheck(CHECK_VALIDATION_GAP, ok, f"{how} {'<=' if ok else '>'} tolerance {tol}", evidence)


def assess_drift_resolution(
    train_vs_current: Mapping[str, Any] | None,
    drifted_columns: Sequence[str],
    holdout_labels: Any,
    challenger_predictions: Any,
    classes: Sequence[Any],
    validation_metric: float | None,
    holdout_metric: float | None,
    cfg: ResolutionConfig | PromoteConfig,
    *,
    greater_is_better: bool | None = None,
) -> DriftResolution:
    """Run the three drift-resolution checks.

    Parameters
    ----------
    train_vs_current : mapping or None
        drift.json-format result of the challenger's training data vs the current
        window (only the drifted columns are read). ``None`` is fine when nothing drifted.
    drifted_columns : sequence of str
        Columns the drift stage flagged this cycle (empty: no drift).
    holdout_labels, challenger_predictions : array-like
        Observed labels and the challenger's predicted classes on the same holdout rows.
    classes : sequence
        Expected classes (``Schema.classes``); unioned with the observed ones.
    validation_metric, holdout_metric : float
        The challenger's primary metric on its validation split and on the holdout.
    cfg : ResolutionConfig or PromoteConfig
        Thresholds (``PromoteConfig.resolution`` when a whole config is given).
    greater_is_better : bool, optional
        For ``drop`` mode; defaults to ``cfg.primary.greater_is_better`` or True.

    Returns
    -------
    DriftResolution

    Raises
    ------
    DataError
        Empty or mismatched holdout arrays (check 2).

    Examples
    --------
    >>> r = assess_drift_resolution(None, [], ["a", "b"], ["a", "b"], ["a", "b"], 0.8, 0.79, ResolutionConfig())
    >>> r.passed
    True
    """
    if isinstance(cfg, PromoteConfig):
        gib = cfg.primary.greater_is_better if greater_is_better is None else greater_is_better
        gib = True if gib is None else gib
        rcfg = cfg.resolution
    else:
        gib = True if greater_is_better is None else greater_is_better
        rcfg = cfg
    return DriftResolution(
        checks=(
            check_training_data(train_vs_current, drifted_columns),
            check_output_matches_labels(holdout_labels, challenger_predictions, classes, rcfg),
            check_holdout_vs_validation(validation_metric, holdout_metric, rcfg, gib),
        ),
        drifted_columns=tuple(str(c) for c in drifted_columns),
    )
