"""Streams with a known truth for simulating ``train.trigger`` decisions (tests/train/test_trigger_simulation.py).

Pure generators: every function takes an explicit :class:`numpy.random.Generator`; nothing is
seeded globally. Unlike the demo (a text sentiment stream), a stream is a transactions-like table::

    id, timestamp, x1, x2, trend, season, merchant, channel, note, label

with the kinds of values users bring: ``trend`` grows with event time and ``season`` follows a
cycle, ``merchant`` is id-like (:data:`N_MERCHANTS` levels, Zipf-like shares, so that every window
holds levels the reference never saw), missing values of every pandas kind (``NaN`` in a float
column, ``None`` in an object column of numbers, ``pd.NA`` in a nullable ``Float64`` and in a
``"string"`` column, ``None`` and ``NaN`` mixed in an object column), ``note`` is free text with
line breaks (``\\n`` and ``\\r\\n``), and classification labels come as ``"no"``/``"yes"`` or as the
floats ``0.0``/``1.0``.

Classification is a *correctly specified* logistic model, so that the champion's probabilities are
nearly calibrated and CBPE's assumption holds wherever only P(x) moves::

    s = B0 + x1_effect * W_X1 * x1 + W_X2 * x2 + w_trend * trend + W_SEASON * season
        + effect[merchant] + effect[channel]              y = 1[s + logistic noise > 0]

Regression uses the same score: ``y = s + N(0, 1)``. The scenarios (:data:`SCENARIOS`) change
the current window only (days ``[0, current_days)``; the reference is the days before, minus any
gap), each with what it should make the triggers do:

* ``none``: nothing changes;
* ``harmless_shift``: ``trend`` and ``season`` move (P(x) changes), P(y|x) does not, and the shift
  pushes the score away from the decision boundary: the champion's true accuracy *rises*;
* ``harmful_shift``: the same move with the trend's weight reversed, and x1 (the strongest feature)
  narrower, which pulls the score onto the boundary: the champion's true accuracy falls by about
  0.07 (measured and CBPE should both see it);
* ``none_small``: nothing changes, and the current window is two days (300 rows) long;
* ``concept``: x1 stops mattering on current (P(x) unchanged): accuracy falls by about 0.08;
  CBPE, which assumes P(y|x) unchanged, cannot see it by design, nor can a regressor's on_drift
  (no concept check without class outputs).

Event time is exact: day ``d``'s ``ROWS_PER_DAY`` rows sit at ``d + (i + 0.5) / ROWS_PER_DAY`` days
from :data:`BASE_DATE` (plus ``jitter_ns`` nanoseconds, to exercise ISO strings with nanoseconds), so
the champion's age and the new rows can be worked out by hand (:func:`hand_truth`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.schema import Schema

B0 = 1.1
W_X1 = 1.4
W_X2 = 0.9
W_SEASON = 0.5
W_TREND = 0.5
MERCHANT_EFFECT_SD = 0.4
N_MERCHANTS = 5000
CHANNEL_EFFECTS = {"web": 0.2, "app": 0.0, "store": -0.2, "phone": -0.3, "partner": 0.3}
CHANNEL_SHARES = (0.35, 0.3, 0.15, 0.12, 0.08)
MISSING = {"x1": 0.06, "x2": 0.05, "trend": 0.03, "merchant": 0.04, "channel": 0.03, "note": 0.05}
WORDS = ("refund", "late", "card", "ok", "thanks", "broken", "delivery", "fast", "price", "again")

NUMERIC = ("x1", "x2", "trend", "season")
CATEGORICAL = ("merchant", "channel")
TEXT = ("note",)
SCENARIOS = ("none", "harmless_shift", "harmful_shift", "concept", "none_small")
TASKS = ("classification", "regression")
ROWS_PER_DAY = 150
BASE_DATE = pd.Timestamp("2026-03-02")


@dataclass(frozen=True)
class Scenario:
    """What changes on the current window (days ``>= 0``).

    Parameters
    ----------
    name : str
    trend_shift : float
        ``trend``'s mean on current, in its sd (the reference's is 0).
    w_trend : float
        ``trend``'s weight in the score (its sign decides whether the shift helps or hurts).
    season_amplitude : float
        ``season = amplitude * sin(2 pi day / SEASON_PERIOD) + N(0, 1)``: with the reference at the
        cycle's trough and current at its crest when the amplitude is not 0.
    x1_scale : float
        x1's sd on current (1 on the reference).
    x1_effect : float
        x1's effect on current, as a multiple of ``W_X1`` (1: P(y|x) unchanged).
    current_days : int or None
        Days of the current window (None: drawn by :func:`draw_timeline`, 7 to 14).
    """

    name: str
    trend_shift: float = 0.0
    w_trend: float = W_TREND
    season_amplitude: float = 0.0
    x1_scale: float = 1.0
    x1_effect: float = 1.0
    current_days: int | None = None


SEASON_PERIOD = 112.0  # days: the reference (days < 0) on a falling half, current on a rising one


def scenario(name: str) -> Scenario:
    """The shipped parameters of scenario ``name``.

    Raises
    ------
    ValueError
        Naming the scenarios when ``name`` is not one of them.
    """
    table = {
        "none": Scenario("none"),
        "harmless_shift": Scenario("harmless_shift", trend_shift=1.5, w_trend=W_TREND, season_amplitude=1.0),
        "harmful_shift": Scenario(
            "harmful_shift", trend_shift=2.0, w_trend=-W_TREND, season_amplitude=-1.0, x1_scale=0.5
        ),
        "concept": Scenario("concept", x1_effect=0.0),
        "none_small": Scenario("none_small", current_days=2),
    }
    if name not in table:
        raise ValueError(f"The 'name' parameter of scenario must be one of {list(SCENARIOS)}. Got {name!r} instead.")
    return table[name]


@dataclass(frozen=True)
class World:
    """The fixed part of one replicate: merchant levels, their shares and effects."""

    merchants: np.ndarray
    merchant_p: np.ndarray
    merchant_effect: np.ndarray


def make_world(rng: np.random.Generator, n_merchants: int = N_MERCHANTS) -> World:
    """Id-like merchant names with Zipf-like shares (exponent 1.05) and their effects."""
    ids = rng.choice(10_000_000, size=n_merchants, replace=False)
    p = 1.0 / np.arange(1, n_merchants + 1) ** 1.05
    return World(
        merchants=np.array([f"M-{i:07d}" for i in ids], dtype=object),
        merchant_p=rng.permutation(p / p.sum()),
        merchant_effect=rng.normal(0.0, MERCHANT_EFFECT_SD, n_merchants),
    )


def _mask(
    values: object, share: float, missing: object, rng: np.random.Generator, dtype: str | None = None
) -> pd.Series:
    s = pd.Series(values, dtype=dtype)
    if dtype is None and missing is None:
        s = s.astype(object)
    s[rng.random(len(s)) < share] = missing
    return s


def _notes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Short free text, one or two lines (``\\n`` or ``\\r\\n``), independent of the label."""
    k = rng.integers(1, 4, size=(n, 2))
    w = rng.integers(0, len(WORDS), size=(n, 6))
    breaks = np.where(rng.random(n) < 0.5, "\n", "\r\n")
    two = rng.random(n) < 0.4
    return np.array(
        [
            " ".join(WORDS[j] for j in w[i, : k[i, 0]])
            + (breaks[i] + " ".join(WORDS[j] for j in w[i, 3 : 3 + k[i, 1]]) if two[i] else "")
            for i in range(n)
        ],
        dtype=object,
    )


