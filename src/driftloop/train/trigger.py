"""Whether a cycle trains a challenger: ``train.trigger`` against what the cycle found.

``train.trigger`` is one trigger, a list of them (any may fire), or ``{any: [...]}`` /
``{all: [...]}`` (nestable)::

    trigger: on_drift                          # the default
    trigger: [on_drift, {champion_age: {days: 30}}]
    trigger: {all: [on_drift, {new_rows: {min: 5000}}]}

The triggers (:data:`PARAMS` holds their keys and defaults, each written once):

* ``always``: every cycle retrains;
* ``on_drift``: the dataset verdict (any column drifted, or the domain classifier) or concept
  drift where labels measure it (:func:`drift_trigger`);
* ``performance_drop: {metric, min_drop}``: the champion's metric fell by at least ``min_drop``
  from the reference to the current window, *measured* on current labels where drift.json's
  concept check measured that metric (and beyond sampling noise: its 95 % bootstrap interval of
  the change lies below 0), else *estimated* without labels (drift.json's CBPE estimate
  against its estimate on the reference: the same estimator on both sides, so a constant
  calibration bias cancels);
* ``champion_age: {days}``: the champion's training data ends at least ``days`` before the newest
  current row (event time, from the manifest: reproducible under ``dvc repro`` and right for
  backfilled data, where the wall clock would say every champion is new);
* ``new_rows: {min}``: at least ``min`` rows dated after the champion's training data (the
  manifest's current window plus the rows skipped between it and the reference).

A first cycle (no champion) always trains. A cycle that trains nothing says which trigger stopped
it (:func:`skip_reason`), one that trains says which fired (:func:`decide`).

Pure: reads drift.json through :class:`driftloop.contracts.DriftResult` and the snapshot manifest
as a mapping or :class:`~driftloop.contracts.Manifest`; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from driftloop.contracts import DriftResult, Manifest
from driftloop.errors import ConfigError
from driftloop.validation import Key, check, mapping_of

__all__ = [
    "PARAMS",
    "Combined",
    "Rule",
    "TriggerCheck",
    "TriggerDecision",
    "TriggerFacts",
    "decide",
    "describe",
    "drift_trigger",
    "evaluate",
    "parse_trigger",
    "skip_reason",
]

#: The keys and defaults of each trigger (a trigger named alone takes its defaults).
PARAMS: dict[str, dict[str, Key]] = {
    "always": {},
    "on_drift": {},
    "performance_drop": {
        "metric": Key(
            "choice",
            "accuracy",
            choices=("accuracy", "f1_macro"),
            doc="measured where drift.concept.metric is the same metric, else estimated (CBPE)",
        ),
        "min_drop": Key("number", 0.03, low=0, high=1, low_open=True, doc="reference minus current, absolute"),
    },
    "champion_age": {
        "days": Key("number", 30.0, low=0, low_open=True, doc="champion's training data end to newest current row"),
    },
    "new_rows": {"min": Key("integer", 5000, low=1, doc="rows dated after the champion's training data")},
}
MODES = ("any", "all")


def describe() -> str:
    """The triggers and their keys with defaults, one line (the config reference's ``train.trigger`` row).

    >>> describe()  # doctest: +ELLIPSIS
    'always; on_drift; performance_drop {metric: accuracy, min_drop: 0.03}; ...'
    """
    return "; ".join(
        name
        + (
            " {"
            + ", ".join(
                f"{k}: {spec.default:g}" if isinstance(spec.default, float) else f"{k}: {spec.default}"
                for k, spec in keys.items()
            )
            + "}"
            if keys
            else ""
        )
        for name, keys in PARAMS.items()
    )


_FORM = (
    f"one of {list(PARAMS)}, {{<trigger>: {{<key>: <value>}}}}, a list of triggers (any fires), "
    "or {any: [...]} / {all: [...]}"
)


@dataclass(frozen=True)
class Rule:
    """One trigger and its parameters (defaults filled in)."""

    name: str
    params: tuple[tuple[str, Any], ...] = ()

    def __getitem__(self, key: str) -> Any:
        return dict(self.params)[key]

    def __str__(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in self.params)})"


@dataclass(frozen=True)
class Combined:
    """Triggers combined: ``any`` fires when one fires, ``all`` when every one does."""

    mode: str
    triggers: tuple[Rule | Combined, ...]

    def __str__(self) -> str:
        return f"{self.mode}({', '.join(str(t) for t in self.triggers)})"


Trigger = Rule | Combined


def parse_trigger(value: Any, where: str = "train.trigger") -> Trigger:
    """Validate ``train.trigger`` and return it parsed, defaults filled in.

    Raises
    ------
    ConfigError
        Naming the key (``train.trigger.any[1].champion_age.days``), what was expected and what was got.

    Examples
    --------
    >>> str(parse_trigger("on_drift"))
    'on_drift'
    >>> str(parse_trigger(["on_drift", {"champion_age": {"days": 10}}, "new_rows"]))
    'any(on_drift, champion_age(days=10), new_rows(min=5000))'
    >>> parse_trigger({"champion_age": {"weeks": 2}})
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: train.trigger.champion_age has unknown key(s) \
['train.trigger.champion_age.weeks']; expected some of ['days'].
    """
    if isinstance(value, str):
        if value not in PARAMS:
            raise ConfigError(f"{where} must be {_FORM}. Got {value!r} instead.")
        return Rule(value, tuple(check({}, PARAMS[value], f"{where}.{value}").items()))
    if isinstance(value, Sequence) or (hasattr(value, "_metadata") and not hasattr(value, "keys")):
        return _combined("any", value, where)
    if isinstance(value, Mapping) or hasattr(value, "_metadata"):
        mapping = mapping_of(value, where)
        if len(mapping) != 1:
            raise ConfigError(
                f"{where} must be a mapping with exactly one key (a trigger, 'any' or 'all'). "
                f"Got {len(mapping)} keys {sorted(map(str, mapping))} instead."
            )
        ((name, body),) = mapping.items()
        if name in MODES:
            return _combined(str(name), body, f"{where}.{name}")
        if name not in PARAMS:
            raise ConfigError(f"{where} names an unknown trigger {name!r}: expected one of {[*PARAMS, *MODES]}.")
        params = check(body, PARAMS[name], f"{where}.{name}")
        return Rule(str(name), tuple(params.items()))
    raise ConfigError(f"{where} must be {_FORM}. Got {value!r} instead.")


def _combined(mode: str, items: Any, where: str) -> Combined:
    if hasattr(items, "_metadata"):  # an OmegaConf ListConfig
        from omegaconf import OmegaConf

        items = OmegaConf.to_container(items, resolve=True)
    if isinstance(items, str) or not isinstance(items, Sequence) or not items:
        raise ConfigError(f"{where} must be a non-empty list of triggers. Got {items!r} instead.")
    return Combined(mode, tuple(parse_trigger(item, f"{where}[{i}]") for i, item in enumerate(items)))


# -- what the triggers read -------------------------------------------------------------------------


@dataclass(frozen=True)
class TriggerFacts:
    """What the triggers read besides drift.json, from the snapshot manifest.

    Attributes
    ----------
    champion_data_end, current_end : str or None
        ISO times: the newest row of the champion's training data (the reference) and of current.
    new_rows : int or None
        Rows dated after the champion's training data: current plus skipped.
    """

    champion_data_end: str | None = None
    current_end: str | None = None
    new_rows: int | None = None

    @classmethod
    def from_manifest(cls, manifest: Manifest | Mapping[str, Any] | None) -> TriggerFacts:
        """Read from ``data/snapshot/manifest.json`` (a :class:`Manifest` or its mapping).

        >>> TriggerFacts.from_manifest({"reference": {"end": "2024-01-31T00:00:00"}, "current": {"rows": 40},
        ...                             "skipped": {"rows": 2}}).new_rows
        42
        """
        if manifest is None:
            return cls()
        get = manifest.get if isinstance(manifest, Mapping) else lambda key: getattr(manifest, key, None)
        reference, current = get("reference") or {}, get("current") or {}
        skipped = get("skipped") or {}
        rows = current.get("rows")
        return cls(
            champion_data_end=reference.get("end"),
            current_end=current.get("end"),
            new_rows=None if rows is None else int(rows) + int(skipped.get("rows") or 0),
        )


@dataclass(frozen=True)
class TriggerCheck:
    """One trigger's verdict: whether it fired, and what it found (``detail``)."""

    name: str
    fired: bool
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail}"


