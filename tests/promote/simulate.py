"""Simulated promotion decisions: champion and challengers on a stream with known drift.

One replicate (:func:`run_replicate`) of a task and a scenario (:mod:`tests.promote.streams`):

1. draw a stream: the reference period, the stale window, the newest window and a
   5,000-row holdout, plus a large independent "truth" sample from the holdout's days;
2. fit the champion on one random half of the reference period, and four challengers:

   * ``better``: the newest window before the holdout (after the change);
   * ``stale``: a window before the change (for ``season``: the season's trough);
   * ``equal``: the other half of the reference period, same recipe as the champion;
   * ``worse``: the champion's own rows with the features that matter in every scenario
     (:data:`~tests.promote.streams.STABLE_INFORMATIVE`) dropped. The champion's rows, and no
     label noise, so that it extrapolates the drifted features as the champion does: trained on
     other rows, or with noisy labels (which shrink a logistic fit), a degraded model is better
     than the champion on a drifted holdout in some replicates;

   every model is driftloop's own pipeline (:func:`driftloop.train.model.build_model` with
   ``conf/model/logreg_tfidf.yaml`` or ``conf/model/linear.yaml``), fitted on the oldest 80 %
   of its window and validated on the newest 20 % (time-ordered, as the retrain stage does);
3. measure each challenger's true gain over the champion on the truth sample (the "known
   margin", in the primary metric's units, positive = the challenger is better);
4. run driftloop's real, pure decision path on the holdout: the drift verdict (reference
   vs the current window = newest window + holdout), the comparison
   (:func:`~driftloop.compare.comparison.compare_predictions`), the drift-resolution checks
   and the gates (:func:`~driftloop.promote.gates.evaluate_gates`), with the shipped task
   configs (``promote=<task>``, ``compare=<task>``, ``drift=default``).

The decision rule is injectable (``rules=``, several at once on the same simulated data) so
that a test can check that its assertions fail on a broken rule (always or never promote).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tests.promote import streams
from tests.promote.streams import STABLE_INFORMATIVE, Scenario, make_schema

ROOT = Path(__file__).resolve().parents[2]
KINDS = ("better", "stale", "equal", "worse")
#: Kinds that must be promoted (>= 80 %); every other kind must not be (<= 5 %). In the
#: ``none`` scenario the newest window is not better (nothing changed): it is an equal.
PROMOTE_TARGET = 0.80
REJECT_TARGET = 0.05
HOLDOUT_ROWS = 5_000
TRUTH_ROWS_PER_DAY = 2_000
VALIDATION_FRACTION = 0.2
MODEL_CONFIG = {"classification": "logreg_tfidf", "regression": "linear"}


def should_promote(scenario: str, kind: str) -> bool:
    """True when the challenger is truly better by construction (the >= 80 % cells)."""
    return kind == "better" and scenario != "none"


# -- configs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Configs:
    """The shipped configs of one task, as the pipeline composes them."""

    task: str
    promote_map: Mapping[str, Any]
    compare_map: Mapping[str, Any]
    drift_map: Mapping[str, Any]
    model_map: Mapping[str, Any]

    @property
    def promote(self) -> Any:
        from driftloop.promote.config import PromoteConfig

        return PromoteConfig.from_dict(self.promote_map)

    @property
    def compare(self) -> Any:
        from driftloop.compare.config import CompareConfig

        return CompareConfig.from_dict(self.compare_map)

    @property
    def drift(self) -> Any:
        from driftloop.drift import DriftConfig

        return DriftConfig.from_dict(self.drift_map)


@cache
def load_configs(task: str, overrides: tuple[str, ...] = ()) -> Configs:
    """Compose ``conf/`` with ``promote=<task> compare=<task> model=<linear model of the task>``
    and any further Hydra ``overrides`` (e.g. ``promote.rules.0.min_gain=0.01``)."""
    from driftloop.config import compose

    cfg = compose(
        [f"promote={task}", f"compare={task}", f"model={MODEL_CONFIG[task]}", *overrides], conf_dir=ROOT / "conf"
    )
    return Configs(task, cfg["promote"], cfg["compare"], cfg["drift"], cfg["model"])


# -- models -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """A fitted pipeline, the rows it trained and validated on, and its validation metrics."""

    model: Any
    schema: Any
    training: pd.DataFrame
    n_validation: int
    validation_metrics: Mapping[str, float]


def model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its pandas ``"string"`` columns as object columns holding NaN for missing.

    A workaround: :func:`driftloop.batches.coerce` makes categoricals ``"string"`` with
    ``pd.NA``, and the pipeline's ``SimpleImputer`` raises ``TypeError: boolean value of NA is
    ambiguous`` on them (``test_pipeline_fits_coerced_missing_categorical`` records it).
    """
    out = frame.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.StringDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    return out


