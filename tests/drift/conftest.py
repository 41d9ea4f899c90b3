"""Synthetic data shaped like the demo table (customer feedback), with and without drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

WORDS = [
    "great",
    "app",
    "love",
    "fast",
    "slow",
    "support",
    "price",
    "bug",
    "crash",
    "screen",
    "login",
    "update",
    "easy",
    "helpful",
    "terrible",
    "okay",
    "the",
    "very",
    "not",
    "works",
    "account",
    "payment",
    "delivery",
    "refund",
    "order",
    "team",
    "quick",
    "response",
]
JARGON = ["copilot", "subscription tier", "glitchy sync", "ai assistant"]
KINDS = {
    "comment": "text",
    "stars": "numeric",
    "comment_length": "numeric",
    "product_area": "categorical",
    "channel": "categorical",
}


def make_demo(n: int, seed: int, drift: bool = False) -> pd.DataFrame:
    """Demo-like rows; ``drift`` adds product jargon, longer comments and a channel-mix shift."""
    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS + (JARGON * 4 if drift else []), dtype=object)
    lengths = rng.integers(5, 31, n) + (rng.integers(0, 10, n) if drift else 0)
    words = rng.choice(vocab, size=int(lengths.sum()))
    cuts = np.cumsum(lengths)[:-1]
    comments = [" ".join(w) for w in np.split(words, cuts)]
    channel_p = [0.2, 0.5, 0.2, 0.1] if drift else [0.4, 0.3, 0.2, 0.1]
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(n)],
            "comment": comments,
            "stars": rng.integers(1, 6, n),
            "comment_length": [len(c) for c in comments],
            "product_area": rng.choice(["billing", "mobile", "web", "search", "account", "shipping"], n),
            "channel": rng.choice(["web", "app", "email", "phone"], n, p=channel_p),
            "label": rng.choice(["negative", "neutral", "positive"], n),
        }
    )


@pytest.fixture(scope="module")
def demo_ref() -> pd.DataFrame:
    return make_demo(3000, seed=1)


@pytest.fixture(scope="module")
def demo_same() -> pd.DataFrame:
    return make_demo(3000, seed=2)


@pytest.fixture(scope="module")
def demo_drift() -> pd.DataFrame:
    return make_demo(3000, seed=3, drift=True)