def _drift(drift: DriftResult | Mapping[str, Any]) -> DriftResult:
    return drift if isinstance(drift, DriftResult) else DriftResult.from_dict(drift)


def drift_trigger(drift: DriftResult | Mapping[str, Any]) -> tuple[bool, bool, str]:
    """What ``train.trigger: on_drift`` reads from drift.json: (fire, concept drift, what was found).

    It fires on the dataset verdict, ``dataset.drifted`` (any column drifted or the domain
    classifier rejected; the share of drifted columns decides nothing), or on concept drift where
    labels measure it (the champion's own metric fell significantly on current): a change in
    P(y|x) with unchanged inputs moves no column. A window too small to test ("too few rows") does
    not fire, and the reason says so rather than "no drift".

    Examples
    --------
    >>> drift_trigger({"dataset": {"drifted": True}})
    (True, False, 'drift detected')
    >>> drift_trigger({"dataset": {"drifted": False, "verdict": "no drift"}})[2]
    'no drift detected'
    """
    drift = _drift(drift)
    concept = drift.concept_drifted
    fire = drift.drifted or concept
    if fire:
        found = "concept drift detected" if concept and not drift.drifted else "drift detected"
    elif drift.verdict == "too few rows":
        found = "too few current rows to test for drift (drift.min_rows)"
    else:
        found = "no drift detected"
    return fire, concept, found


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def performance_drop(drift: DriftResult, metric: str, min_drop: float) -> TriggerCheck:
    """Whether the champion's ``metric`` fell by ``min_drop`` or more, measured or estimated.

    A measured drop must also be beyond sampling noise where drift.json gives the concept check's
    95 % bootstrap interval of the change (``concept.ci95``, current minus reference): the interval
    must lie below 0. The point drop alone fired on noise in small windows (18 % of 300-row current
    windows with no change at all, tests/train/test_trigger_simulation.py).

    >>> performance_drop(DriftResult({"concept": {"metric": "accuracy", "reference": 0.9, "current": 0.8}}),
    ...                  "accuracy", 0.03).detail
    'accuracy measured on current labels 0.800 vs 0.900 on reference: drop 0.100 >= 0.03'
    >>> performance_drop(DriftResult({"concept": {"metric": "accuracy", "reference": 0.9, "current": 0.86,
    ...                                           "ci95": [-0.09, 0.01]}}), "accuracy", 0.03).fired
    False
    """
    concept = drift.report.get("concept") or {}
    ref, cur = _number(concept.get("reference")), _number(concept.get("current"))
    if concept.get("metric") == metric and ref is not None and cur is not None:
        drop = ref - cur
        ci = concept.get("ci95")
        low, high = (_number(ci[0]), _number(ci[1])) if isinstance(ci, Sequence) and len(ci) == 2 else (None, None)
        noise = drop >= min_drop and low is not None and high is not None and high >= 0
        fired = drop >= min_drop and not noise
        return TriggerCheck(
            "performance_drop",
            fired,
            f"{metric} measured on current labels {cur:.3f} vs {ref:.3f} on reference: "
            f"drop {drop:.3f} {'>=' if drop >= min_drop else '<'} {min_drop:g}"
            + (
                f" but within sampling noise (95% interval of the change [{low:+.3f}, {high:+.3f}] includes 0)"
                if noise
                else ""
            ),
        )
    estimate = drift.report.get("performance_estimate") or {}
    cur = _number((estimate.get("current") or {}).get(metric))
    check_ = (estimate.get("reference_check") or {}).get(metric) or {}
    base = _number(check_.get("estimated"))
    if cur is not None and base is not None:
        drop = base - cur
        fired = drop >= min_drop
        return TriggerCheck(
            "performance_drop",
            fired,
            f"{metric} estimated without labels ({estimate.get('method') or 'CBPE'}) {cur:.3f} on current vs "
            f"{base:.3f} estimated on reference: drop {drop:.3f} {'>=' if fired else '<'} {min_drop:g}",
        )
    measured = "" if not concept else f" (drift.concept measured {concept.get('metric')})"
    return TriggerCheck(
        "performance_drop",
        False,
        f"{metric} neither measured on current labels{measured} nor estimated (no champion probabilities): cannot tell",
    )


