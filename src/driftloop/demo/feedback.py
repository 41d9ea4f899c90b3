"""A deterministic stream of customer feedback for a sentiment classifier.

The demo's world: customers leave a comment, a star rating, a product area and a
channel; an annotator labels the comment negative / neutral / positive. Batches
arrive week by week. From ``drift_from_week`` on the world changes in two ways:

* **Data drift** — customers start writing about new product features with new
  jargon ("copilot", "paywall", "glitchy sync"...), comments get longer, and more
  feedback arrives through the app.
* **Concept drift** — phrases change meaning: "it's okay, I guess" used to be
  neutral and is now said by disappointed customers (labelled negative).

The label mix and the star ratings (which depend on the label only) and the
product-area mix stay the same, so a correct drift detector flags exactly
``comment``, ``comment_length`` and ``channel`` (see :data:`DRIFTED_COLUMNS`).

Everything is drawn from one explicit ``numpy.random.Generator`` per week seeded
from ``(seed, week)``, so week 7 is identical whether you generate weeks 1-10 or
7-10 alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

LABELS = ("negative", "neutral", "positive")
LABEL_PROBS = np.array([0.30, 0.30, 0.40])
PRODUCT_AREAS = ("billing", "mobile app", "delivery", "support", "website", "account")
AREA_PROBS = np.array([0.2, 0.2, 0.15, 0.2, 0.15, 0.1])
CHANNELS = ("email", "web", "app", "phone")
CHANNEL_PROBS_BEFORE = np.array([0.30, 0.35, 0.20, 0.15])
CHANNEL_PROBS_AFTER = np.array([0.15, 0.25, 0.50, 0.10])
# Stars depend on the label only, so they carry signal but never drift on their own.
STAR_PROBS = {
    "negative": np.array([0.40, 0.30, 0.15, 0.10, 0.05]),
    "neutral": np.array([0.10, 0.20, 0.40, 0.20, 0.10]),
    "positive": np.array([0.05, 0.10, 0.15, 0.30, 0.40]),
}
DRIFTED_COLUMNS = ("comment", "comment_length", "channel")

_CLASSIC = {
    "negative": [
        "terrible experience with the {area}",
        "the {area} is broken again",
        "very slow and frustrating",
        "waste of money",
        "really disappointed with the {area}",
        "awful, nothing works",
        "worst update so far",
        "the {area} keeps failing",
        "I want a refund",
        "support never answered",
    ],
    "neutral": [
        "it's okay, I guess",
        "the {area} is fine",
        "nothing special about the {area}",
        "average experience",
        "does the job",
        "no strong opinion on the {area}",
        "it works as described",
        "the {area} is standard",
        "meh, neither good nor bad",
        "as expected",
    ],
    "positive": [
        "love the {area}",
        "works great",
        "super fast and easy",
        "really helpful {area} team",
        "excellent service",
        "the {area} is fantastic",
        "very happy with it",
        "best purchase this year",
        "great value for money",
        "smooth and reliable {area}",
    ],
}
# New product vocabulary: none of these tokens occurs before the drift week.
_JARGON = {
    "negative": [
        "glitchy sync wiped my drafts",
        "paywall popped up mid checkout smh",
        "copilot hallucinated my invoice",
        "subscription tier downgrade lost my widgets",
        "dark mode toggle resets constantly ugh",
        "sync conflicts everywhere after the rollout",
    ],
    "neutral": [
        "tried the copilot beta for the {area}",
        "switched subscription tier this week",
        "dark mode rollout landed on my phone",
        "noticed the new sync widget in the {area}",
        "copilot sidebar shows up now",
        "migrated to the annual subscription tier",
    ],
    "positive": [
        "copilot nailed the summary, game changer",
        "dark mode is chef's kiss",
        "new sync widget slaps",
        "subscription tier upgrade totally worth it fr",
        "copilot autofill saves me hours",
        "the rollout of dark mode is lit",
    ],
}
_FILLERS = ["", "", "", " today", " this week", " again", " honestly", " overall", " to be fair"]


@dataclass(frozen=True)
class Scenario:
    """How the world drifts.

    Parameters
    ----------
    drift_from_week : int
        First (1-based) week with drift; weeks before it are stationary.
    jargon_rate : float
        Share of drifted-week comments written in the new jargon.
    sarcasm_rate : float
        Share of drifted-week *negative* comments that say "it's okay, I guess".
    ambiguity : float
        Share of comments written in another sentiment's words than their label
        (annotator disagreement), so that no model is perfect.
    """

    drift_from_week: int = 7
    jargon_rate: float = 0.55
    sarcasm_rate: float = 0.35
    ambiguity: float = 0.08


def generate_week(week: int, *, rows: int, seed: int, start: str, scenario: Scenario) -> pd.DataFrame:
    """Generate one weekly batch (1-based ``week``) as a DataFrame."""
    rng = np.random.default_rng([seed, week])
    drifted = week >= scenario.drift_from_week
    t0 = pd.Timestamp(start) + pd.Timedelta(weeks=week - 1)
    offsets = np.sort(rng.integers(0, 7 * 24 * 3600, size=rows))
    labels = rng.choice(LABELS, size=rows, p=LABEL_PROBS)
    areas = rng.choice(PRODUCT_AREAS, size=rows, p=AREA_PROBS)
    channels = rng.choice(CHANNELS, size=rows, p=CHANNEL_PROBS_AFTER if drifted else CHANNEL_PROBS_BEFORE)
    stars = np.empty(rows, dtype=np.int64)
    for label in LABELS:
        mask = labels == label
        stars[mask] = rng.choice(np.arange(1, 6), size=mask.sum(), p=STAR_PROBS[label])

    jargon = drifted & (rng.random(rows) < scenario.jargon_rate)
    sarcasm = drifted & (labels == "negative") & (rng.random(rows) < scenario.sarcasm_rate) & ~jargon
    # The words of an ambiguous comment come from another class than its label.
    word_class = np.where(rng.random(rows) < scenario.ambiguity, rng.choice(LABELS, size=rows), labels)
    comments = []
    fillers = rng.choice(_FILLERS, size=rows)
    picks = rng.random(rows)
    for i in range(rows):  # text assembly is inherently per row; a few thousand rows per week
        label = word_class[i]
        if sarcasm[i]:
            text = "it's okay, I guess"
        else:
            pool = (_JARGON if jargon[i] else _CLASSIC)[label]
            if not jargon[i] and drifted and label == "neutral":
                pool = [p for p in pool if not p.startswith("it's okay")]
            text = pool[int(picks[i] * len(pool))]
        comments.append(text.format(area=areas[i]) + fillers[i])
    comment = pd.Series(comments, dtype="string")
    return pd.DataFrame(
        {
            "id": [f"w{week:02d}-{i:05d}" for i in range(rows)],
            "timestamp": t0 + pd.to_timedelta(offsets, unit="s"),
            "comment": comment,
            "stars": stars,
            "comment_length": comment.str.len().astype("int64"),
            "product_area": pd.Series(areas, dtype="string"),
            "channel": pd.Series(channels, dtype="string"),
            "label": pd.Series(labels, dtype="string"),
        }
    )


def write_weeks(
    folder: Path,
    weeks: range | list[int],
    *,
    rows: int = 1000,
    seed: int = 7,
    start: str = "2026-01-05",
    scenario: Scenario | None = None,
    fmt: str = "parquet",
) -> list[Path]:
    """Write weekly batches ``week_NN.<fmt>`` into ``folder`` and return their paths."""
    scenario = scenario or Scenario()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for week in weeks:
        df = generate_week(week, rows=rows, seed=seed, start=start, scenario=scenario)
        path = folder / f"week_{week:02d}.{fmt}"
        if fmt == "parquet":
            df.to_parquet(path, index=False)
        elif fmt == "csv":
            df.to_csv(path, index=False)
        else:
            raise ValueError(f"fmt must be 'parquet' or 'csv'. Got {fmt!r} instead.")
        paths.append(path)
    return paths
