"""Human-reviewed labels override original labels by id; bad rows are left out, and named."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from driftloop.errors import DataError
from driftloop.train.labels import apply_reviewed_labels


def test_reviewed_labels_override_by_id_and_later_files_win(frames, schema, tmp_path):
    _, cur = frames
    ids = cur["id"].iloc[:3].tolist()
    (tmp_path / "a.csv").write_text(f"id,label\n{ids[0]},negative\n{ids[1]},negative\nunknown-id,positive\n")
    (tmp_path / "b.csv").write_text(f"id,label\n{ids[1]},positive\n")
    out = apply_reviewed_labels(cur, tmp_path, schema)
    assert out.loc[out["id"] == ids[0], "label"].item() == "negative"
    assert out.loc[out["id"] == ids[1], "label"].item() == "positive"
    assert out.loc[out["id"] == ids[2], "label"].item() == cur["label"].iloc[2]
    assert out.attrs["reviewed_labels"] == {"files": 2, "reviewed_ids": 3, "applied": 2}
    pd.testing.assert_frame_equal(out.iloc[3:], cur.iloc[3:])  # nothing else changes


def test_missing_folder_changes_nothing(frames, schema, tmp_path):
    _, cur = frames
    pd.testing.assert_frame_equal(apply_reviewed_labels(cur, tmp_path / "absent", schema), cur)
    pd.testing.assert_frame_equal(apply_reviewed_labels(cur, None, schema), cur)


@pytest.mark.parametrize(
    "content, problem, match",
    [
        ("ident,label\n{id},positive\n", "missing_column", r"bad\.csv, line 1: missing column\(s\) \['id'\]"),
        ("id,lab\n{id},positive\n", "missing_column", r"bad\.csv, line 1: missing column\(s\) \['label'\]"),
        ("id,label\n{id},\n", "empty", r"bad\.csv, line 2: column 'label' is empty"),
        ("id,label\n{id},great\n", "unknown_class", r"bad\.csv, line 2: label 'great' is not one of the classes"),
    ],
    ids=["no-id", "no-label", "empty", "unknown-class"],
)
def test_bad_rows_are_left_out_and_named_and_the_rest_applies(frames, schema, tmp_path, content, problem, match):
    """A bad row (or file) changes no label; check_reviewed_ids (the snapshot's warnings) names it."""
    from driftloop.batches import check_reviewed_ids

    _, cur = frames
    bad_id, good_id = cur["id"].iloc[0], cur["id"].iloc[1]
    (tmp_path / "bad.csv").write_text(content.format(id=bad_id))
    other = "negative" if cur["label"].iloc[1] != "negative" else "positive"
    (tmp_path / "good.csv").write_text(f"id,label,reviewer\n{good_id},{other},ann\n")
    out = apply_reviewed_labels(cur, tmp_path, schema)
    assert out["label"].iloc[0] == cur["label"].iloc[0]
    assert out["label"].iloc[1] == other
    problems = check_reviewed_ids(tmp_path, schema, cur["id"])
    assert [p.problem for p in problems] == [problem]
    assert re.search(match, str(problems[0])), str(problems[0])


def test_an_id_labelled_twice_differently_takes_the_last_label_and_says_so(frames, schema, tmp_path):
    from driftloop.batches import check_reviewed_ids

    _, cur = frames
    key = cur["id"].iloc[0]
    (tmp_path / "a.csv").write_text(f"id,label\n{key},positive\n{key},negative\n")
    assert apply_reviewed_labels(cur, tmp_path, schema)["label"].iloc[0] == "negative"
    (problem,) = check_reviewed_ids(tmp_path, schema, cur["id"])
    assert problem.problem == "conflict" and "'negative' here and 'positive'" in str(problem)


def test_a_schema_without_a_label_column_is_refused(frames, schema, tmp_path):
    import dataclasses

    _, cur = frames
    with pytest.raises(DataError, match=r"data\.schema\.label"):
        apply_reviewed_labels(cur, tmp_path, dataclasses.replace(schema, label=None))
