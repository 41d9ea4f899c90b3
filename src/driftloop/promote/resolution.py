"""Evidence that a challenger resolves the drift it was trained to fix (pure, no I/O).

"Drift resolved" means the challenger is adapted to the data it will serve, judged
*against the champion*, never against perfection: a stream that trends or has seasons is
always newer than any training window, so "no drift at all" can never be reached. Three
checks, each recorded with what it compared, its numbers and its threshold:

1. ``training_data`` -- on every column the drift stage flagged, the challenger's training
   data is closer to the holdout than the champion's training data was (a smaller effect
   size, the drift stage's own ``statistic / threshold`` over its deciding tests), or does
   not drift from the holdout at all. No drifted column: passes ("no drift to resolve").
2. ``output_labels`` -- the challenger's outputs agree with the observed holdout labels,
   within a tolerance or at least better than the champion's outputs do.
   Classification: the predicted class shares against the observed ones (total variation
   distance, with a chi-squared test as the second condition: large n makes every
   p-value small). Regression: the mean residual against the label's spread, and the
   1-Wasserstein distance between the predictions' and the labels' distributions, also
   over the label's spread (both unit-free, so they hold for MAE in euros or in grams).
3. ``validation_gap`` -- the challenger's primary metric on the holdout is not
   significantly below its own validation metric: the drop is tested against its
   bootstrap standard error (one-sided, at ``alpha``) *and* must exceed a relative size
   to fail, *and* be no smaller than the champion's own drop from its validation value to
   this holdout. A stale challenger (trained before the change) is high on its validation
   split and low on the holdout, like the champion, which is exactly this check.

Each check has a mode (``enforce``, ``advisory``: reported but not blocking, ``off``:
recorded as skipped) and the reason for it, both carried into ``decision.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from driftloop.contracts import Gate
from driftloop.errors import DataError
from driftloop.promote.config import (
    OutputLabelsCheck,
    PromoteConfig,
    ResolutionConfig,
    TrainingDataCheck,
    ValidationGapCheck,
)

if TYPE_CHECKING:
    import pandas as pd

#: Absolute slack for float rounding in inclusive comparisons (values arrive rounded via JSON).
EPS = 1e-12

CHECK_TRAINING_DATA = "training_data"
CHECK_OUTPUT_LABELS = "output_labels"
CHECK_VALIDATION_GAP = "validation_gap"
CHECK_NAMES: tuple[str, ...] = (CHECK_TRAINING_DATA, CHECK_OUTPUT_LABELS, CHECK_VALIDATION_GAP)


#: One drift-resolution check is recorded exactly as the gate it becomes in decision.json
#: (``drift_resolved.<name>``): the same type, :class:`driftloop.contracts.Gate`.
ResolutionCheck = Gate


@dataclass(frozen=True)
class DriftResolution:
    """The three checks of :func:`assess_drift_resolution`, in :data:`CHECK_NAMES` order."""

    checks: tuple[ResolutionCheck, ...]
    drifted_columns: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every enforced check passed."""
        return all(c.passed for c in self.checks if c.mode == "enforce")

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


@dataclass(frozen=True)
class ResolutionInputs:
    """Everything the three checks read, gathered by the promote stage (or a simulation).

    Parameters
    ----------
    task : {"classification", "regression"}
    drifted_columns : tuple of str
        Columns the drift stage flagged this cycle.
    column_kinds : mapping of str to str
        Kind (numeric / categorical / text) of each drifted column.
    champion_training, challenger_training, holdout : pandas.DataFrame
        The champion's training data (this cycle's reference), the challenger's training rows
        (train and validation) and the holdout; at least the drifted columns. The champion's
        may be None (then check 1 has nothing to compare against and asks for no drift at all).
    labels, challenger_predictions, champion_predictions : numpy.ndarray
        Observed holdout labels and each model's predicted class / value on the same rows.
    validation_metric : float or None
        The challenger's primary metric on its own validation split.
    n_validation : int
        Rows of that validation split (scales the holdout's standard error to it).
    drift_config : DriftConfig
        The drift stage's tests and thresholds (its domain classifier is not used here).
    champion_validation_metric : float or None
        The champion's primary metric on *its* validation split, when it was trained (its
        training run's ``validation.<metric>``); None when unknown.
    """

    task: str
    drifted_columns: tuple[str, ...]
    column_kinds: Mapping[str, str]
    champion_training: pd.DataFrame | None
    challenger_training: pd.DataFrame
    holdout: pd.DataFrame
    labels: np.ndarray
    challenger_predictions: np.ndarray
    champion_predictions: np.ndarray | None
    validation_metric: float | None
    n_validation: int
    drift_config: Any
    champion_validation_metric: float | None = None