def event_times(days: tuple[int, int], rows_per_day: int = ROWS_PER_DAY, jitter_ns: int = 0) -> pd.Series:
    """The exact timestamps of days ``[days[0], days[1])``: ``d + (i + 0.5) / rows_per_day`` days."""
    day = np.repeat(np.arange(days[0], days[1]), rows_per_day).astype(np.int64)
    slot = np.tile(np.arange(rows_per_day), days[1] - days[0]).astype(np.int64)
    ns_a_day = 86_400 * 10**9
    offset = day * ns_a_day + (2 * slot + 1) * (ns_a_day // (2 * rows_per_day)) + jitter_ns
    return pd.Series(BASE_DATE + pd.to_timedelta(offset, unit="ns"))


def generate_window(
    world: World,
    sc: Scenario,
    task: str,
    days: tuple[int, int],
    rng: np.random.Generator,
    *,
    rows_per_day: int = ROWS_PER_DAY,
    label_style: str = "text",
    id_prefix: str = "r",
    jitter_ns: int = 0,
) -> pd.DataFrame:
    """Rows of days ``[days[0], days[1])`` (day 0: the first of the current window), time-ordered.

    Parameters
    ----------
    world : World
    sc : Scenario
    task : {"classification", "regression"}
    days : (int, int)
    rng : numpy.random.Generator
    rows_per_day : int
    label_style : {"text", "float"}
        Classification labels as ``"no"``/``"yes"`` or as the floats ``0.0``/``1.0``.
    id_prefix : str
    jitter_ns : int
        Nanoseconds added to every timestamp.

    Returns
    -------
    pandas.DataFrame
        Raw columns as a batch file brings them; :func:`driftloop.batches.coerce` with
        :func:`make_schema` gives the pipeline's dtypes.
    """
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter of generate_window must be one of {list(TASKS)}. Got {task!r}.")
    if label_style not in ("text", "float"):
        raise ValueError(f"The 'label_style' parameter must be 'text' or 'float'. Got {label_style!r} instead.")
    ts = event_times(days, rows_per_day, jitter_ns)
    day = np.repeat(np.arange(days[0], days[1]), rows_per_day).astype(float)
    n = day.size
    current = day >= 0
    x1, x2 = rng.normal(size=n) * np.where(current, sc.x1_scale, 1.0), rng.normal(size=n)
    trend = np.where(current, sc.trend_shift, 0.0) + rng.normal(size=n)
    # Days -56..-1 sit on the cycle's trough half (sin < 0), days 0..55 on its crest half.
    season = sc.season_amplitude * np.sin(2 * np.pi * (day + 0.5) / SEASON_PERIOD) + rng.normal(size=n)
    idx = rng.choice(world.merchants.size, size=n, p=world.merchant_p)
    channels = np.array(list(CHANNEL_EFFECTS), dtype=object)
    c_idx = rng.choice(channels.size, size=n, p=CHANNEL_SHARES)
    x1_effect = np.where(current, sc.x1_effect, 1.0)
    score = (
        B0
        + x1_effect * W_X1 * x1
        + W_X2 * x2
        + sc.w_trend * trend
        + W_SEASON * season
        + world.merchant_effect[idx]
        + np.array(list(CHANNEL_EFFECTS.values()))[c_idx]
    )
    if task == "classification":
        positive = score + rng.logistic(size=n) > 0
        label: object = positive.astype(float) if label_style == "float" else np.where(positive, "yes", "no")
    else:
        label = score + rng.normal(0.0, 1.0, n)
    frame = pd.DataFrame(
        {
            "id": [f"{id_prefix}{i:07d}" for i in range(n)],
            "timestamp": ts,
            "x1": _mask(x1, MISSING["x1"], np.nan, rng),
            "x2": _mask(x2, MISSING["x2"], None, rng),
            "trend": _mask(trend, MISSING["trend"], pd.NA, rng, dtype="Float64"),
            "season": season,
            "merchant": _mask(world.merchants[idx], MISSING["merchant"], pd.NA, rng, dtype="string"),
            "channel": _mask(channels[c_idx], MISSING["channel"], None, rng),
            "note": _mask(_notes(n, rng), MISSING["note"], None, rng),
            "label": label,
        }
    )
    nan_rows = frame["channel"].isna().to_numpy() & (rng.random(n) < 0.5)  # NaN beside None
    frame.loc[nan_rows, "channel"] = np.nan
    return frame


def make_schema(task: str, text: bool = True) -> Schema:
    """The schema of the generated streams (``text=False`` leaves ``note`` out)."""
    return Schema(
        id="id",
        timestamp="timestamp",
        label="label",
        numeric=NUMERIC,
        categorical=CATEGORICAL,
        text=TEXT if text else (),
        task=task,
    )


# -- event-time arithmetic, by hand ------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The days of one cycle: reference ``[-ref_days - gap, -gap)``, then ``gap`` days, then current
    ``[0, current_days)``; ``current_max_days`` caps the current window (None: every newer row)."""

    ref_days: int
    gap: int
    current_days: int
    current_max_days: int | None = None
    rows_per_day: int = ROWS_PER_DAY
    jitter_ns: int = 0

    @property
    def reference(self) -> tuple[int, int]:
        return (-self.ref_days - self.gap, -self.gap)

    @property
    def newer(self) -> tuple[int, int]:
        """Every day after the reference: the gap and the current days."""
        return (-self.gap, self.current_days)


@dataclass(frozen=True)
class HandTruth:
    """What champion_age and new_rows must find, worked out from the timeline alone."""

    age_days: float
    new_rows: int
    current_rows: int


def hand_truth(t: Timeline) -> HandTruth:
    """The champion's age and the new rows of ``t``, by arithmetic on its days.

    Every row sits at the same offset within its day, so the newest current row is exactly
    ``gap + current_days`` days after the newest reference row; every row after the reference is
    new, whether the cap puts it in current or skips it.

    >>> hand_truth(Timeline(ref_days=20, gap=3, current_days=7, current_max_days=5))
    HandTruth(age_days=10.0, new_rows=1500, current_rows=750)
    """
    newer_days = t.gap + t.current_days
    current_days = newer_days if t.current_max_days is None else min(t.current_max_days, newer_days)
    return HandTruth(float(newer_days), newer_days * t.rows_per_day, current_days * t.rows_per_day)


# -- one simulated cycle: the real path from the windows to the trigger's decision ------------------

#: The serving champion every simulated cycle has (a first cycle always trains: nothing to decide).
CHAMPION = "sim-champion v1"
MIN_DROP = 0.03
REF_DAYS = 21
FIRE_TARGET = 0.80  # power: a cell that should fire does in >= 80 % of replicates
QUIET_TARGET = 0.05  # false alarms: a cell that should not fire does in <= 5 % (drift.alpha)
MEASURED = {"performance_drop": {"metric": "accuracy", "min_drop": MIN_DROP}}


@dataclass(frozen=True)
class Cycle:
    """What the retrain stage reads in one simulated cycle, and the truth about it.

    ``drift`` is drift.json (labelled current window: concept drift measured), ``drift_unlabelled``
    the same cycle's drift.json had the current window carried no labels (CBPE only; None for a
    regressor, which has no champion outputs); both and ``manifest`` went through the stages'
    JSON writer and reader.
    """

    task: str
    scenario: str
    replicate: int
    label_style: str
    timeline: Timeline
    truth: HandTruth
    drift: Mapping[str, Any]
    drift_unlabelled: Mapping[str, Any] | None
    manifest: Mapping[str, Any]
    true_reference: float  # the champion's true accuracy (classification) on each distribution
    true_current: float

    @property
    def true_drop(self) -> float:
        return self.true_reference - self.true_current

    @property
    def measured_drop(self) -> float:
        """drift.json's accuracy on the reference minus on current (labels; NaN for a regressor)."""
        concept = self.drift.get("concept") or {}
        return float(concept["reference"] - concept["current"]) if concept else math.nan

    @property
    def estimated_drop(self) -> float:
        """The unlabelled drift.json's CBPE accuracy on the reference minus on current (NaN for a regressor)."""
        estimate = (self.drift_unlabelled or {}).get("performance_estimate") or {}
        if not estimate:
            return math.nan
        return float(estimate["reference_check"]["accuracy"]["estimated"] - estimate["current"]["accuracy"])