def build_model_for(task: str, schema: Any) -> Any:
    """driftloop's unfitted pipeline for ``task`` (:data:`MODEL_CONFIG`)."""
    from driftloop.train.model import build_model

    return build_model(load_configs(task).model_map, schema)


def fit(frame: pd.DataFrame, task: str, drop: Sequence[str] = ()) -> Fitted:
    """Fit driftloop's pipeline on the oldest 80 % of ``frame``, validate on the newest 20 %."""
    from threadpoolctl import threadpool_limits

    from driftloop.compare.metrics import point_metrics
    from driftloop.compare.predict import predict_outputs

    full = make_schema(task)
    schema = replace(
        full,
        numeric=tuple(c for c in full.numeric if c not in drop),
        categorical=tuple(c for c in full.categorical if c not in drop),
    )
    ordered = frame.sort_values(["timestamp", "id"], kind="stable").reset_index(drop=True)
    n_val = round(len(ordered) * VALIDATION_FRACTION)
    train, val = ordered.iloc[:-n_val], ordered.iloc[-n_val:]
    y = train["label"].to_numpy(dtype=float) if task == "regression" else train["label"].astype(str).to_numpy()
    model = build_model_for(task, schema)
    with threadpool_limits(limits=1):
        model.fit(model_frame(train.loc[:, list(schema.features)]), y)
        p = predict_outputs(model, model_frame(val), schema)
    metrics = point_metrics(task, val["label"].to_numpy(), p.pred, p.proba, p.classes or None)
    return Fitted(model, schema, ordered, n_val, metrics)


def predict(fitted: Fitted, frame: pd.DataFrame) -> Any:
    """:class:`~driftloop.compare.predict.Predictions` of ``fitted`` on ``frame``."""
    from threadpoolctl import threadpool_limits

    from driftloop.compare.predict import predict_outputs

    with threadpool_limits(limits=1):
        return predict_outputs(fitted.model, model_frame(frame.loc[:, list(fitted.schema.features)]), fitted.schema)


# -- the decision ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInputs:
    """What the promote stage reads for one challenger."""

    comparison: Mapping[str, Any]
    resolution_inputs: Any
    configs: Configs


@dataclass(frozen=True)
class Verdict:
    """A decision reduced to what the simulation counts."""

    promoted: bool
    failed_gates: tuple[str, ...]


def gate_engine(inputs: DecisionInputs) -> Verdict:
    """driftloop's real decision: drift resolution, then every gate (the promote stage's path)."""
    from driftloop.promote.gates import evaluate_gates
    from driftloop.promote.resolution import assess_drift_resolution

    cfg = inputs.configs.promote
    resolution = assess_drift_resolution(inputs.resolution_inputs, inputs.comparison, cfg)
    decision = evaluate_gates(inputs.comparison, resolution, cfg, first_cycle=False)
    return Verdict(decision.promoted, tuple(g.name for g in decision.failed))


def always_promote(inputs: DecisionInputs) -> Verdict:
    """A broken rule, for checking that the assertions can fail."""
    return Verdict(True, ())


def never_promote(inputs: DecisionInputs) -> Verdict:
    """A broken rule, for checking that the assertions can fail."""
    return Verdict(False, ("never",))


# -- one replicate ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One challenger's decision in one replicate, with the truth about it."""

    task: str
    scenario: str
    kind: str
    replicate: int
    rule: str  # the decision rule's name ("gate_engine": driftloop's)
    promoted: bool
    failed_gates: tuple[str, ...]
    true_gain: float  # challenger over champion on the truth sample, primary metric, + = better
    true_champion: float
    true_challenger: float
    holdout_delta: float  # challenger - champion on the holdout (raw)
    holdout_champion: float  # the champion's primary metric on the holdout
    drift_verdict: bool  # the drift stage's dataset verdict (reference vs newest window + holdout)
    drifted_columns: tuple[str, ...]
    concept_drift: bool = False  # its concept-drift verdict (classification: the champion's outputs)

    @property
    def retrain_fires(self) -> bool:
        """Would ``train.trigger: on_drift`` retrain (dataset drift or concept drift)?"""
        return self.drift_verdict or self.concept_drift