def _off(name: str, mode: str, reason: str | None) -> ResolutionCheck:
    why = reason or f"promote.resolution.{name}.mode is off"
    return ResolutionCheck(name, True, f"skipped: {why}", mode, why)


def _moded(check: ResolutionCheck, cfg: Any) -> ResolutionCheck:
    """Attach the configured mode and reason (an advisory check never blocks)."""
    reason = cfg.reason
    if cfg.mode == "advisory" and reason is None:
        reason = f"promote.resolution.{check.name}.mode is advisory"
    return replace(check, mode=cfg.mode, reason=reason)


# -- check 1: training data ---------------------------------------------------------------------


def column_effect(column: Mapping[str, Any]) -> float | None:
    """A drift.json column's effect size: the largest ``statistic / threshold`` over its deciding
    tests (>= 1 passes the drift stage's effect threshold); None when no deciding test has one."""
    tests = column.get("tests") or {}
    ratios = []
    for name in column.get("decide_on") or tests:
        t = tests.get(name) or {}
        stat, thr = t.get("statistic"), t.get("threshold")
        if isinstance(stat, (int, float)) and isinstance(thr, (int, float)) and thr > 0 and math.isfinite(stat):
            ratios.append(float(stat) / float(thr))
    return max(ratios) if ratios else None


def check_training_data(
    champion_vs_holdout: Mapping[str, Any] | None,
    challenger_vs_holdout: Mapping[str, Any] | None,
    drifted_columns: Sequence[str],
    min_relative_improvement: float = 0.10,
) -> ResolutionCheck:
    """Check 1 over two drift.json-format results against the holdout.

    A drifted column is resolved when the challenger's training data does not drift from the
    holdout, or its effect size is at most ``1 - min_relative_improvement`` times the champion's
    training data's. A column absent from the challenger's result fails (missing evidence fails).
    """
    drifted = tuple(dict.fromkeys(str(c) for c in drifted_columns))
    if not drifted:
        return ResolutionCheck(
            CHECK_TRAINING_DATA,
            True,
            "no drift to resolve: no column drifted this cycle",
            evidence={"drifted_columns": []},
        )
    chall = (challenger_vs_holdout or {}).get("columns") or {}
    champ = (champion_vs_holdout or {}).get("columns") or {}
    per_column: dict[str, Any] = {}
    unresolved, missing = [], []
    for c in drifted:
        if c not in chall or "drifted" not in (chall[c] or {}):
            missing.append(c)
            continue
        e_chall, e_champ = column_effect(chall[c]), column_effect(champ.get(c) or {})
        still = bool(chall[c]["drifted"])
        closer = (
            e_chall is not None
            and e_champ is not None
            and e_chall <= (1.0 - min_relative_improvement) * e_champ + EPS
            and e_chall < e_champ
        )
        per_column[c] = {
            "challenger_effect": e_chall,
            "champion_effect": e_champ,
            "challenger_drifts": still,
            "resolved": (not still) or closer,
        }
        if still and not closer:
            unresolved.append(c)
    evidence = {
        "drifted_columns": list(drifted),
        "columns": per_column,
        "unresolved": unresolved,
        "missing": missing,
        "min_relative_improvement": min_relative_improvement,
        "rule": "challenger effect <= (1 - min_relative_improvement) x champion effect, or no drift vs the holdout",
    }

    def fmt(c: str) -> str:
        v = per_column[c]
        return (
            f"{c} {v['challenger_effect']:.2f} vs {v['champion_effect']:.2f}"
            if v["challenger_effect"] is not None and v["champion_effect"] is not None
            else c
        )

    if unresolved or missing:
        parts = []
        if unresolved:
            parts.append(
                "the challenger's training data is not closer to the holdout than the champion's on "
                + ", ".join(fmt(c) for c in unresolved)
                + " (effect / threshold)"
            )
        if missing:
            parts.append(f"no training-vs-holdout result for {missing}")
        return ResolutionCheck(CHECK_TRAINING_DATA, False, "; ".join(parts), evidence=evidence)
    return ResolutionCheck(
        CHECK_TRAINING_DATA,
        True,
        "the challenger's training data is closer to the holdout than the champion's (or does not drift from "
        "it) on every drifted column: " + ", ".join(fmt(c) for c in drifted),
        evidence=evidence,
    )


