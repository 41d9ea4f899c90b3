"""Labelled daily streams with a known kind of drift, for simulating promotion decisions.

Pure generators: every function takes an explicit :class:`numpy.random.Generator` and
returns a new frame; nothing is seeded globally. Unlike the demo (a text sentiment
stream), these are tabular rows of a transactions-like table::

    id, timestamp, x1, x2, trend_a, trend_b, season, level, merchant, channel, label

The label depends on a latent score (the same for both tasks)::

    s = INTERCEPT + sign(day) * W_X1 * x1 + W_X2 * x2 + W_TREND_B * trend_b
        + g(trend_a) + g(season) + g(level) + effect[merchant] + effect[channel]
    g(x) = W_HINGE * (relu(x - KNEE) - W_LINEAR * x)

classification: ``y = 1[s + logistic noise > 0]``; regression: ``y = s + N(0, REGRESSION_NOISE)``.
The bent terms ``g`` are what make drift *matter* to a linear model: where a feature sits
below the knee (the reference) its best linear fit has slope ``W_HINGE * (0.16 - W_LINEAR)``
(negative), where it has moved above the knee the slope is ``W_HINGE * (1 - W_LINEAR)``
(positive), and the label's balance stays roughly where it was. ``trend_b`` drifts too but
enters linearly, so its drift alone does not hurt a linear model.

Scenarios (:data:`SCENARIOS`), each with its parameters explicit on :class:`Scenario`:

* ``step``: from ``change_day`` on, ``level`` jumps by ``step_size`` sd and a share of rows
  comes from merchants never seen before (with their own effects);
* ``trend``: from ``change_day`` on, ``trend_a`` grows by ``trend_slope`` a day (``trend_b``
  by half of it);
* ``season``: ``season`` follows ``amplitude * cos(2 pi (day - peak) / period)`` with a period
  (360 days) far longer than any training window (12-24 days);
* ``concept``: from ``change_day`` on, the sign of x1's effect flips; P(x) is unchanged;
* ``none``: no drift at all.

Missing values come in several pandas kinds: ``NaN`` in a float column (x1), ``None`` in an
object column of numbers (x2), ``pd.NA`` in a nullable ``Float64`` column (trend_b) and in a
pandas ``"string"`` column (merchant, hundreds of levels with a Zipf-like, id-like skew),
``None`` and ``NaN`` mixed in an object column (channel). Classification labels are
``"no"``/``"yes"`` or, with ``label_style="float"``, the floats ``0.0``/``1.0`` (which
:func:`driftloop.batches.coerce` turns into the class names ``"0"``/``"1"``: labels equal as values
are one class).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from driftloop.schema import Schema

# -- the latent score -----------------------------------------------------------------------------

INTERCEPT = -0.3
W_X1 = 1.0
W_X2 = 0.7
W_TREND_B = 0.4
W_HINGE = 0.6
W_LINEAR = 0.6
KNEE = 1.0
REGRESSION_NOISE = 1.0
MERCHANT_EFFECT_SD = 0.6
NEW_MERCHANT_EFFECT_SD = 1.2
CHANNEL_EFFECTS = {"web": 0.2, "app": 0.0, "store": -0.2, "phone": -0.4, "partner": 0.4}
CHANNEL_SHARES = (0.35, 0.3, 0.15, 0.12, 0.08)

# -- missing values ---------------------------------------------------------------------------------

MISSING = {"x1": 0.08, "x2": 0.05, "trend_b": 0.03, "merchant": 0.04, "channel": 0.03}

NUMERIC = ("x1", "x2", "trend_a", "trend_b", "season", "level")
CATEGORICAL = ("merchant", "channel")
#: The features that carry the most information whatever the scenario (a "worse" challenger drops them).
STABLE_INFORMATIVE = ("x2", "merchant")
SCENARIOS = ("step", "trend", "season", "concept", "none")
TASKS = ("classification", "regression")
ROWS_PER_DAY = 250
BASE_DATE = pd.Timestamp("2025-06-01")


@dataclass(frozen=True)
class Windows:
    """Day ranges ``[start, end)`` of each part of the stream, relative to the holdout's first day (0).

    reference : the champion's period (half trains the champion, the other half the "equal" challenger)
    stale : the stale challenger's window, before the change
    recent : the newest window before the holdout (the "better" challenger's)
    holdout : the judged rows (``20 days x 250 rows = 5,000``)
    """

    reference: tuple[int, int] = (-60, -36)
    stale: tuple[int, int] = (-36, -24)
    recent: tuple[int, int] = (-12, 0)
    holdout: tuple[int, int] = (0, 20)


@dataclass(frozen=True)
class Scenario:
    """One kind of drift, with its parameters explicit.

    Parameters
    ----------
    name : str
    windows : Windows
    change_day : int or None
        First day of the new regime (step, trend onset, concept flip); None: no change.
    step_size : float
        Shift of ``level``, in its sd, from ``change_day`` on.
    new_merchant_share : float
        Share of rows from ``change_day`` on whose merchant was never seen before.
    trend_slope : float
        Growth of ``trend_a`` a day from ``change_day`` on (``trend_b`` grows by half of it).
    season_amplitude, season_period, season_peak_day : float
        ``season = amplitude * cos(2 pi (day - peak) / period) + N(0, 1)``.
    concept_flip : bool
        From ``change_day`` on, x1's effect on the label changes sign (P(x) does not change).
    """

    name: str
    windows: Windows = Windows()
    change_day: int | None = None
    step_size: float = 0.0
    new_merchant_share: float = 0.0
    trend_slope: float = 0.0
    season_amplitude: float = 0.0
    season_period: float = 360.0
    season_peak_day: float = 10.0
    concept_flip: bool = False


def scenario(name: str) -> Scenario:
    """The shipped parameters of scenario ``name`` (one of :data:`SCENARIOS`).

    Raises
    ------
    ValueError
        Naming the scenarios when ``name`` is not one of them.
    """
    w = Windows()
    table = {
        "step": Scenario("step", w, change_day=-24, step_size=2.5, new_merchant_share=0.3),
        "trend": Scenario("trend", w, change_day=-24, trend_slope=0.12),
        # Peak of the season mid-holdout; the reference sits a quarter period earlier (where the
        # season crosses 0), the stale window half a period earlier (its trough).
        "season": Scenario(
            "season",
            replace(w, reference=(-92, -68), stale=(-176, -164)),
            season_amplitude=3.5,
            season_period=360.0,
            season_peak_day=10.0,
        ),
        "concept": Scenario("concept", w, change_day=-24, concept_flip=True),
        "none": Scenario("none", w),
    }
    if name not in table:
        raise ValueError(f"The 'name' parameter of scenario must be one of {list(SCENARIOS)}. Got {name!r} instead.")
    return table[name]


@dataclass(frozen=True)
class World:
    """The fixed part of one replicate's stream: merchant levels, their shares and effects."""

    merchants: np.ndarray
    merchant_p: np.ndarray
    merchant_effect: np.ndarray
    new_merchants: np.ndarray
    new_merchant_p: np.ndarray
    new_merchant_effect: np.ndarray


def _zipf_shares(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** exponent
    return rng.permutation(p / p.sum())


def make_world(rng: np.random.Generator, n_merchants: int = 400, n_new: int = 60) -> World:
    """Draw the merchant levels (id-like names, Zipf-like shares) and their effects."""
    ids = rng.choice(100_000, size=n_merchants + n_new, replace=False)
    names = np.array([f"m{i:05d}" for i in ids], dtype=object)
    return World(
        merchants=names[:n_merchants],
        merchant_p=_zipf_shares(n_merchants, 1.1, rng),
        merchant_effect=rng.normal(0.0, MERCHANT_EFFECT_SD, n_merchants),
        new_merchants=names[n_merchants:],
        new_merchant_p=_zipf_shares(n_new, 0.8, rng),
        new_merchant_effect=rng.normal(0.0, NEW_MERCHANT_EFFECT_SD, n_new),
    )


def _bent(x: np.ndarray) -> np.ndarray:
    return W_HINGE * (np.maximum(x - KNEE, 0.0) - W_LINEAR * x)


def _mask(
    values: pd.Series | np.ndarray, share: float, missing: object, rng: np.random.Generator, dtype: str | None = None
) -> pd.Series:
    s = pd.Series(values, dtype=dtype)
    if dtype is None and missing is None:
        s = s.astype(object)
    s[rng.random(len(s)) < share] = missing
    return s


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
) -> pd.DataFrame:
    """Rows of days ``[days[0], days[1])`` of the stream, ``rows_per_day`` a day, time-ordered.

    Parameters
    ----------
    world : World
    sc : Scenario
    task : {"classification", "regression"}
    days : (int, int)
        Day range relative to the holdout's first day.
    rng : numpy.random.Generator
    rows_per_day : int
    label_style : {"text", "float"}
        Classification labels as ``"no"``/``"yes"`` or as the floats ``0.0``/``1.0``.
    id_prefix : str
        Prefix of the ``id`` values (ids are unique within one prefix).

    Returns
    -------
    pandas.DataFrame
        Raw columns as a batch file would bring them (mixed missing-value kinds); pass it
        through :func:`driftloop.batches.coerce` with :func:`make_schema` for the pipeline dtypes.
    """
    if task not in TASKS:
        raise ValueError(f"The 'task' parameter of generate_window must be one of {list(TASKS)}. Got {task!r}.")
    if label_style not in ("text", "float"):
        raise ValueError(f"The 'label_style' parameter must be 'text' or 'float'. Got {label_style!r} instead.")
    day = np.repeat(np.arange(days[0], days[1]), rows_per_day).astype(float)
    n = day.size
    after = np.zeros(n, dtype=bool) if sc.change_day is None else day >= sc.change_day
    since = np.where(after, day - (sc.change_day or 0), 0.0)

    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    trend_a = sc.trend_slope * since + rng.normal(size=n)
    trend_b = 0.5 * sc.trend_slope * since + rng.normal(size=n)
    season = sc.season_amplitude * np.cos(2 * np.pi * (day - sc.season_peak_day) / sc.season_period) + rng.normal(
        size=n
    )
    level = sc.step_size * after + rng.normal(size=n)

    idx = rng.choice(world.merchants.size, size=n, p=world.merchant_p)
    merchant, m_eff = world.merchants[idx], world.merchant_effect[idx]
    new = after & (rng.random(n) < sc.new_merchant_share)
    if new.any():
        j = rng.choice(world.new_merchants.size, size=int(new.sum()), p=world.new_merchant_p)
        merchant, m_eff = merchant.copy(), m_eff.copy()
        merchant[new], m_eff[new] = world.new_merchants[j], world.new_merchant_effect[j]
    channels = np.array(list(CHANNEL_EFFECTS), dtype=object)
    c_idx = rng.choice(channels.size, size=n, p=CHANNEL_SHARES)
    channel, c_eff = channels[c_idx], np.array(list(CHANNEL_EFFECTS.values()))[c_idx]

    sign = np.where(after & sc.concept_flip, -1.0, 1.0)
    score = (
        INTERCEPT
        + sign * W_X1 * x1
        + W_X2 * x2
        + W_TREND_B * trend_b
        + _bent(trend_a)
        + _bent(season)
        + _bent(level)
        + m_eff
        + c_eff
    )
    if task == "classification":
        positive = score + rng.logistic(size=n) > 0
        label = positive.astype(float) if label_style == "float" else np.where(positive, "yes", "no")
    else:
        label = score + rng.normal(0.0, REGRESSION_NOISE, n)

    frame = pd.DataFrame(
        {
            "id": [f"{id_prefix}{i:06d}" for i in range(n)],
            "timestamp": BASE_DATE + pd.to_timedelta(day, unit="D"),
            "x1": _mask(x1, MISSING["x1"], np.nan, rng),
            "x2": _mask(x2, MISSING["x2"], None, rng),
            "trend_a": trend_a,
            "trend_b": _mask(trend_b, MISSING["trend_b"], pd.NA, rng, dtype="Float64"),
            "season": season,
            "level": level,
            "merchant": _mask(merchant, MISSING["merchant"], pd.NA, rng, dtype="string"),
            "channel": _mask(channel, MISSING["channel"], None, rng),
            "label": label,
        }
    )
    # Channel gets NaN as well as None: both arrive in real object columns.
    nan_rows = frame["channel"].isna().to_numpy() & (rng.random(n) < 0.5)
    frame.loc[nan_rows, "channel"] = np.nan
    return frame


def make_schema(task: str) -> Schema:
    """The schema of the generated streams."""
    return Schema(id="id", timestamp="timestamp", label="label", numeric=NUMERIC, categorical=CATEGORICAL, task=task)