def _age_days(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    try:
        a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
        return (b - a).total_seconds() / 86400.0
    except (TypeError, ValueError):
        import pandas as pd  # nanosecond ISO strings: pandas reads them, datetime does not

        ta, tb = pd.Timestamp(start), pd.Timestamp(end)
        if (ta.tzinfo is None) != (tb.tzinfo is None):
            # One side zone-aware, the other naive (a champion from before the data gained its
            # offsets, or after it lost them): a naive event time is read as UTC, as the snapshot
            # writes times, instead of failing the cycle on a comparison Python refuses.
            ta, tb = (t.tz_localize("UTC") if t.tzinfo is None else t for t in (ta, tb))
        return float((tb - ta) / pd.Timedelta(days=1))


def champion_age(facts: TriggerFacts, days: float) -> TriggerCheck:
    """Whether the champion's training data ends ``days`` or more before the newest current row.

    >>> str(champion_age(TriggerFacts("2024-01-01T00:00:00", "2024-01-04T00:00:00"), 30))
    'champion_age: 3 days < 30'
    """
    age = _age_days(facts.champion_data_end, facts.current_end)
    if age is None:
        return TriggerCheck("champion_age", False, "no champion training data end or no current rows: cannot tell")
    fired = age >= days
    return TriggerCheck("champion_age", fired, f"{age:.3g} days {'>=' if fired else '<'} {days:g}")


def new_rows(facts: TriggerFacts, minimum: int) -> TriggerCheck:
    """Whether ``minimum`` or more rows arrived after the champion's training data.

    >>> str(new_rows(TriggerFacts(new_rows=120), 5000))
    'new_rows: 120 rows < 5000'
    """
    if facts.new_rows is None:
        return TriggerCheck("new_rows", False, "the manifest counts no current rows: cannot tell")
    fired = facts.new_rows >= minimum
    return TriggerCheck("new_rows", fired, f"{facts.new_rows} rows {'>=' if fired else '<'} {minimum}")


@dataclass(frozen=True)
class TriggerDecision:
    """A trigger evaluated: whether it fires, and each leaf trigger's verdict, in config order."""

    fire: bool
    checks: tuple[TriggerCheck, ...]

    @property
    def fired(self) -> tuple[TriggerCheck, ...]:
        return tuple(c for c in self.checks if c.fired)

    @property
    def not_fired(self) -> tuple[TriggerCheck, ...]:
        return tuple(c for c in self.checks if not c.fired)


def evaluate(trigger: Trigger, drift: DriftResult | Mapping[str, Any], facts: TriggerFacts) -> TriggerDecision:
    """Evaluate ``trigger`` (parsed) on drift.json and the manifest's facts (pure)."""
    drift = _drift(drift)
    if isinstance(trigger, Combined):
        parts = [evaluate(t, drift, facts) for t in trigger.triggers]
        fire = any(p.fire for p in parts) if trigger.mode == "any" else all(p.fire for p in parts)
        return TriggerDecision(fire, tuple(c for p in parts for c in p.checks))
    if trigger.name == "always":
        check_ = TriggerCheck("always", True, "retrains every cycle")
    elif trigger.name == "on_drift":
        fire, _, found = drift_trigger(drift)
        check_ = TriggerCheck("on_drift", fire, found)
    elif trigger.name == "performance_drop":
        check_ = performance_drop(drift, trigger["metric"], trigger["min_drop"])
    elif trigger.name == "champion_age":
        check_ = champion_age(facts, trigger["days"])
    else:
        check_ = new_rows(facts, trigger["min"])
    return TriggerDecision(check_.fired, (check_,))


@dataclass(frozen=True)
class Decision:
    """Whether this cycle trains: ``reason`` (why not) or ``fired_by`` (which trigger(s) fired)."""

    train: bool
    trigger: str
    fired_by: str | None = None
    reason: str | None = None


def decide(
    drift: DriftResult | Mapping[str, Any],
    trigger: Trigger | str | Any,
    champion: str | None,
    facts: TriggerFacts | None = None,
) -> Decision:
    """Whether this cycle trains a challenger, and the trigger(s) that decided it.

    Parameters
    ----------
    drift : DriftResult or mapping
        The drift stage's ``drift.json``.
    trigger : str, mapping, list or parsed trigger
        ``train.trigger``.
    champion : str or None
        The serving champion (``"<name> v<version>"``); None on a first cycle, which always trains.
    facts : TriggerFacts, optional
        From the snapshot manifest (:meth:`TriggerFacts.from_manifest`); needed by
        ``champion_age`` and ``new_rows``, which cannot tell without them (and do not fire).

    Examples
    --------
    >>> d = decide({"dataset": {"drifted": False}}, ["on_drift", {"new_rows": {"min": 100}}], "m v1",
    ...            TriggerFacts(new_rows=250))
    >>> d.train, d.fired_by
    (True, 'new_rows: 250 rows >= 100')
    >>> print(decide({"dataset": {"drifted": False}}, ["on_drift", "champion_age"], "m v1",
    ...              TriggerFacts("2024-01-01T00:00:00", "2024-01-04T00:00:00")).reason)
    no trigger fired against m v1's training data (train.trigger any(on_drift, champion_age(days=30))): \
on_drift: no drift detected; champion_age: 3 days < 30: no challenger this cycle
    """
    parsed = trigger if isinstance(trigger, (Rule, Combined)) else parse_trigger(trigger)
    text = str(parsed)
    if champion is None:
        return Decision(True, text, fired_by="first cycle (no champion)")
    verdict = evaluate(parsed, drift, facts or TriggerFacts())
    if verdict.fire:
        return Decision(True, text, fired_by="; ".join(map(str, verdict.fired)))
    if isinstance(parsed, Rule) and parsed.name == "on_drift":
        # The message of a plain on_drift trigger, as before combinable triggers existed.
        (found,) = verdict.checks
        reason = f"{found.detail} against {champion}'s training data and train.trigger is on_drift"
    elif isinstance(parsed, Combined) and parsed.mode == "all" and verdict.fired:
        reason = f"not every trigger fired against {champion}'s training data (train.trigger {text}): " + "; ".join(
            map(str, verdict.not_fired)
        )
    else:
        reason = f"no trigger fired against {champion}'s training data (train.trigger {text}): " + "; ".join(
            map(str, verdict.not_fired)
        )
    return Decision(False, text, reason=f"{reason}: no challenger this cycle")


def skip_reason(
    drift: DriftResult | Mapping[str, Any],
    trigger: Trigger | str | Any,
    champion: str | None,
    facts: TriggerFacts | None = None,
) -> str | None:
    """Why this cycle trains no challenger, or None when it trains one (see :func:`decide`).

    Examples
    --------
    >>> skip_reason({"dataset": {"drifted": False}}, "on_drift", "m v1")
    "no drift detected against m v1's training data and train.trigger is on_drift: no challenger this cycle"
    >>> skip_reason({"dataset": {"drifted": False}}, "always", "m v1") is None
    True
    """
    return decide(drift, trigger, champion, facts).reason
