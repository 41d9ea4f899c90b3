"""Training windows: which labelled rows train the challenger, which validate it, which judge it.

The split is strictly time-ordered: ``train < validation <= holdout`` in event
time. The holdout is the newest labelled tail of *current*; every other labelled
row (reference plus current) with an earlier timestamp and a different id is the
*pool* a policy draws its training window from:

- ``sliding``: the last ``window_days`` days (or ``window_rows`` rows) of the pool;
- ``expanding``: the whole pool (reference plus everything labelled since);
- ``weighted``: the whole pool (optionally capped by ``window_days``) with sample
  weights ``0.5 ** (age_days / half_life_days)``, age measured from the holdout start.

Validation is the newest ``validation_fraction`` of the training window, so that
early stopping and model choice are judged on data later than what was fitted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftloop.errors import ConfigError, DataError
from driftloop.ids import member_of
from driftloop.schema import Schema
from driftloop.train.labels import apply_reviewed_labels, labelled_mask
from driftloop.train.trigger import describe as describe_triggers
from driftloop.train.trigger import parse_trigger
from driftloop.validation import Key, check

__all__ = [
    "TrainingWindow",
    "WindowConfig",
    "apply_reviewed_labels",
    "select_training_window",
]

Policy = Literal["sliding", "expanding", "weighted"]
POLICIES: tuple[str, ...] = ("sliding", "expanding", "weighted")
#: How the challenger is fitted on its window (:mod:`driftloop.train.strategy`).
STRATEGIES: tuple[str, ...] = ("full", "sample", "incremental")
_DAY = pd.Timedelta(days=1)


#: Kind, range, default and meaning of every key of the ``train`` group. ``null`` means "not used"
#: for the size keys; which of them a policy needs is checked by :meth:`WindowConfig.from_dict`.
TABLE: dict[str, Key] = {
    "policy": Key("choice", "sliding", choices=POLICIES, doc="how the training window is drawn from the pool"),
    "window_days": Key(
        "number", 21.0, low=0, low_open=True, nullable=True, doc="sliding: days before the holdout; weighted: a cap"
    ),
    "window_rows": Key("integer", None, low=0, low_open=True, nullable=True, doc="sliding: rows before the holdout"),
    "half_life_days": Key(
        "number", None, low=0, low_open=True, nullable=True, doc="weighted: half-life of the recency weights"
    ),
    "holdout_days": Key(
        "number",
        7.0,
        low=0,
        low_open=True,
        nullable=True,
        doc="the holdout: the newest N days of labelled current rows",
    ),
    "holdout_fraction": Key(
        "number",
        None,
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        nullable=True,
        doc="... or the newest share of them",
    ),
    "validation_fraction": Key(
        "number",
        0.2,
        low=0,
        high=1,
        high_open=True,
        nullable=True,
        doc="share of the training window, newest first, kept for validation",
    ),
    "min_train_rows": Key("integer", 50, low=1, nullable=True, doc="fewer training rows: a DataError"),
    "min_holdout_rows": Key("integer", 30, low=1, nullable=True, doc="fewer holdout rows: a DataError"),
    "trigger": Key(
        "any",
        "on_drift",
        doc=f"when a cycle with a champion retrains: {describe_triggers()}; or a list of them (any fires), "
        "{any: [...]} or {all: [...]} (driftloop.train.trigger)",
    ),
    "strategy": Key(
        "choice",
        "full",
        choices=STRATEGIES,
        doc="full: fit on every training row; sample: on a stratified, time-aware sample of sample_size rows; "
        "incremental: partial_fit chunk by chunk (estimators with partial_fit; preprocessing fitted on the sample)",
    ),
    "sample_size": Key(
        "integer", 100_000, low=1, doc="sample, incremental: rows of the sample (the whole window when smaller)"
    ),
    "sample_period": Key("str", "D", doc="sample, incremental: the time strata, a fixed pandas frequency (D, 7D, h)"),
    "sample_seed": Key("integer", 0, low=0, doc="sample, incremental: seed of the draw (same seed, same rows)"),
}


@dataclass(frozen=True)
class WindowConfig:
    """The ``train`` config group.

    Parameters
    ----------
    policy : {"sliding", "expanding", "weighted"}
    window_days, window_rows : float or int, optional
        Size of a sliding window (exactly one for ``sliding``); ``window_days`` also caps
        a ``weighted`` window. Ignored by ``expanding`` (which refuses them).
    half_life_days : float, optional
        Half-life of the recency weights (``weighted`` only, required there).
    holdout_days, holdout_fraction : float, optional
        The holdout is the newest ``holdout_days`` days of labelled current rows, or
        its newest ``holdout_fraction`` share (exactly one of the two).
    validation_fraction : float
        Share of the training window, newest first, kept for validation.
    min_train_rows, min_holdout_rows : int
        Fewer rows than this raise :class:`DataError` rather than fit or judge on noise.
    trigger : str, list or mapping
        When a cycle with a champion retrains (:func:`driftloop.train.trigger.parse_trigger`):
        ``on_drift`` (default) skips retraining when no drift is detected, ``always`` never does;
        combinable with ``performance_drop``, ``champion_age`` and ``new_rows``. Kept as configured
        (validated).
    strategy : {"full", "sample", "incremental"}
        How the challenger is fitted on the window (:mod:`driftloop.train.strategy`): on every
        training row (default), on a stratified, time-aware sample of ``sample_size`` rows (strata:
        label, or target decile for regression, times ``sample_period``; drawn with ``sample_seed``),
        or with ``partial_fit`` over chunks of the window (its preprocessing fitted on that sample).
    sample_size, sample_period, sample_seed : int, str, int
        The sample of ``sample`` and ``incremental``; ignored by ``full``.
    """

    policy: Policy = TABLE["policy"].default
    window_days: float | None = TABLE["window_days"].default
    window_rows: int | None = TABLE["window_rows"].default
    half_life_days: float | None = TABLE["half_life_days"].default
    holdout_days: float | None = TABLE["holdout_days"].default
    holdout_fraction: float | None = TABLE["holdout_fraction"].default
    validation_fraction: float = TABLE["validation_fraction"].default
    min_train_rows: int = TABLE["min_train_rows"].default
    min_holdout_rows: int = TABLE["min_holdout_rows"].default
    trigger: Any = TABLE["trigger"].default
    strategy: str = TABLE["strategy"].default
    sample_size: int = TABLE["sample_size"].default
    sample_period: str = TABLE["sample_period"].default
    sample_seed: int = TABLE["sample_seed"].default

    KEYS = tuple(TABLE)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> WindowConfig:
        """Build and validate from the ``train`` config mapping.

        Raises
        ------
        ConfigError
            Naming any unknown key, ill-typed value or inconsistent combination.

        Examples
        --------
        >>> WindowConfig.from_dict({"policy": "expanding", "window_days": None}).policy
        'expanding'
        """
        given = check(mapping, TABLE, "train", fill=False)
        d = check({}, TABLE, "train")
        policy = given.get("policy", d["policy"])
        # An explicit None means "not used"; a missing key takes the default only where it
        # cannot conflict with an explicitly chosen alternative.
        if "window_days" not in given:
            given["window_days"] = None if "window_rows" in given or policy != "sliding" else d["window_days"]
        if "holdout_days" not in given:
            given["holdout_days"] = None if given.get("holdout_fraction") is not None else d["holdout_days"]
        for key in ("validation_fraction", "min_train_rows", "min_holdout_rows"):
            if given.get(key) is None:  # null: the default
                given[key] = d[key]
        if "trigger" in given:
            parse_trigger(given["trigger"], "train.trigger")  # refuses a bad trigger naming its key
        cfg = cls(**{**d, **given, "policy": policy})
        cfg._check()
        return cfg

    def _check(self) -> None:
        if (self.holdout_days is None) == (self.holdout_fraction is None):
            raise ConfigError(
                "train: set exactly one of holdout_days and holdout_fraction. "
                f"Got holdout_days={self.holdout_days!r}, holdout_fraction={self.holdout_fraction!r}."
            )
        if self.policy == "sliding" and (self.window_days is None) == (self.window_rows is None):
            raise ConfigError(
                "train.policy 'sliding' needs exactly one of window_days and window_rows. "
                f"Got window_days={self.window_days!r}, window_rows={self.window_rows!r}."
            )
        if self.policy == "expanding" and (self.window_days is not None or self.window_rows is not None):
            raise ConfigError(
                "train.policy 'expanding' uses every labelled row; remove window_days/window_rows "
                "(or choose policy 'sliding')."
            )
        if self.policy == "weighted":
            if self.half_life_days is None:
                raise ConfigError("train.policy 'weighted' needs train.half_life_days (a number > 0).")
            if self.window_rows is not None:
                raise ConfigError("train.policy 'weighted' accepts window_days as a cap, not window_rows.")
        elif self.half_life_days is not None:
            raise ConfigError(f"train.half_life_days applies only to policy 'weighted'; policy is {self.policy!r}.")
        if self.strategy == "incremental" and self.policy == "weighted":
            raise ConfigError(
                "train.strategy 'incremental' cannot apply policy 'weighted''s recency weights (partial_fit is "
                "given no sample weights); use strategy 'sample' or 'full', or policy 'sliding'."
            )
        try:  # the strata floor event times to it: a fixed frequency (7D, not W: weeks start on a weekday)
            pd.Series([pd.Timestamp(0, tz="UTC")]).dt.floor(self.sample_period)
        except ValueError:
            raise ConfigError(
                "train.sample_period must be a fixed pandas frequency such as 'D', '7D' or 'h'. "
                f"Got {self.sample_period!r} instead."
            ) from None


@dataclass(frozen=True)
class TrainingWindow:
    """The time-ordered split a challenger is trained, validated and judged on.

    Attributes
    ----------
    train, validation, holdout : pandas.DataFrame
        Labelled rows, each sorted by time; ``max(train.t) <= min(validation.t) <
        min(holdout.t)`` and the three share no id.
    train_weight : numpy.ndarray or None
        Per-row sample weights aligned with ``train`` (``weighted`` policy), mean 1.
    description : dict
        JSON-ready summary (policy, sizes, time ranges, weights' effective size) to log.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    train_weight: np.ndarray | None = None
    description: dict = field(default_factory=dict)


def _prepare(frame: pd.DataFrame, schema: Schema, where: str) -> pd.DataFrame:
    schema.check_columns(frame.columns, where)
    out = frame.copy()
    ts = pd.to_datetime(out[schema.timestamp], errors="coerce")
    if ts.isna().any():
        raise DataError(
            f"{where}: column {schema.timestamp!r} has {int(ts.isna().sum())} missing or unparsable timestamp(s)."
        )
    out[schema.timestamp] = ts
    return out


def _time_sorted(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return frame.take(_time_order(frame, schema)).reset_index(drop=True)


def _time_order(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Positions of ``frame``'s rows sorted by time, then id (stable).

    Sorting by id as well makes ties in time deterministic, so the same data always gives the same
    split (and the same metrics).
    """
    if isinstance(frame[schema.id].dtype, pd.StringDtype) and len(frame):
        # The same stable order, from Arrow: pandas codes a text id column through a Categorical
        # first (2.4 s for the two sorts at 1M rows). UTF-8 byte order is code point order, which
        # is how Python compares str; missing ids last (Arrow's default), as pandas puts them.
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = pa.table({"t": pa.array(frame[schema.timestamp]), "i": pa.array(frame[schema.id])})
        return np.asarray(pc.sort_indices(keys, sort_keys=[("t", "ascending"), ("i", "ascending")]))
    order = frame[[schema.timestamp, schema.id]].reset_index(drop=True)
    return order.sort_values([schema.timestamp, schema.id], kind="mergesort").index.to_numpy()


def _range(frame: pd.DataFrame, schema: Schema) -> list[str | None]:
    if frame.empty:
        return [None, None]
    ts = frame[schema.timestamp]
    return [ts.min().isoformat(), ts.max().isoformat()]


def select_training_window(
    reference: pd.DataFrame, current: pd.DataFrame, schema: Schema, cfg: WindowConfig
) -> TrainingWindow:
    """Split labelled data into train, validation and holdout by time.

    Parameters
    ----------
    reference : pandas.DataFrame
        The data the champion was trained on (may be empty).
    current : pandas.DataFrame
        The data that arrived since; its newest labelled tail is the holdout.
    schema : Schema
        Column roles; ``schema.label`` must be set.
    cfg : WindowConfig

    Returns
    -------
    TrainingWindow

    Raises
    ------
    DataError
        When a column is missing, a timestamp is unparsable, or a part of the split has
        fewer rows than ``cfg.min_train_rows`` / ``cfg.min_holdout_rows``.

    Examples
    --------
    Hourly rows, ten days of reference and twenty of current: the newest five days are the holdout.

    >>> import pandas as pd
    >>> from driftloop.schema import Schema
    >>> schema = Schema("id", "ts", "y", numeric=("x",))
    >>> rows = pd.DataFrame({"id": range(720), "ts": pd.date_range("2026-01-01", periods=720, freq="h"),
    ...                      "x": range(720), "y": ["a", "b"] * 360})
    >>> ref, cur = rows.iloc[:240], rows.iloc[240:]
    >>> window = select_training_window(ref, cur, schema, WindowConfig(window_days=14, holdout_days=5))
    >>> len(window.train), len(window.validation), len(window.holdout)
    (268, 68, 120)
    >>> set(window.train[schema.id]) & set(window.holdout[schema.id])
    set()
    """
    if schema.label is None:
        raise DataError("select_training_window: the schema names no label column (data.schema.label).")
    ref = _prepare(reference, schema, "reference")
    cur = _prepare(current, schema, "current")
    n_unlabelled = int((~labelled_mask(ref, schema)).sum() + (~labelled_mask(cur, schema)).sum())
    ref = ref[labelled_mask(ref, schema)]
    cur = _time_sorted(cur[labelled_mask(cur, schema)], schema)
    if cur.empty:
        raise DataError("current has no labelled rows: there is no holdout to judge a challenger on.")

    holdout = _holdout(cur, schema, cfg)
    start = holdout[schema.timestamp].min()
    ref = ref.assign(_source="reference")
    cur = cur.assign(_source="current")
    pool = pd.concat([ref, cur], ignore_index=True)
    # A row reaches training only if it is strictly older than the whole holdout AND
    # its id is not in the holdout: time alone would leak a re-sent row, id alone a
    # duplicate under a new id.
    # Row positions until the window is known, then one copy of its rows: every filter, the
    # de-duplication and the sort copying the text columns was most of this function at 1M rows.
    rows = np.flatnonzero((pool[schema.timestamp] < start).to_numpy() & ~member_of(pool[schema.id], holdout[schema.id]))
    # The same id in reference and current: the current version (e.g. relabelled) wins.
    rows = rows[~pool[schema.id].take(rows).duplicated(keep="last").to_numpy()]
    rows = rows[_time_order(pool[[schema.timestamp, schema.id]].take(rows), schema)]

    if cfg.policy == "sliding" and cfg.window_rows is not None:
        rows = rows[max(len(rows) - cfg.window_rows, 0) :]
    elif cfg.window_days is not None:
        # The rows are in time order: the newer ones are a tail.
        times = pool[schema.timestamp].take(rows)
        rows = rows[int(times.searchsorted(start - cfg.window_days * _DAY, side="left")) :]
    window = pool.take(rows).reset_index(drop=True)

    n_val = math.ceil(cfg.validation_fraction * len(window)) if cfg.validation_fraction > 0 else 0
    train, validation = window.iloc[: len(window) - n_val], window.iloc[len(window) - n_val :]
    if len(train) < cfg.min_train_rows:
        raise DataError(
            f"the {cfg.policy} training window has {len(train)} labelled row(s) before the holdout "
            f"(starting {start.isoformat()}); train.min_train_rows is {cfg.min_train_rows}."
        )

    weight = None
    description: dict[str, Any] = {}
    if cfg.policy == "weighted":
        age_days = ((start - train[schema.timestamp]) / _DAY).to_numpy(dtype=float)
        raw = np.power(0.5, age_days / float(cfg.half_life_days or math.nan))  # set: _check()
        # Mean 1 keeps regularisation strength (C, l2) comparable across policies: it acts
        # on the weighted sum of losses.
        weight = raw / raw.mean()
        description["effective_train_rows"] = float(weight.sum() ** 2 / np.square(weight).sum())
        description["half_life_days"] = cfg.half_life_days

    parts = {"train": train, "validation": validation, "holdout": holdout}
    description.update(
        {
            "policy": cfg.policy,
            "window_days": cfg.window_days,
            "window_rows": cfg.window_rows,
            "holdout_days": cfg.holdout_days,
            "holdout_fraction": cfg.holdout_fraction,
            "validation_fraction": cfg.validation_fraction,
            "holdout_start": start.isoformat(),
            "n_unlabelled_dropped": n_unlabelled,
            "n_from_reference": int((window["_source"] == "reference").sum()),
            "n_from_current": int((window["_source"] == "current").sum()),
        }
    )
    for name, part in parts.items():
        description[f"n_{name}"] = len(part)
        description[f"{name}_time_range"] = _range(part, schema)
    clean = {k: v.drop(columns="_source", errors="ignore").reset_index(drop=True) for k, v in parts.items()}
    return TrainingWindow(
        train=clean["train"],
        validation=clean["validation"],
        holdout=clean["holdout"],
        train_weight=weight,
        description=description,
    )


def _holdout(cur: pd.DataFrame, schema: Schema, cfg: WindowConfig) -> pd.DataFrame:
    """The newest labelled tail of ``cur`` (already sorted by time)."""
    ts = cur[schema.timestamp]
    if cfg.holdout_days is not None:
        start = ts.max() - cfg.holdout_days * _DAY
        holdout = cur[ts > start]
    else:
        k = max(math.ceil((cfg.holdout_fraction or 0.0) * len(cur)), 1)  # set: _check()
        # Rows sharing the boundary timestamp all go to the holdout, so that every
        # training row is strictly older than every holdout row.
        holdout = cur[ts >= ts.iloc[len(cur) - k]]
    if len(holdout) < cfg.min_holdout_rows:
        raise DataError(
            f"the holdout (newest labelled rows of current) has {len(holdout)} row(s); "
            f"train.min_holdout_rows is {cfg.min_holdout_rows}."
        )
    return holdout
