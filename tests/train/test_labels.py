"""Human-reviewed labels override original labels by id."""

from __future__ import annotations

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
    "content, match",
    [
        ("ident,label\nx,positive\n", r"bad\.csv.*missing column 'id'"),
        ("id,lab\nx,positive\n", r"bad\.csv.*missing column 'label'"),
        ("id,label\nx,\n", r"bad\.csv.*'label' is empty on line 2"),
        ("id,label\nx,positive\nx,negative\n", r"bad\.csv.*more than one label"),
        ("id,label\nx,great\n", r"bad\.csv.*'label'.*\['great'\].*classes"),
    ],
    ids=["no-id", "no-label", "empty", "conflict", "unknown-class"],
)
def test_bad_files_name_file_and_column(frames, schema, tmp_path, content, match):
    _, cur = frames
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(DataError, match=match):
        apply_reviewed_labels(cur, tmp_path, schema)