def training_vs_holdout(inputs: ResolutionInputs) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """drift.json-format results of the champion's and the challenger's training data against the
    holdout, on the drifted columns, with the drift stage's univariate tests and thresholds."""
    drifted = list(inputs.drifted_columns)
    if not drifted:
        return None, None
    from dataclasses import replace

    from driftloop.drift import evaluate_drift, summarize_reference

    # The domain classifier answers "is anything at all different", not "which is closer".
    cfg = replace(inputs.drift_config, multivariate=replace(inputs.drift_config.multivariate, enabled=False))
    kinds = {c: inputs.column_kinds[c] for c in drifted}
    holdout = inputs.holdout[drifted]

    def against_holdout(frame: pd.DataFrame | None) -> dict[str, Any] | None:
        if frame is None or frame.empty:
            return None
        return evaluate_drift(summarize_reference(frame[drifted], kinds, cfg), holdout, cfg, columns=drifted).to_dict()

    return against_holdout(inputs.champion_training), against_holdout(inputs.challenger_training)


# -- check 2: outputs against labels ------------------------------------------------------------


def _as_labels(values: Any, what: str) -> np.ndarray:
    import pandas as pd

    arr = np.asarray(values, dtype=object).ravel()
    if pd.isna(arr).any():
        raise DataError(f"{what} contains {int(pd.isna(arr).sum())} missing value(s); every holdout row needs one.")
    # Compare as strings so that 1 and "1" from different sources count as one class.
    return arr.astype(str)


def _class_shares(labels: np.ndarray, preds: np.ndarray, union: list[str]) -> tuple[np.ndarray, np.ndarray]:
    index = {c: i for i, c in enumerate(union)}
    obs = np.bincount(np.fromiter((index[v] for v in labels), int, labels.size), minlength=len(union))
    pred = np.bincount(np.fromiter((index[v] for v in preds), int, preds.size), minlength=len(union))
    return obs, pred


def _tvd_and_p(obs: np.ndarray, pred: np.ndarray) -> tuple[float, float, float]:
    from scipy.stats import chi2_contingency

    n = obs.sum()
    tvd = 0.5 * float(np.abs(obs / n - pred / n).sum())
    keep = (obs + pred) > 0  # classes seen in neither row carry no information and break the test
    if keep.sum() < 2:
        return tvd, 0.0, 1.0  # a single class on both sides: the distributions are identical
    res = chi2_contingency(np.vstack([pred[keep], obs[keep]]))
    return tvd, float(res.statistic), float(res.pvalue)


