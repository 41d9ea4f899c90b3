"""Conformance suite run over every registered drift test (river-style checks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from driftloop.drift import TEST_REGISTRY, DriftConfig
from driftloop.drift.evaluate import run_single_test
from tests.drift.conftest import WORDS as CONFTEST_WORDS

CFG = DriftConfig.from_dict({"multivariate": {"enabled": False}})
WORDS = CONFTEST_WORDS[:14]  # the demo-like vocabulary's first words: small enough for short documents


def sample(kind: str, n: int, seed: int, shifted: bool = False):
    rng = np.random.default_rng(seed)
    if kind == "numeric":
        return rng.normal(1.0 if shifted else 0.0, 1.0, n)
    if kind == "categorical":  # shifted: other shares and a new level "d"
        p = [0.1, 0.2, 0.5, 0.2] if shifted else [0.5, 0.3, 0.2, 0.0]
        return list(rng.choice(["a", "b", "c", "d"], n, p=p))
    if kind == "id_like":  # ids with repeats (Good-Turing unseen share ~0.7); shifted: 80 % from a new range
        ids = [f"id{k}" for k in rng.integers(0, 3 * max(n, 1), n)]
        return [f"new{k}" if rng.random() < 0.8 else v for k, v in enumerate(ids)] if shifted else ids
    words = WORDS + (["copilot", "glitchy", "sync", "tier"] * 6 if shifted else [])
    k = 14 if shifted else 8
    return [" ".join(rng.choice(words, size=k)) for _ in range(n)]


def with_missing(values, share: float, seed: int):
    rng = np.random.default_rng(seed)
    out = np.array(values, dtype=object if not isinstance(values, np.ndarray) else float)
    out[rng.random(len(out)) < share] = None if out.dtype == object else np.nan
    return out if out.dtype != object else list(out)


def nan_only(kind: str, n: int):
    return np.full(n, np.nan) if kind == "numeric" else [None] * n


def constant(kind: str, n: int):
    return np.full(n, 3.0) if kind == "numeric" else (["a"] * n if kind == "categorical" else ["same words here"] * n)


ALL = sorted(TEST_REGISTRY)
IDS = [f"{k}-{n}" for k, n in ALL]


def _finite_or_none(x):
    return x is None or math.isfinite(x)


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_empty_current(kind, name):
    res = run_single_test(kind, name, sample(kind, 200, 1), sample(kind, 0, 2)[:0], CFG)
    assert res.statistic is None and res.p_value is None and "note" in res.details


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_empty_reference(kind, name):
    res = run_single_test(kind, name, sample(kind, 0, 1)[:0], sample(kind, 200, 2), CFG)
    assert res.statistic is None and "note" in res.details


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_identical_samples(kind, name):
    x = sample(kind, 500, 3)
    res = run_single_test(kind, name, x, x, CFG)
    assert res.statistic is not None and res.statistic <= 1e-12
    assert res.p_value is None or res.p_value > 0.99


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_shifted_sample_is_detected(kind, name):
    ref = sample(kind, 2000, 4)
    cur = with_missing(sample(kind, 2000, 5), 0.3, 6) if name == "missing" else sample(kind, 2000, 5, shifted=True)
    res = run_single_test(kind, name, ref, cur, CFG)
    assert res.statistic >= res.threshold, res
    p = res.p_value if res.p_value is not None else run_single_test(kind, res.p_source, ref, cur, CFG).p_value
    assert p < 1e-6


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_nan_only_current(kind, name):
    res = run_single_test(kind, name, sample(kind, 300, 7), nan_only(kind, 300), CFG)
    if name == "missing":
        assert res.statistic == pytest.approx(1.0) and res.p_value < 1e-6
    else:
        assert res.statistic is None and "note" in res.details


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_constant_columns(kind, name):
    same = run_single_test(kind, name, constant(kind, 300), constant(kind, 300), CFG)
    assert same.statistic is not None and same.statistic <= 1e-12
    other = run_single_test(kind, name, constant(kind, 300), sample(kind, 300, 8), CFG)
    assert _finite_or_none(other.statistic) and _finite_or_none(other.p_value)


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_single_value(kind, name):
    one = constant(kind, 1)
    res = run_single_test(kind, name, one, one, CFG)
    assert _finite_or_none(res.statistic) and _finite_or_none(res.p_value)
    res2 = run_single_test(kind, name, sample(kind, 100, 9), one, CFG)
    assert _finite_or_none(res2.statistic) and (res2.p_value is None or 0 <= res2.p_value <= 1)


@pytest.mark.parametrize("kind, name", ALL, ids=IDS)
def test_deterministic(kind, name):
    ref, cur = sample(kind, 400, 10), sample(kind, 300, 11, shifted=True)
    assert run_single_test(kind, name, ref, cur, CFG) == run_single_test(kind, name, ref, cur, CFG)
