"""Two small tabular streams whose numeric features trend, for end-to-end cycles of real projects.

Pure generators: each day's rows come from their own ``numpy.random.Generator`` seeded by
``(seed, day)``, so a batch is the same whichever batches are generated with it; nothing is
seeded globally.

* **prices** (regression): nightly prices of holiday rentals, in euros. Numeric columns
  ``bedrooms``, ``distance_km`` (5 % missing), ``rating`` (8 % missing), ``reviews`` (grows:
  listings accumulate reviews), ``occupancy`` (the city's occupancy rate, rising towards the
  summer) and ``lead_days`` (booking lead time, rising with it); categorical ``city`` (blank in a
  ``city_missing`` share of rows, 0 by default) and ``room_type``. The price level moves: a market level rising
  :data:`PRICE_INFLATION_PER_DAY` a day multiplies every price, and a surge premium is paid
  above :data:`SURGE_KNEE` occupancy, which the season only reaches after the first months.
  A model fitted on older months underprices what arrives later; one refitted on the recent
  window is closer (not exact: the level keeps moving during its holdout too).
* **churn** (classification): subscribers of an app, ``churned`` yes/no. Engagement counts
  (``sessions``, ``minutes`` (4 % missing), ``messages``) grow for everybody, week after week
  (:data:`ENGAGEMENT_GROWTH_PER_DAY`, new features and notifications), while whether someone
  churns depends on their engagement *relative to everybody's at the time*: the same raw
  count means less every week. ``support_tickets``, ``tenure_months``, ``plan`` and
  ``platform`` do not drift. A classifier fitted on older weeks sees everybody as engaged
  and misses churners; one refitted on the recent window has the right boundary again.

Batches are written monthly (prices, CSV) or weekly (churn, parquet) into a project's
``data/incoming``; :data:`PRICES_DATA_CONF` / :data:`CHURN_DATA_CONF` are their ``conf/data``
files, and :data:`PRICES_TRAIN_CONF` / :data:`CHURN_TRAIN_CONF` training windows that fit
their cadence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

START = pd.Timestamp("2024-03-01")
DAY_SECONDS = 24 * 3600

# -- prices (regression) ---------------------------------------------------------------------------

PRICE_ROWS_PER_DAY = 40
PRICE_MONTH_DAYS = 30
PRICE_INFLATION_PER_DAY = 0.002  # the market level: +6 % a month
SURGE_KNEE = 0.70  # occupancy above which hosts charge a surge premium
SURGE_SLOPE = 2.5  # +25 % of the price per 0.1 of occupancy above the knee
PRICE_NOISE_SD = 0.12  # multiplicative noise (log scale)
CITIES = ("lisbon", "porto", "faro", "madeira")
CITY_PROBS = np.array([0.35, 0.30, 0.20, 0.15])
CITY_BASE = {"lisbon": 95.0, "porto": 80.0, "faro": 85.0, "madeira": 75.0}
ROOM_TYPES = ("entire home", "private room", "shared room")
ROOM_PROBS = np.array([0.6, 0.3, 0.1])
ROOM_FACTOR = {"entire home": 1.0, "private room": 0.6, "shared room": 0.4}


def occupancy_level(day: np.ndarray | float) -> np.ndarray:
    """The season: occupancy rises from ~0.55 in March towards ~0.9 by late summer."""
    return 0.55 + 0.35 * np.clip(np.asarray(day, dtype=float) / 180.0, 0.0, 1.0) ** 1.2


def price_day(day: int, *, rows: int = PRICE_ROWS_PER_DAY, seed: int = 0, city_missing: float = 0.0) -> pd.DataFrame:
    """One day of bookings (``day`` counted from :data:`START`); ``city_missing`` of the cities blank."""
    rng = np.random.default_rng([seed, 1, day])
    t = day + np.sort(rng.integers(0, DAY_SECONDS, size=rows)) / DAY_SECONDS
    city = rng.choice(CITIES, size=rows, p=CITY_PROBS)
    room = rng.choice(ROOM_TYPES, size=rows, p=ROOM_PROBS)
    bedrooms = rng.integers(1, 5, size=rows).astype(float)
    distance = np.round(rng.lognormal(np.log(3.0), 0.7, size=rows), 2)
    rating = np.round(np.clip(rng.normal(4.5, 0.3, size=rows), 3.0, 5.0), 2)
    reviews = rng.poisson(15.0 + 0.6 * t).astype(float)
    occupancy = np.round(np.clip(occupancy_level(t) + rng.normal(0.0, 0.05, size=rows), 0.0, 1.0), 3)
    lead_days = np.round(rng.gamma(2.0, (10.0 + 0.25 * t) / 2.0), 0)

    base = np.array([CITY_BASE[c] for c in city]) * np.array([ROOM_FACTOR[r] for r in room])
    value = base + 28.0 * bedrooms - 4.0 * np.minimum(distance, 15.0) + 30.0 * (rating - 4.5) + 5.0 * np.log1p(reviews)
    surge = 1.0 + SURGE_SLOPE * np.maximum(occupancy - SURGE_KNEE, 0.0)
    level = 1.0 + PRICE_INFLATION_PER_DAY * t
    price = np.round(value * surge * level * np.exp(rng.normal(0.0, PRICE_NOISE_SD, size=rows)), 2)

    distance[rng.random(rows) < 0.05] = np.nan
    rating[rng.random(rows) < 0.08] = np.nan
    city = city.astype(object)
    city[rng.random(rows) < city_missing] = None
    stamps = START + pd.to_timedelta(np.round(t * DAY_SECONDS), unit="s")
    return pd.DataFrame(
        {
            "booking_id": [f"b{day:04d}-{i:03d}" for i in range(rows)],
            "booked_at": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
            "bedrooms": bedrooms,
            "distance_km": distance,
            "rating": rating,
            "reviews": reviews,
            "occupancy": occupancy,
            "lead_days": lead_days,
            "city": city,
            "room_type": room,
            "price_eur": price,
        }
    )


def write_price_months(
    folder: Path, months: range, *, rows_per_day: int = PRICE_ROWS_PER_DAY, seed: int = 0, city_missing: float = 0.0
) -> list[Path]:
    """Write one CSV per month (``prices-m01.csv`` ...; month 1 starts at :data:`START`)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for month in months:
        days = range((month - 1) * PRICE_MONTH_DAYS, month * PRICE_MONTH_DAYS)
        frame = pd.concat(
            [price_day(d, rows=rows_per_day, seed=seed, city_missing=city_missing) for d in days], ignore_index=True
        )
        path = folder / f"prices-m{month:02d}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