def check_output_labels_classification(
    labels: Any, challenger_predictions: Any, champion_predictions: Any, cfg: OutputLabelsCheck
) -> ResolutionCheck:
    """Check 2 (classification): predicted class shares against the observed ones on the holdout.

    Differs when TVD > ``max_tvd`` *and* the chi-squared test (2 x K, the two rows come from
    the same holdout rows, so it is conservative; the effect size carries the decision) has
    p < ``alpha``. Passes when it does not differ, or when its TVD is smaller than the
    champion's.

    Raises
    ------
    DataError
        Empty or mismatched arrays, or missing values.
    """
    y = _as_labels(labels, "holdout labels")
    ch = _as_labels(challenger_predictions, "challenger predictions")
    if y.size == 0:
        raise DataError("the holdout has no labels: the output-vs-labels check needs a labelled holdout.")
    if ch.size != y.size:
        raise DataError(
            f"challenger predictions have {ch.size} rows but the holdout labels {y.size}; "
            "they must be predictions for the same holdout rows."
        )
    cp = None if champion_predictions is None else _as_labels(champion_predictions, "champion predictions")
    union = sorted(set(y) | set(ch) | (set(cp) if cp is not None else set()))
    obs, pred = _class_shares(y, ch, union)
    tvd, stat, p = _tvd_and_p(obs, pred)
    differs = tvd > cfg.max_tvd + EPS and p < cfg.alpha
    evidence: dict[str, Any] = {
        "observed": {c: int(v) for c, v in zip(union, obs, strict=True)},
        "challenger": {c: int(v) for c, v in zip(union, pred, strict=True)},
        "tvd": tvd,
        "chi2": stat,
        "p_value": p,
        "max_tvd": cfg.max_tvd,
        "alpha": cfg.alpha,
        "n": int(y.size),
    }
    champ_tvd = None
    if cp is not None and cp.size == y.size:
        _, champ_pred = _class_shares(y, cp, union)
        champ_tvd = _tvd_and_p(obs, champ_pred)[0]
        evidence["champion"] = {c: int(v) for c, v in zip(union, champ_pred, strict=True)}
        evidence["champion_tvd"] = champ_tvd
    better = champ_tvd is not None and tvd < champ_tvd - EPS
    passed = (not differs) or better
    how = (
        f"predicted class shares {'differ from' if differs else 'match'} the observed labels on {y.size} "
        f"holdout rows (TVD {tvd:.3f} vs max {cfg.max_tvd}; chi-squared p {p:.3g} vs alpha {cfg.alpha})"
    )
    if differs:
        how += (
            f", but closer than the champion's (TVD {champ_tvd:.3f})"
            if better
            else ""
            if champ_tvd is None
            else f", and no closer than the champion's (TVD {champ_tvd:.3f})"
        )
    return ResolutionCheck(CHECK_OUTPUT_LABELS, passed, how, evidence=evidence)


def _regression_fit(y: np.ndarray, pred: np.ndarray, spread: float) -> tuple[float, float]:
    """(|mean residual| / spread, W1(predictions, labels) / spread)."""
    bias = abs(float(np.mean(y - pred))) / spread
    # Equal sizes: the 1-Wasserstein distance is the mean gap between the sorted samples.
    w1 = float(np.mean(np.abs(np.sort(pred) - np.sort(y)))) / spread
    return bias, w1


