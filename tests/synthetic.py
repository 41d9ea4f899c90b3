"""Synthetic feedback-like data shared by the train and compare tests (small, seeded, known answers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftloop.schema import Schema

CLASSES = ("negative", "neutral", "positive")
_KEYWORDS = {
    "negative": ["bad", "awful", "broken"],
    "neutral": ["ok", "fine", "average"],
    "positive": ["great", "love", "excellent"],
}


def make_frame(
    n: int, start: str, days: float, seed: int, task: str = "classification", prefix: str = ""
) -> pd.DataFrame:
    """Rows spread over ``days`` from ``start``; the label depends on stars and keywords."""
    rng = np.random.default_rng(seed)
    stars = rng.integers(1, 6, n)
    score = stars + rng.normal(0, 1.0, n)
    label = np.where(score > 3.8, "positive", np.where(score < 2.2, "negative", "neutral"))
    filler = np.array([f"w{i}" for i in range(60)])
    words = rng.choice(filler, (n, 5))
    key = np.array([_KEYWORDS[lab][i % 3] for i, lab in enumerate(label)])
    comment = pd.Series(words[:, 0]).str.cat([words[:, i] for i in range(1, 5)] + [key], sep=" ")
    frame = pd.DataFrame(
        {
            "id": [f"{prefix}{seed}-{i}" for i in range(n)],
            "timestamp": pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D"),
            "comment": comment.to_numpy(),
            "stars": stars,
            "comment_length": comment.str.len().to_numpy(),
            "product_area": rng.choice(["app", "web", "billing"], n),
            "channel": rng.choice(["email", "chat"], n),
            "label": label,
        }
    )
    if task == "regression":
        frame["label"] = 2.0 * stars + 0.05 * frame["comment_length"] + rng.normal(0, 1.0, n)
    return frame


def make_schema(task: str = "classification") -> Schema:
    return Schema(
        id="id",
        timestamp="timestamp",
        label="label",
        numeric=("stars", "comment_length"),
        categorical=("product_area", "channel"),
        text=("comment",),
        task=task,
        classes=CLASSES if task == "classification" else (),
    )


def small_window(schema: Schema):
    """An expanding training window of 800 older and 600 newer rows of :func:`make_frame`."""
    from driftloop.train.windows import WindowConfig, select_training_window

    return select_training_window(
        make_frame(800, "2026-01-01", 21, seed=1),
        make_frame(600, "2026-01-22", 14, seed=2),
        schema,
        WindowConfig.from_dict({"policy": "expanding"}),
    )


# Fixtures over the factories above; conftests import them by name so pytest registers them.
import pytest  # noqa: E402


@pytest.fixture
def schema() -> Schema:
    return make_schema()


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference: 21 days; current: the next 28 days."""
    return make_frame(600, "2026-01-01", 21, seed=1), make_frame(800, "2026-01-22", 28, seed=2)


@pytest.fixture
def make():
    """The data factory, for tests that need their own sizes or tasks."""
    return make_frame


@pytest.fixture
def make_schema_for():
    return make_schema