PRICES_DATA_CONF = """\
# Nightly prices of holiday rentals (tests/pipeline/streams_e2e.py), one CSV a month.
defaults:
  - override /compare@_global_.compare: regression
  - override /promote@_global_.promote: regression
  - _self_

source:
  path: data/incoming
  format: csv
  reviewed_labels: data/reviewed
schema:
  id: booking_id
  timestamp: booked_at
  label: price_eur
  task: regression
  classes: []
  numeric: [bedrooms, distance_km, rating, reviews, occupancy, lead_days]
  categorical: [city, room_type]
  text: []
windows:
  initial_reference_days: 60   # the first two months
  current_max_days: 60
"""

PRICES_TRAIN_CONF = """\
# Monthly batches: the last 45 days before a 14-day holdout (560 rows at 40 a day).
policy: sliding
window_days: 45
window_rows: null
half_life_days: null
holdout_days: 14
holdout_fraction: null
validation_fraction: 0.2
min_train_rows: 200
min_holdout_rows: 200
trigger: on_drift
"""

# -- churn (classification) ------------------------------------------------------------------------

CHURN_ROWS_PER_DAY = 60
ENGAGEMENT_GROWTH_PER_DAY = 0.02  # everybody's engagement: x2 in five weeks
CHURN_SLOPE = 2.0  # logit per unit of log(relative engagement)
PLANS = ("free", "basic", "pro")
PLAN_PROBS = np.array([0.5, 0.35, 0.15])
PLAN_EFFECT = {"free": 0.3, "basic": 0.0, "pro": -0.6}
PLATFORMS = ("ios", "android", "web")
PLATFORM_PROBS = np.array([0.4, 0.45, 0.15])