def _floats(values: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numbers for a regression task: {exc}") from exc
    if not np.isfinite(arr).all():
        raise DataError(f"{what} holds {int((~np.isfinite(arr)).sum())} missing or infinite value(s).")
    return arr


def check_output_labels_regression(
    labels: Any, challenger_predictions: Any, champion_predictions: Any, cfg: OutputLabelsCheck
) -> ResolutionCheck:
    """Check 2 (regression): mean residual and prediction-vs-label distribution, over sd(label).

    Passes when both are within ``max_bias`` / ``max_distance``, or neither is larger than the
    champion's. A well-fitted regressor's predictions are narrower than its labels (they
    shrink towards the mean by its R²), so the distance is never 0: the tolerance allows
    for that, and the comparison with the champion judges weak-but-honest models fairly.
    """
    y = _floats(labels, "holdout labels")
    ch = _floats(challenger_predictions, "challenger predictions")
    if y.size < 2 or ch.size != y.size:
        raise DataError(
            f"the regression output check needs >= 2 holdout rows and one prediction per row; got "
            f"{y.size} label(s) and {ch.size} prediction(s)."
        )
    spread = float(np.std(y, ddof=1))
    if not spread > 0:
        raise DataError("the holdout labels are constant: their spread cannot scale the output check.")
    bias, w1 = _regression_fit(y, ch, spread)
    evidence: dict[str, Any] = {
        "label_sd": spread,
        "bias_over_sd": bias,
        "distance_over_sd": w1,
        "max_bias": cfg.max_bias,
        "max_distance": cfg.max_distance,
        "n": int(y.size),
    }
    within = bias <= cfg.max_bias + EPS and w1 <= cfg.max_distance + EPS
    better = False
    if champion_predictions is not None:
        cp = _floats(champion_predictions, "champion predictions")
        if cp.size == y.size:
            c_bias, c_w1 = _regression_fit(y, cp, spread)
            evidence.update(champion_bias_over_sd=c_bias, champion_distance_over_sd=c_w1)
            better = bias <= c_bias + EPS and w1 <= c_w1 + EPS
    how = (
        f"mean residual {bias:.3f} sd and prediction-vs-label distance {w1:.3f} sd on {y.size} holdout rows "
        f"(max {cfg.max_bias} and {cfg.max_distance})"
    )
    if not within:
        c = evidence
        how += (
            f"; beyond the tolerance, {'but no worse' if better else 'and not better'} than the champion's "
            f"{c['champion_bias_over_sd']:.3f} and {c['champion_distance_over_sd']:.3f}"
            if "champion_bias_over_sd" in c
            else "; beyond the tolerance"
        )
    return ResolutionCheck(CHECK_OUTPUT_LABELS, within or better, how, evidence=evidence)


# -- check 3: holdout against validation ----------------------------------------------------------


def _finite(v: Any) -> TypeGuard[float]:
    """A real number (not a bool) that is finite; narrows ``v`` to float for the type checker."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _relative_drop(validation: float, holdout: float, greater_is_better: bool) -> tuple[float, float]:
    drop = (validation - holdout) if greater_is_better else (holdout - validation)
    rel = drop / abs(validation) if validation != 0 else (math.inf if drop > 0 else 0.0)
    return drop, rel


def check_validation_gap(
    metric: str | None,
    validation_metric: float | None,
    holdout_entry: Mapping[str, Any],
    n_holdout: int | None,
    n_validation: int,
    greater_is_better: bool,
    cfg: ValidationGapCheck,
    champion_validation: float | None = None,
) -> ResolutionCheck:
    """Check 3: is the holdout metric significantly *and* materially below the validation metric?

    The drop ``d`` (validation minus holdout, in the better direction) has standard error
    ``se = se_h * sqrt(1 + n_holdout / n_validation)``, where ``se_h`` is the holdout metric's
    paired-bootstrap standard error from compare and the validation split's is scaled from it by
    its size (same metric, same kind of rows). Fails when ``P(Z > d / se) < alpha`` and
    ``d / |validation| > max_relative_drop``, unless that relative drop is at most
    ``1 - min_relative_improvement`` times the champion's (its validation value, ``champion_validation``,
    against its value on this holdout); a holdout better than validation never fails.
    """
    holdout = holdout_entry.get("challenger") if holdout_entry else None
    se_h = holdout_entry.get("challenger_se") if holdout_entry else None
    evidence: dict[str, Any] = {
        "metric": metric,
        "validation": validation_metric,
        "holdout": holdout,
        "alpha": cfg.alpha,
        "max_relative_drop": cfg.max_relative_drop,
    }
    bad = [n for n, v in (("validation", validation_metric), ("holdout", holdout)) if not _finite(v)]
    if metric is None or bad:
        what = "no primary metric (no min_gain rule)" if metric is None else f"{' and '.join(bad)} {metric} missing"
        return ResolutionCheck(CHECK_VALIDATION_GAP, False, f"{what}; missing evidence fails", evidence=evidence)
    v, h = float(validation_metric), float(holdout)  # type: ignore[arg-type]
    drop, rel = _relative_drop(v, h, greater_is_better)
    p = None
    if isinstance(se_h, (int, float)) and se_h > 0 and n_holdout and n_validation > 0:
        se = float(se_h) * math.sqrt(1.0 + n_holdout / n_validation)
        p = 0.5 * math.erfc((drop / se) / math.sqrt(2.0))
        evidence.update(se=se, p_value=p)
    evidence.update(drop=drop, relative_drop=rel)
    significant = p is None or p < cfg.alpha  # without a standard error the size alone decides
    material = rel > cfg.max_relative_drop + EPS
    fails = drop > 0 and significant and material
    test = (
        f"one-sided p {p:.3g} {'<' if p < cfg.alpha else '>='} alpha {cfg.alpha}"
        if p is not None
        else "no standard error recorded: judged on size alone"
    )
    detail = (
        f"{metric}: holdout {h:.4f} vs validation {v:.4f}, drop {drop:+.4f} ({rel:+.1%} of validation "
        f"{'>' if material else '<='} {cfg.max_relative_drop:.0%}; {test})"
    )
    champ_holdout = holdout_entry.get("champion") if holdout_entry else None
    if _finite(champion_validation) and _finite(champ_holdout):
        _, champ_rel = _relative_drop(float(champion_validation), float(champ_holdout), greater_is_better)
        evidence.update(
            champion_validation=champion_validation,
            champion_holdout=champ_holdout,
            champion_relative_drop=champ_rel,
            min_relative_improvement=cfg.min_relative_improvement,
        )
        if fails:
            keeps_up = champ_rel > 0 and rel <= (1.0 - cfg.min_relative_improvement) * champ_rel + EPS
            detail += (
                f"; {'but' if keeps_up else 'and'} the champion dropped {champ_rel:+.1%} from its own "
                f"validation {float(champion_validation):.4f} to {float(champ_holdout):.4f} on this holdout"
                + (" (the challenger keeps up better)" if keeps_up else "")
            )
            fails = not keeps_up
    return ResolutionCheck(CHECK_VALIDATION_GAP, not fails, detail, evidence=evidence)


# -- all three ------------------------------------------------------------------------------------


def assess_drift_resolution(
    inputs: ResolutionInputs, comparison: Mapping[str, Any], cfg: PromoteConfig | ResolutionConfig
) -> DriftResolution:
    """Run the three drift-resolution checks, each in its configured mode.

    Parameters
    ----------
    inputs : ResolutionInputs
    comparison : mapping
        The compare.json dict (the primary metric's holdout value and standard error, ``n_holdout``).
    cfg : PromoteConfig or ResolutionConfig
        A bare ResolutionConfig has no rules, hence no primary metric: check 3 then fails as
        missing evidence unless it is off.

    Returns
    -------
    DriftResolution

    Raises
    ------
    DataError
        Empty or mismatched holdout arrays (check 2).
    """
    from driftloop.promote.gates import metric_direction

    rcfg = cfg.resolution if isinstance(cfg, PromoteConfig) else cfg
    primary = cfg.primary_metric if isinstance(cfg, PromoteConfig) else None
    checks: list[ResolutionCheck] = []

    td: TrainingDataCheck = rcfg.training_data
    if td.mode == "off":
        checks.append(_off(CHECK_TRAINING_DATA, td.mode, td.reason))
    else:
        champ, chall = training_vs_holdout(inputs)
        checks.append(
            _moded(check_training_data(champ, chall, inputs.drifted_columns, td.min_relative_improvement), td)
        )

    ol = rcfg.output_labels
    if ol.mode == "off":
        checks.append(_off(CHECK_OUTPUT_LABELS, ol.mode, ol.reason))
    else:
        check = check_output_labels_regression if inputs.task == "regression" else check_output_labels_classification
        checks.append(_moded(check(inputs.labels, inputs.challenger_predictions, inputs.champion_predictions, ol), ol))

    vg = rcfg.validation_gap
    if vg.mode == "off":
        checks.append(_off(CHECK_VALIDATION_GAP, vg.mode, vg.reason))
    else:
        entry = ((comparison.get("metrics") or {}).get(primary) or {}) if primary else {}
        rule = next((r for r in cfg.rules if r.metric == primary), None) if isinstance(cfg, PromoteConfig) else None
        gib = metric_direction(comparison, primary, rule.greater_is_better if rule else None) if primary else True
        checks.append(
            _moded(
                check_validation_gap(
                    primary,
                    inputs.validation_metric,
                    entry,
                    comparison.get("n_holdout"),
                    inputs.n_validation,
                    gib,
                    vg,
                    inputs.champion_validation_metric,
                ),
                vg,
            )
        )
    return DriftResolution(checks=tuple(checks), drifted_columns=tuple(str(c) for c in inputs.drifted_columns))