def draw_timeline(task: str, rng: np.random.Generator, current_days: int | None = None) -> Timeline:
    """A random cycle's days. Classification: the cap keeps exactly the changed days (the gap is
    skipped); regression: any cap, or none (the gap's rows then join current), and nanoseconds."""
    gap, drawn = int(rng.integers(0, 6)), int(rng.integers(7, 15))
    current_days = current_days or drawn
    if task == "classification":
        return Timeline(REF_DAYS, gap, current_days, current_days)
    cap = None if rng.random() < 0.35 else int(rng.integers(3, gap + current_days + 3))
    jitter = int(rng.integers(1, 10**9)) if rng.random() < 0.5 else 0
    return Timeline(int(rng.integers(10, 29)), gap, current_days, cap, jitter_ns=jitter)


def _coerced(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    from driftloop.batches import coerce

    return coerce(frame, schema, where="simulated stream")


def _model_frame(frame: pd.DataFrame) -> pd.DataFrame:
    from tests.promote.simulate import model_frame  # the pd.NA-in-"string" workaround, one copy

    return model_frame(frame)


def _json_round_trip(data: Mapping[str, Any], directory: Path) -> Any:
    """``data`` as the stages write it (:func:`driftloop.io.write_json`) and read it back."""
    from driftloop.io import read_json, write_json

    path = directory / "out.json"
    write_json(path, data)
    return read_json(path, what="simulated file")


def simulate_cycle(
    task: str,
    scenario_name: str,
    replicate: int,
    seed: int = 0,
    *,
    truth_rows_per_day: int = 300,
    label_style: str | None = None,
) -> Cycle:
    """One cycle on a fresh stream, through driftloop's own stage logic up to what retrain reads.

    1. draw the stream: the reference (the champion's training data) and every day after it
       (:func:`draw_timeline`), coerced as a batch is (:func:`driftloop.batches.coerce`);
    2. the snapshot's windows and manifest (:func:`driftloop.windows.select_windows` with the
       champion's data as reference, :func:`driftloop.manifest.build_manifest`);
    3. classification: the champion (driftloop's ``logreg_tfidf`` pipeline) fitted on a random half of
       the reference, its outputs on the other half (the stage's reference side: rows it never
       trained on) and on the current window, with and without current labels;
    4. the drift stage's evaluation (:func:`driftloop.drift.evaluate_drift`, ``drift=default``) and
       drift.json (:func:`driftloop.drift_files.drift_result`);
    5. the truth: the champion's accuracy on large fresh samples of the reference's and of the
       current window's distribution, and the hand-computed age and new rows (:func:`hand_truth`).
    """
    import tempfile

    from threadpoolctl import threadpool_limits

    from driftloop.contracts import Manifest
    from driftloop.drift import ModelOutputs, evaluate_drift, summarize_reference
    from driftloop.drift_files import drift_result
    from driftloop.manifest import build_manifest
    from driftloop.windows import select_windows
    from tests.promote.simulate import load_configs

    configs = load_configs(task)
    drift_cfg = configs.drift
    sc = scenario(scenario_name)
    entropy = [seed, TASKS.index(task), SCENARIOS.index(scenario_name), replicate]
    rng_world, rng_data, rng_split, rng_truth = (
        np.random.default_rng(s) for s in np.random.SeedSequence(entropy).spawn(4)
    )
    # Float labels (0.0/1.0) in every other stream, alternating across scenarios too.
    label_style = label_style or ("float" if (replicate + SCENARIOS.index(scenario_name)) % 2 else "text")
    world = make_world(rng_world)
    timeline = draw_timeline(task, rng_data, sc.current_days)
    schema = make_schema(task)
    features = list(schema.features)

    def window(days: tuple[int, int], prefix: str, rng: np.random.Generator, rows_per_day: int) -> pd.DataFrame:
        raw = generate_window(
            world,
            sc,
            task,
            days,
            rng,
            rows_per_day=rows_per_day,
            label_style=label_style,
            id_prefix=prefix,
            jitter_ns=timeline.jitter_ns,
        )
        return _coerced(raw, schema)

    reference = window(timeline.reference, "ref", rng_data, timeline.rows_per_day)
    newer = window(timeline.newer, "new", rng_data, timeline.rows_per_day)
    data = pd.concat([reference, newer], ignore_index=True)
    windows = select_windows(
        data,
        schema,
        initial_reference_days=REF_DAYS,
        current_max_days=timeline.current_max_days,
        champion_reference=reference,
        champion_label=CHAMPION,
    )
    manifest = build_manifest(
        windows,
        schema,
        cycle_run_id="simulated",
        champion=None,
        lineage={},
        source_path="simulated",
        batches=[],
        source_rows=len(data),
        current_max_days=timeline.current_max_days,
        reference_md5="-",
        current_md5="-",
    )
    summary = summarize_reference(windows.reference[features], schema.kinds, drift_cfg)
    current = windows.current
    outputs = unlabelled = None
    true_ref = true_cur = float("nan")
    if task == "classification":
        from driftloop.compare.predict import predict_outputs
        from tests.promote.simulate import build_model_for

        half = rng_split.permutation(len(reference)) < len(reference) // 2
        trained, held_out = reference[half], reference[~half]
        model = build_model_for(task, schema)

        def predict(frame: pd.DataFrame) -> Any:
            return predict_outputs(model, _model_frame(frame.loc[:, features]), schema)

        with threadpool_limits(limits=1):
            model.fit(_model_frame(trained.loc[:, features]), trained["label"].astype(str).to_numpy())
            ref_out, cur_out = predict(held_out), predict(current)

            def accuracy(days: tuple[int, int]) -> float:
                big = window(days, "truth", rng_truth, truth_rows_per_day)
                return float(np.mean(predict(big).pred.astype(str) == big["label"].astype(str).to_numpy()))

            if truth_rows_per_day:  # 0: no truth sample (NaN)
                true_ref = accuracy(timeline.reference)
                true_cur = accuracy((0, timeline.current_days))
        # As driftloop.drift_files.champion_outputs builds them (its labels: the windows' label columns).
        outputs = ModelOutputs(
            list(ref_out.classes),
            ref_out.pred,
            ref_out.proba,
            cur_out.pred,
            cur_out.proba,
            held_out["label"].to_numpy(),
            current["label"].to_numpy(),
        )
        unlabelled = dataclasses.replace(outputs, current_labels=None)  # CBPE only: no concept check
    parsed_manifest = Manifest.from_dict(manifest.to_dict())
    with tempfile.TemporaryDirectory() as tmp:
        report = evaluate_drift(summary, current[features], drift_cfg, model_outputs=outputs)
        drift = _json_round_trip(drift_result(report, parsed_manifest, None)[1].to_dict(), Path(tmp))
        drift_unlabelled = None
        if unlabelled is not None:
            report = evaluate_drift(summary, current[features], drift_cfg, model_outputs=unlabelled)
            drift_unlabelled = _json_round_trip(drift_result(report, parsed_manifest, None)[1].to_dict(), Path(tmp))
        manifest_json = _json_round_trip(manifest.to_dict(), Path(tmp))
    return Cycle(
        task,
        scenario_name,
        replicate,
        label_style,
        timeline,
        hand_truth(timeline),
        drift,
        drift_unlabelled,
        manifest_json,
        true_ref,
        true_cur,
    )


# -- the triggers' decisions, and the truth they are judged by ---------------------------------------

#: A decision rule: (drift.json, manifest.json, train.trigger) -> does this cycle train a challenger?
Rule = Callable[[Mapping[str, Any], Mapping[str, Any], Any], bool]


def library_rule(drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """driftloop's decision, as the retrain stage makes it (:func:`driftloop.train.trigger.decide`)."""
    from driftloop.contracts import DriftResult, Manifest
    from driftloop.train.trigger import TriggerFacts, decide

    facts = TriggerFacts.from_manifest(Manifest.from_dict(manifest))
    return decide(DriftResult.from_dict(drift), trigger, CHAMPION, facts).train


def always_rule(drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """A broken rule (fires on every cycle), for checking that the judgement can fail."""
    return True


def never_rule(drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """A broken rule (never fires)."""
    return False


def current_only_rule(drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """A plausible bug: the new rows and the champion's age read from the current window alone
    (rows the cap skipped not counted; age from the current window's first row)."""
    from driftloop.contracts import DriftResult
    from driftloop.train.trigger import TriggerFacts, decide

    cur = manifest.get("current") or {}
    facts = TriggerFacts(cur.get("start"), cur.get("end"), cur.get("rows"))
    return decide(DriftResult.from_dict(drift), trigger, CHAMPION, facts).train


def point_drop_rule(drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """The measured performance_drop before it read ``concept.ci95``: the point drop alone (the
    library's decision on drift.json without the interval), for the table of what the guard changed."""
    concept = drift.get("concept")
    bare = {**drift, "concept": {k: v for k, v in concept.items() if k != "ci95"}} if concept else drift
    return library_rule(bare, manifest, trigger)


RULES: dict[str, Rule] = {
    "driftloop": library_rule,
    "always": always_rule,
    "never": never_rule,
    "current_only": current_only_rule,
    "point_drop": point_drop_rule,
}


@dataclass(frozen=True)
class Outcome:
    """One trigger's decision on one simulated cycle, with the truth about it.

    ``target`` is ``fire`` (should fire: >= 80 %), ``quiet`` (should not: <= 5 %), ``gap`` (should
    fire, and a documented limit keeps it from firing: an xfail) or ``exact`` (event-time arithmetic
    or a combination of parts: must equal ``truth`` on every cycle).
    """

    task: str
    scenario: str
    replicate: int
    label_style: str
    trigger: str
    rule: str
    fired: bool
    target: str
    truth: bool | None
    true_drop: float
    measured_drop: float = math.nan
    estimated_drop: float = math.nan


def _design(task: str, scenario_name: str, trigger: str) -> str:
    """The target of a statistical cell, by construction of the scenario."""
    if scenario_name in ("none", "none_small"):
        return "quiet"
    if trigger == "on_drift":
        return "gap" if (task, scenario_name) == ("regression", "concept") else "fire"
    if scenario_name == "harmless_shift":
        return "quiet"  # performance_drop, and all(on_drift, performance_drop): the model did not get worse
    if trigger == "performance_drop estimated" and scenario_name == "concept":
        return "gap"  # CBPE assumes P(y|x) unchanged (driftloop.drift.model_outputs.CBPE_ASSUMPTION)
    return "fire"


def _leaf(cycle_drift: Mapping[str, Any], manifest: Mapping[str, Any], trigger: Any) -> bool:
    """One part of a composite, evaluated on its own by the library (the truth a composite is held to)."""
    from driftloop.contracts import DriftResult, Manifest
    from driftloop.train.trigger import TriggerFacts, evaluate, parse_trigger

    facts = TriggerFacts.from_manifest(Manifest.from_dict(manifest))
    return evaluate(parse_trigger(trigger), DriftResult.from_dict(cycle_drift), facts).fire


def decisions(cycle: Cycle, rules: Mapping[str, Rule], seed: int = 0) -> list[Outcome]:
    """Every simulated trigger of ``cycle``'s task under each rule, with its target and truth.

    Thresholds of the event-time triggers are drawn at, just below or just above the hand-computed
    truth (``>=`` is the rule: a champion exactly ``days`` old is due), so that an off-by-one fails.
    """
    rng = np.random.default_rng([seed, TASKS.index(cycle.task), SCENARIOS.index(cycle.scenario), cycle.replicate, 7])
    truth = cycle.truth
    days = truth.age_days + float(rng.choice([-1.0, -0.25, 0.0, 0.0, 0.5, 1.0]))
    minimum = max(1, truth.new_rows + int(rng.choice([-1, 0, 0, 1, cycle.timeline.rows_per_day])))
    age = {"champion_age": {"days": days}}
    rows = {"new_rows": {"min": minimum}}
    age_truth, rows_truth = truth.age_days >= days, truth.new_rows >= minimum
    drifted = _leaf(cycle.drift, cycle.manifest, "on_drift")
    # name -> (train.trigger, drift.json, target, truth of an exact cell)
    cells: dict[str, tuple[Any, Mapping[str, Any], str, bool | None]] = {
        "on_drift": ("on_drift", cycle.drift, "", None),
        f"champion_age(days={days:g})": (age, cycle.drift, "exact", age_truth),
        f"new_rows(min={minimum})": (rows, cycle.drift, "exact", rows_truth),
        "all(on_drift, new_rows)": ({"all": ["on_drift", rows]}, cycle.drift, "exact", drifted and rows_truth),
        "any(on_drift, champion_age)": (["on_drift", age], cycle.drift, "exact", drifted or age_truth),
    }
    if cycle.task == "classification":
        assert cycle.drift_unlabelled is not None
        estimated = _leaf(cycle.drift_unlabelled, cycle.manifest, MEASURED)
        cells |= {
            "performance_drop measured": (MEASURED, cycle.drift, "", None),
            "performance_drop estimated": (MEASURED, cycle.drift_unlabelled, "", None),
            "all(on_drift, performance_drop)": ({"all": ["on_drift", MEASURED]}, cycle.drift, "", None),
            "any(performance_drop estimated, champion_age)": (
                {"any": [MEASURED, age]},
                cycle.drift_unlabelled,
                "exact",
                estimated or age_truth,
            ),
        }
    out = []
    for name, (trigger, drift, target, exact) in cells.items():
        kind = target or _design(cycle.task, cycle.scenario, name)
        label = name.split("(")[0] if name.startswith(("champion_age", "new_rows")) else name
        for rule_name, rule in rules.items():
            out.append(
                Outcome(
                    cycle.task,
                    cycle.scenario,
                    cycle.replicate,
                    cycle.label_style,
                    label,
                    rule_name,
                    bool(rule(drift, cycle.manifest, trigger)),
                    kind,
                    exact,
                    cycle.true_drop,
                    cycle.measured_drop,
                    cycle.estimated_drop,
                )
            )
    return out


def run_replicate(
    task: str,
    scenario_name: str,
    replicate: int,
    seed: int = 0,
    rules: Mapping[str, Rule] | None = None,
    truth_rows_per_day: int = 300,
) -> list[Outcome]:
    """:func:`simulate_cycle` then :func:`decisions` (default: every rule of :data:`RULES`)."""
    cycle = simulate_cycle(task, scenario_name, replicate, seed, truth_rows_per_day=truth_rows_per_day)
    return decisions(cycle, RULES if rules is None else rules, seed)


# -- judging -----------------------------------------------------------------------------------------


def wilson_interval(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of ``k / n`` (the library's implementation)."""
    from tests.promote.simulate import wilson_interval as _wilson

    return _wilson(k, n)


@dataclass(frozen=True)
class Cell:
    """One task x scenario x trigger of one rule: how often it fired, or agreed with its exact truth."""

    task: str
    scenario: str
    trigger: str
    target: str
    n: int
    fired: int
    agreed: int  # exact cells: decisions equal to the hand-computed truth
    mean_drop: float
    sd_drop: float
    mean_measured: float = math.nan
    mean_estimated: float = math.nan

    @property
    def rate(self) -> float:
        return self.fired / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.fired, self.n)

    @property
    def met(self) -> bool:
        """Judged by the 95 % Wilson interval (a miss: it lies entirely on the wrong side), or
        exactly (exact cells); a ``gap`` cell is judged as ``fire`` (and expected to miss)."""
        lo, hi = self.interval
        if self.target == "exact":
            return self.agreed == self.n
        if self.target == "quiet":
            return lo <= QUIET_TARGET
        return hi >= FIRE_TARGET

    @property
    def target_text(self) -> str:
        return {"fire": ">=80%", "quiet": "<=5%", "gap": ">=80% (gap)", "exact": "=truth"}[self.target]


def summarize(outcomes: Iterable[Outcome], rule: str = "driftloop") -> list[Cell]:
    """One :class:`Cell` per task x scenario x trigger of ``rule``, in that order."""
    groups: dict[tuple[str, str, str, str], list[Outcome]] = {}
    for o in outcomes:
        if o.rule == rule:
            groups.setdefault((o.task, o.scenario, o.trigger, o.target), []).append(o)
    order = {k: i for i, k in enumerate(TASKS + SCENARIOS)}
    cells = []
    for key in sorted(groups, key=lambda k: (order[k[0]], order[k[1]])):
        rows = groups[key]
        drops = np.array([o.true_drop for o in rows], dtype=float)
        cells.append(
            Cell(
                *key,
                n=len(rows),
                fired=sum(o.fired for o in rows),
                agreed=sum(o.fired == o.truth for o in rows),
                mean_drop=float(np.mean(drops)),
                sd_drop=float(np.std(drops, ddof=1)) if len(rows) > 1 else 0.0,
                mean_measured=float(np.mean([o.measured_drop for o in rows])),
                mean_estimated=float(np.mean([o.estimated_drop for o in rows])),
            )
        )
    return cells


def missed_targets(outcomes: Iterable[Outcome], rule: str = "driftloop", *, pooled: bool) -> list[str]:
    """What misses its target, one sentence each (empty: every target met; ``gap`` cells are left out).

    Exact cells must agree with their truth on every cycle in both modes. ``pooled=False``: each
    statistical cell by its own 95 % Wilson interval. ``pooled=True`` (a few replicates): per task,
    the ``fire`` cells pooled and the ``quiet`` cells pooled, each by its Wilson interval.
    """
    cells = [c for c in summarize(outcomes, rule) if c.target != "gap"]
    out = [
        f"{c.task}/{c.scenario}/{c.trigger}: {c.n - c.agreed} of {c.n} decisions differ from the hand-computed truth"
        for c in cells
        if c.target == "exact" and not c.met
    ]
    if not pooled:
        for c in cells:
            if c.target != "exact" and not c.met:
                lo, hi = c.interval
                out.append(
                    f"{c.task}/{c.scenario}/{c.trigger}: fired {c.fired}/{c.n} = {c.rate:.0%}, 95% Wilson "
                    f"[{lo:.1%}, {hi:.1%}], target {c.target_text}"
                )
        return out
    for task in dict.fromkeys(c.task for c in cells):
        for target in ("fire", "quiet"):
            group = [c for c in cells if c.task == task and c.target == target]
            k, n = sum(c.fired for c in group), sum(c.n for c in group)
            lo, hi = wilson_interval(k, n)
            if n and (hi < FIRE_TARGET if target == "fire" else lo > QUIET_TARGET):
                out.append(
                    f"{task}: the '{target}' cells pooled fired {k}/{n}, 95% Wilson [{lo:.1%}, {hi:.1%}], "
                    f"target {'>= 80%' if target == 'fire' else '<= 5%'}"
                )
    return out


def format_table(cells: Sequence[Cell]) -> str:
    """The cells as a fixed-width table, one line each: the mean accuracy drops (true, measured by drift.json,
    CBPE-estimated without labels) and whether the target is met."""
    head = (
        f"{'task':<14} {'scenario':<14} {'trigger':<46} {'target':<12} {'n':>4} {'fired':>6} "
        f"{'95% Wilson':>16} {'=truth':>7}  {'acc. drop: true (sd)':>20} {'meas.':>6} {'CBPE':>6}  met"
    )
    lines = [head, "-" * len(head)]
    for c in cells:
        agreed = f"{c.agreed}/{c.n}" if c.target == "exact" else "-"
        drop = "-" if math.isnan(c.mean_drop) else f"{c.mean_drop:+.3f} ({c.sd_drop:.3f})"
        seen = " ".join("     -" if math.isnan(v) else f"{v:+.3f}" for v in (c.mean_measured, c.mean_estimated))
        lines.append(
            f"{c.task:<14} {c.scenario:<14} {c.trigger:<46} {c.target_text:<12} {c.n:>4} {c.rate:>6.0%} "
            f"[{c.interval[0]:>6.1%}, {c.interval[1]:>6.1%}] {agreed:>7}  {drop:>20} {seen}  "
            f"{'yes' if c.met else 'NO' + (' (known gap)' if c.target == 'gap' else '')}"
        )
    return "\n".join(lines)
