"""From a CSV to decided cycles with two commands (issue 14): `driftloop init` on tables unlike the
demo, `dvc repro`, `driftloop ingest` of a later, drifted batch, `dvc repro` again.

* ``loans``: binary classification whose label is ``1.0``/``0.0`` in the first file and ``1``/``0``
  in the second, zip codes stored as integers, a purpose with missing values;
* ``bookings``: regression (nightly price) with no id column (ingest adds a content hash), a city
  missing in 15 % of rows (NaN and None), a price level that trends up;
* ``tweets``: three-class sentiment of multi-line text (quoted CSV fields with line breaks), a
  user handle with thousands of levels, JSON lines for the second batch.

Each second batch drifts (a feature's distribution moves), so cycle 2 retrains, compares and decides.
"""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from driftloop.cli import main
from driftloop.demo.scaffold import run
from tests.tables import write_table

START = pd.Timestamp("2025-03-01")


def _times(rng: np.random.Generator, n: int, first_day: float, days: float) -> pd.Series:
    offsets = np.sort(rng.uniform(first_day, first_day + days, n))
    return pd.Series(START + pd.to_timedelta(offsets, unit="D"))


def loans(seed: int, first_day: float, days: float, n: int, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.4, n)
    amount = rng.lognormal(9.4 if drift else 9.0, 0.5, n)
    purpose = rng.choice(np.array(["car", "home", "debt", None], dtype=object), n, p=[0.3, 0.3, 0.3, 0.1])
    logit = amount / income * 3 - 1.2 + (purpose == "debt") * 0.8
    default = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame(
        {
            "loan_id": np.arange(n) + seed * 100_000,
            "applied_at": _times(rng, n, first_day, days).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": amount.round(2),
            "income": income.round(0),
            "purpose": purpose,
            "zip": rng.integers(1000, 99_999, n),
            "default": default,
        }
    )


def bookings(seed: int, first_day: float, days: float, n: int, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = _times(rng, n, first_day, days)
    day = (t - START).dt.total_seconds().to_numpy() / 86400
    city = rng.choice(np.array(["lisbon", "porto", "faro"], dtype=object), n)
    city[rng.uniform(size=n) < 0.1] = None
    city[rng.uniform(size=n) < 0.05] = np.nan
    nights = rng.integers(1, 8, n)
    lead = rng.exponential(40 if drift else 20, n).round()
    base = np.where(city == "lisbon", 95.0, 80.0) * (1 + 0.004 * day)  # the price level trends up
    price = base * (1 + 0.01 * lead) * rng.lognormal(0, 0.1, n)
    return pd.DataFrame(
        {"booked_at": t.dt.strftime("%Y-%m-%dT%H:%M"), "city": city, "nights": nights, "lead_days": lead}
    ).assign(price=price.round(2))


WORDS = [
    "great",
    "awful",
    "service",
    "slow",
    "fast",
    "love",
    "hate",
    "app",
    "update",
    "crash",
    "login",
    "refund",
    "support",
    "wait",
]


def tweets(seed: int, first_day: float, days: float, n: int, drift: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sentiment = rng.choice(["negative", "neutral", "positive"], n)
    vocab = WORDS + (["outage", "down", "broken"] * 3 if drift else [])
    lead = {"negative": "awful", "neutral": "update", "positive": "love"}
    text = [
        f"{lead[s]} " + " ".join(rng.choice(vocab, rng.integers(4, 12))) + ("\nsecond line" if i % 5 == 0 else "")
        for i, s in enumerate(sentiment)
    ]
    return pd.DataFrame(
        {
            "tweet_id": [f"t{seed}-{i}" for i in range(n)],
            "created_at": _times(rng, n, first_day, days).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "user": [f"@user{u}" for u in rng.integers(0, 5000, n)],
            "text": text,
            "sentiment": sentiment,
        }
    )


TABLES = {
    # name: (generator, target, first-file rows, second-file format, what init must infer)
    "loans": (loans, "default", 3000, "csv", {"task": "classification", "id": "loan_id", "zip": "categorical"}),
    "bookings": (bookings, "price", 3000, "parquet", {"task": "regression", "id": None, "city": "categorical"}),
    "tweets": (
        tweets,
        "sentiment",
        3000,
        "jsonl",
        {"task": "classification", "id": "tweet_id", "text": "text", "user": "categorical"},
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        "loans",
        pytest.param("bookings", marks=pytest.mark.slow),
        pytest.param("tweets", marks=pytest.mark.slow),
    ],
)
def test_init_repro_ingest_repro_reaches_a_decision(name, tmp_path, mlflow_template_db, monkeypatch):
    make, target, rows, fmt, expected = TABLES[name]
    first = write_table(tmp_path / f"{name}.csv", make(1, 0, 30, rows, drift=False))
    second_frame = make(2, 30, 10, rows // 2, drift=True)
    if name == "loans":
        second_frame["default"] = second_frame["default"].astype(int)  # 1 here, 1.0 in the first file
    second = write_table(tmp_path / f"{name}_new.{fmt}", second_frame)
    project = tmp_path / name

    assert main(["init", str(project), "--data", str(first), "--target", target]) == 0
    config = (project / "conf" / "data" / f"{name}.yaml").read_text()
    schema = __import__("yaml").safe_load(config)["schema"]
    assert schema["task"] == expected["task"]
    if "id" in expected:
        assert schema["id"] == (expected["id"] or "driftloop_row_id")
    for column, kind in expected.items():
        if kind in ("categorical", "text", "numeric"):
            assert column in schema[kind], (column, kind, schema)
        elif kind == "ignore":
            assert all(column not in schema[k] for k in ("numeric", "categorical", "text"))
    shutil.copy(mlflow_template_db, project / "mlflow.db")  # skips ~7 s of migrations

    dvc = [sys.executable, "-m", "dvc"]
    run([*dvc, "repro"], project)
    decision1 = json.loads((project / "reports" / "decision.json").read_text())
    assert decision1["promoted"] and decision1["first_cycle"], decision1["summary"]

    monkeypatch.chdir(project)
    assert main(["ingest", str(second)]) == 0
    run([*dvc, "repro"], project)
    decision2 = json.loads((project / "reports" / "decision.json").read_text())
    drift2 = json.loads((project / "reports" / "drift.json").read_text())
    manifest = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())
    assert manifest["champion"]["version"] == "1" and not decision2["first_cycle"]
    assert drift2["dataset"]["drifted"], drift2["dataset"]
    train = json.loads((project / "reports" / "train.json").read_text())
    assert train["trained"], train.get("reason")
    assert "promoted" in decision2 and decision2["summary"], decision2