def churn_day(day: int, *, rows: int = CHURN_ROWS_PER_DAY, seed: int = 0) -> pd.DataFrame:
    """One day of subscribers whose outcome became known (``day`` counted from :data:`START`)."""
    rng = np.random.default_rng([seed, 2, day])
    t = day + np.sort(rng.integers(0, DAY_SECONDS, size=rows)) / DAY_SECONDS
    norm = np.exp(ENGAGEMENT_GROWTH_PER_DAY * t)  # everybody's typical engagement
    engagement = rng.lognormal(0.0, 0.8, size=rows)  # this subscriber's, relative to the norm
    sessions = rng.poisson(12.0 * engagement * norm).astype(float)
    minutes = np.round(sessions * rng.gamma(4.0, 2.5, size=rows), 1)
    messages = rng.poisson(3.0 * engagement * norm).astype(float)
    tickets = rng.poisson(0.6, size=rows).astype(float)
    tenure = np.round(rng.gamma(2.0, 6.0, size=rows), 1)
    plan = rng.choice(PLANS, size=rows, p=PLAN_PROBS)
    platform = rng.choice(PLATFORMS, size=rows, p=PLATFORM_PROBS)

    logit = (
        -1.2
        - CHURN_SLOPE * np.log(engagement)
        + 0.5 * tickets
        - 0.04 * tenure
        + np.array([PLAN_EFFECT[p] for p in plan])
    )
    churned = np.where(rng.random(rows) < 1.0 / (1.0 + np.exp(-logit)), "yes", "no")

    minutes[rng.random(rows) < 0.04] = np.nan
    stamps = START + pd.to_timedelta(np.round(t * DAY_SECONDS), unit="s")
    return pd.DataFrame(
        {
            "user_id": [f"u{day:04d}-{i:03d}" for i in range(rows)],
            "observed_at": stamps,
            "sessions": sessions,
            "minutes": minutes,
            "messages": messages,
            "support_tickets": tickets,
            "tenure_months": tenure,
            "plan": plan,
            "platform": platform,
            "churned": churned,
        }
    )


def write_churn_weeks(
    folder: Path, weeks: range, *, rows_per_day: int = CHURN_ROWS_PER_DAY, seed: int = 0
) -> list[Path]:
    """Write one parquet file per week (``churn-w01.parquet`` ...; week 1 starts at :data:`START`)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for week in weeks:
        days = range((week - 1) * 7, week * 7)
        frame = pd.concat([churn_day(d, rows=rows_per_day, seed=seed) for d in days], ignore_index=True)
        path = folder / f"churn-w{week:02d}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


CHURN_DATA_CONF = """\
# App subscribers and whether they churned (tests/pipeline/streams_e2e.py), one parquet file a week.
defaults:
  - override /compare@_global_.compare: classification
  - override /promote@_global_.promote: classification
  - _self_

source:
  path: data/incoming
  format: parquet
  reviewed_labels: data/reviewed
schema:
  id: user_id
  timestamp: observed_at
  label: churned
  task: classification
  classes: ["no", "yes"]
  numeric: [sessions, minutes, messages, support_tickets, tenure_months]
  categorical: [plan, platform]
  text: []
windows:
  initial_reference_days: 21
  current_max_days: 28
"""

CHURN_TRAIN_CONF = """\
# Weekly batches: the last 21 days before a 7-day holdout (420 rows at 60 a day).
policy: sliding
window_days: 21
window_rows: null
half_life_days: null
holdout_days: 7
holdout_fraction: null
validation_fraction: 0.2
min_train_rows: 200
min_holdout_rows: 200
trigger: on_drift
"""