def _coerced(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    from driftloop.batches import coerce

    return coerce(frame, make_schema(task), where="simulated stream")


def run_replicate(
    task: str,
    scenario_name: str,
    replicate: int,
    seed: int = 0,
    rules: Mapping[str, Callable[[DecisionInputs], Verdict]] | None = None,
    kinds: Iterable[str] = KINDS,
    sc: Scenario | None = None,
    truth_rows_per_day: int = TRUTH_ROWS_PER_DAY,
    overrides: tuple[str, ...] = (),
) -> list[Outcome]:
    """Simulate one replicate: one stream, one champion, one decision per challenger kind.

    Parameters
    ----------
    task : {"classification", "regression"}
    scenario_name : str
        One of :data:`tests.promote.streams.SCENARIOS`.
    replicate, seed : int
        The stream's randomness is ``SeedSequence([seed, task, scenario, replicate])``.
    rules : mapping of str to callable, optional
        Decision rules by name, each applied to the same inputs (default: ``{"gate_engine":
        gate_engine}``, driftloop's own).
    kinds : iterable of str
        Challenger kinds to decide on.
    sc : Scenario, optional
        Parameters overriding the shipped ones of ``scenario_name``.
    truth_rows_per_day : int
        Rows a day of the sample the true gains are measured on (20 days).
    overrides : tuple of str
        Hydra overrides of the composed configs (:func:`load_configs`), to try another rule.

    Returns
    -------
    list of Outcome
    """
    from driftloop.compare.comparison import compare_predictions
    from driftloop.compare.metrics import greater_is_better, point_metrics
    from driftloop.drift import evaluate_drift, summarize_reference
    from driftloop.promote.resolution import ResolutionInputs

    sc = sc or streams.scenario(scenario_name)
    configs = load_configs(task, tuple(overrides))
    drift_cfg, compare_cfg = configs.drift, configs.compare
    primary = configs.promote.primary_metric
    entropy = [seed, streams.TASKS.index(task), streams.SCENARIOS.index(scenario_name), replicate]
    rng_world, rng_data, rng_split, rng_truth = (
        np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(4)
    )
    label_style = "float" if replicate % 2 else "text"
    world = streams.make_world(rng_world)
    w = sc.windows

    def window(
        days: tuple[int, int],
        prefix: str,
        rng: np.random.Generator = rng_data,
        rows_per_day: int = streams.ROWS_PER_DAY,
    ) -> pd.DataFrame:
        raw = streams.generate_window(
            world, sc, task, days, rng, rows_per_day=rows_per_day, label_style=label_style, id_prefix=prefix
        )
        return _coerced(raw, task)

    reference = window(w.reference, "ref")
    stale_rows, recent, holdout = window(w.stale, "stale"), window(w.recent, "new"), window(w.holdout, "hold")
    truth = window(w.holdout, "truth", rng_truth, truth_rows_per_day)
    if len(holdout) != HOLDOUT_ROWS:
        raise RuntimeError(f"the holdout has {len(holdout)} rows, not {HOLDOUT_ROWS}: check Windows.holdout.")

    half = rng_split.permutation(len(reference)) < len(reference) // 2
    champion_rows, other_half = reference[half], reference[~half]
    champion = fit(champion_rows, task)
    features = list(make_schema(task).features)
    kinds_of = make_schema(task).kinds

    current = pd.concat([recent, holdout], ignore_index=True)
    outputs = None
    if task == "classification":  # the drift stage adds the champion's outputs for a classifier
        from driftloop.drift import ModelOutputs

        # Its reference side is data the champion never trained on (the stage: its holdout).
        ref_out, cur_out = predict(champion, other_half), predict(champion, current)
        outputs = ModelOutputs(
            list(ref_out.classes),
            ref_out.pred,
            ref_out.proba,
            cur_out.pred,
            cur_out.proba,
            other_half["label"].to_numpy(),
            current["label"].to_numpy(),
        )
    report = evaluate_drift(
        summarize_reference(reference[features], kinds_of, drift_cfg),
        current[features],
        drift_cfg,
        model_outputs=outputs,
    )
    drifted = tuple(report.drifted_columns)
    concept = bool((report.concept or {}).get("drifted"))

    recipes = {
        "better": lambda: fit(recent, task),
        "stale": lambda: fit(stale_rows, task),
        "equal": lambda: fit(other_half, task),
        "worse": lambda: fit(champion_rows, task, drop=STABLE_INFORMATIVE),
    }
    y_hold, y_truth = holdout["label"].to_numpy(), truth["label"].to_numpy()
    champ_hold, champ_truth = predict(champion, holdout), predict(champion, truth)
    gib = greater_is_better(primary)

    def metric(p: Any, y: np.ndarray) -> float:
        return point_metrics(task, y, p.pred, p.proba, p.classes or None)[primary]

    champ_true = metric(champ_truth, y_truth)
    out = []
    for kind in kinds:
        chall = recipes[kind]()
        ch_hold, ch_truth = predict(chall, holdout), predict(chall, truth)
        chall_true = metric(ch_truth, y_truth)
        comparison = compare_predictions(
            y_hold, ch_hold, champ_hold, compare_cfg, task, ids=holdout["id"]
        ).to_dict()  # keyed by id, as compare_models does
        inputs = ResolutionInputs(
            task=task,
            drifted_columns=drifted,
            column_kinds={c: kinds_of[c] for c in drifted},
            champion_training=champion.training,
            challenger_training=chall.training,
            holdout=holdout,
            labels=y_hold,
            challenger_predictions=ch_hold.pred,
            champion_predictions=champ_hold.pred,
            validation_metric=chall.validation_metrics.get(primary),
            n_validation=chall.n_validation,
            drift_config=drift_cfg,
            champion_validation_metric=champion.validation_metrics.get(primary),
        )
        entry = comparison["metrics"][primary]
        for rule, decide in (rules or {"gate_engine": gate_engine}).items():
            verdict = decide(DecisionInputs(comparison, inputs, configs))
            out.append(
                Outcome(
                    task=task,
                    scenario=scenario_name,
                    kind=kind,
                    replicate=replicate,
                    rule=rule,
                    promoted=verdict.promoted,
                    failed_gates=verdict.failed_gates,
                    true_gain=(chall_true - champ_true) if gib else (champ_true - chall_true),
                    true_champion=champ_true,
                    true_challenger=chall_true,
                    holdout_delta=float(entry["delta"]) if entry.get("delta") is not None else math.nan,
                    holdout_champion=float(entry["champion"]) if entry.get("champion") is not None else math.nan,
                    drift_verdict=bool(report.drifted),
                    drifted_columns=drifted,
                    concept_drift=concept,
                )
            )
    return out


# -- summaries -------------------------------------------------------------------------------------------


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (95 % by default).

    Examples
    --------
    >>> lo, hi = wilson_interval(0, 20)
    >>> round(lo, 3), round(hi, 3)
    (0.0, 0.161)
    """
    from driftloop.drift.unseen import wilson_interval as _library_wilson  # the one implementation

    if n <= 0:
        return 0.0, 1.0
    return _library_wilson(k, n, z)


@dataclass(frozen=True)
class Cell:
    """Aggregated outcomes of one task x scenario x kind."""

    task: str
    scenario: str
    kind: str
    n: int
    promoted: int
    interval: tuple[float, float]
    mean_gain: float
    sd_gain: float
    drift_rate: float  # share of replicates where the drift stage's dataset verdict is "drifted"
    column_drift_rate: float  # ... where at least one column drifted
    trigger_rate: float  # ... where train.trigger: on_drift would retrain (dataset or concept drift)
    blocking: tuple[tuple[str, int], ...]  # gate -> how many rejections it took part in, most first

    @property
    def rate(self) -> float:
        return self.promoted / self.n if self.n else math.nan

    @property
    def should_promote(self) -> bool:
        return should_promote(self.scenario, self.kind)

    @property
    def meets_target(self) -> bool:
        """The point rate against its target (>= 80 % or <= 5 %)."""
        return self.rate >= PROMOTE_TARGET if self.should_promote else self.rate <= REJECT_TARGET


def summarize(outcomes: Iterable[Outcome], rule: str = "gate_engine") -> list[Cell]:
    """One :class:`Cell` per task x scenario x kind of ``rule``'s decisions, in task, scenario, kind order."""
    groups: dict[tuple[str, str, str], list[Outcome]] = {}
    for o in outcomes:
        if o.rule == rule:
            groups.setdefault((o.task, o.scenario, o.kind), []).append(o)
    order = {k: i for i, k in enumerate(streams.TASKS + streams.SCENARIOS + KINDS)}
    cells = []
    for key in sorted(groups, key=lambda k: tuple(order.get(x, 99) for x in k)):
        rows = groups[key]
        k, n = sum(o.promoted for o in rows), len(rows)
        gains = np.array([o.true_gain for o in rows])
        blocking: dict[str, int] = {}
        for o in rows:
            if not o.promoted:
                for g in o.failed_gates:
                    blocking[g] = blocking.get(g, 0) + 1
        cells.append(
            Cell(
                *key,
                n=n,
                promoted=k,
                interval=wilson_interval(k, n),
                mean_gain=float(gains.mean()),
                sd_gain=float(gains.std(ddof=1)) if n > 1 else 0.0,
                drift_rate=float(np.mean([o.drift_verdict for o in rows])),
                column_drift_rate=float(np.mean([bool(o.drifted_columns) for o in rows])),
                trigger_rate=float(np.mean([o.retrain_fires for o in rows])),
                blocking=tuple(sorted(blocking.items(), key=lambda kv: (-kv[1], kv[0]))),
            )
        )
    return cells


def missed_targets(outcomes: Iterable[Outcome], rule: str = "gate_engine", *, pooled: bool) -> list[str]:
    """What misses its target, one sentence each (empty: every target met).

    ``pooled=False`` (enough replicates): each cell by its own 95 % Wilson interval (a "promote"
    cell's upper bound must reach 80 %, a "reject" cell's lower bound must not exceed 5 %).
    ``pooled=True`` (a few replicates): per task, the decisions that should promote pooled and
    those that should not, each judged by its 95 % Wilson interval (the pooled "promote" rate's
    upper bound must reach 80 %, the pooled "reject" rate's lower bound must not exceed 5 %),
    so that only a clear miss fails.
    """
    cells = summarize(outcomes, rule)
    if not pooled:
        # A cell misses only when its 95 % Wilson interval lies entirely on the wrong side: judged on
        # the point rate, a rule that refuses at exactly 5 % would fail half the runs by chance alone.
        missed = []
        for c in cells:
            lo, hi = wilson_interval(c.promoted, c.n)
            if (hi < PROMOTE_TARGET) if c.should_promote else (lo > REJECT_TARGET):
                missed.append(
                    f"{c.task}/{c.scenario}/{c.kind}: promoted {c.promoted}/{c.n} = {c.rate:.0%}, 95% Wilson "
                    f"[{lo:.1%}, {hi:.1%}], target {'>= 80%' if c.should_promote else '<= 5%'} "
                    f"(blocked by {dict(c.blocking[:3])})"
                )
        return missed
    out = []
    for task in dict.fromkeys(c.task for c in cells):
        for promote in (True, False):
            group = [c for c in cells if c.task == task and c.should_promote == promote]
            k, n = sum(c.promoted for c in group), sum(c.n for c in group)
            lo, hi = wilson_interval(k, n)
            if n and (hi < PROMOTE_TARGET if promote else lo > REJECT_TARGET):
                out.append(
                    f"{task}: {'truly better' if promote else 'stale/equal/worse'} challengers promoted "
                    f"{k}/{n}, 95% Wilson [{lo:.1%}, {hi:.1%}] "
                    f"{'entirely below 80%' if promote else 'entirely above 5%'}"
                )
    return out


def format_table(cells: Sequence[Cell]) -> str:
    """The cells as a fixed-width table (one line per cell)."""
    head = (
        f"{'task':<14} {'scenario':<8} {'kind':<6} {'target':<6} {'n':>4} {'promoted':>8} {'95% Wilson':>15} "
        f"{'true gain (sd)':>18} {'drift':>5} {'cols':>5} {'trig':>5}  blocked by (rejections it took part in)"
    )
    lines = [head, "-" * len(head)]
    for c in cells:
        target = (">=80%" if c.should_promote else "<=5%") + ("" if c.meets_target else "!")
        blocked = ", ".join(f"{g} {k}" for g, k in c.blocking[:3]) if c.promoted < c.n else "-"
        lines.append(
            f"{c.task:<14} {c.scenario:<8} {c.kind:<6} {target:<6} {c.n:>4} {c.rate:>8.0%} "
            f"[{c.interval[0]:>5.1%}, {c.interval[1]:>5.1%}] {c.mean_gain:>+9.4f} ({c.sd_gain:.4f}) "
            f"{c.drift_rate:>5.0%} {c.column_drift_rate:>5.0%} {c.trigger_rate:>5.0%}  {blocked}"
        )
    return "\n".join(lines)
