"""The review loop through the real stages: the drift stage queues the champion's least confident
predictions and logs the queue; a reviewer's corrected labels are checked by the next snapshot,
counted against the champion in the drift report, reach the training set and change the model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop import paths
from driftloop.review import read_queue, wilson_interval
from driftloop.tags import TAG_CYCLE_RUN_ID, TAG_STAGE

from .conftest import add_weeks
from .helpers import cache_training_data, run_cycle, run_drift, run_retrain, run_snapshot

CLASSES = ["negative", "neutral", "positive"]


def drift_run_queue(ws: Path, tmp: Path) -> bytes:
    """The queue logged on the drift run of the cycle the manifest names."""
    import mlflow

    cycle = json.loads((ws / paths.MANIFEST).read_text())["cycle_run_id"]
    client = mlflow.MlflowClient()
    (run,) = client.search_runs(
        [client.get_run(cycle).info.experiment_id],
        f"tags.`{TAG_STAGE}` = 'drift' and tags.`{TAG_CYCLE_RUN_ID}` = '{cycle}'",
    )
    assert [a.path for a in client.list_artifacts(run.info.run_id, "review")] == ["review/review_queue.csv"]
    return Path(client.download_artifacts(run.info.run_id, "review/review_queue.csv", str(tmp))).read_bytes()


def probability_of(model_uri: str, rows: pd.DataFrame, labels: pd.Series, schema) -> np.ndarray:
    """Each row's predicted probability of the label given for it."""
    from driftloop.compare import load_model, predict_outputs

    out = predict_outputs(load_model(model_uri), rows, schema)
    column = {c: i for i, c in enumerate(out.classes)}
    return out.proba[np.arange(len(rows)), [column[v] for v in labels]]


@pytest.mark.slow
def test_a_corrected_label_reaches_the_training_set_and_changes_the_model(cfg, workspace, tmp_path, capsys):
    from driftloop.schema import Schema

    schema = Schema.from_config(cfg["data"]["schema"])
    add_weeks(workspace, range(1, 7))
    assert run_cycle(cfg)["promote"]["promoted"]  # champion v1
    first = read_queue(workspace / paths.REVIEW_QUEUE)
    assert len(first) == 0 and first.columns[-3:].tolist() == ["predicted_label", "confidence", "reason"]

    # Cycle 2: the champion scores the drifted weeks and queues what it is least sure of.
    cache_training_data(workspace)
    add_weeks(workspace, range(7, 11))
    run_snapshot(cfg)
    run_drift(cfg)
    queue_bytes = (workspace / paths.REVIEW_QUEUE).read_bytes()
    assert drift_run_queue(workspace, tmp_path / "dl") == queue_bytes
    queue = read_queue(workspace / paths.REVIEW_QUEUE)
    assert queue.columns.tolist() == [schema.id, *schema.features, "predicted_label", "confidence", "reason"]
    assert queue["reason"].value_counts().to_dict() == {"least_confident": 50, "control": 10}
    assert queue[schema.id].is_unique
    current = pd.read_parquet(workspace / paths.CURRENT).set_index(schema.id)
    assert set(queue[schema.id]) <= set(current.index)
    picked = queue[queue["reason"] == "least_confident"]
    control = queue[queue["reason"] == "control"]
    assert picked["confidence"].max() <= control["confidence"].quantile(0.5)
    base = run_retrain(cfg)  # the challenger this cycle trains without any review
    assert base["trained"]

    # A reviewer returns labels: the first 10 queued rows confirm the champion, the other 40 rows
    # name another class; plus a row naming an unknown id and one an unknown class.
    given = picked[[schema.id, "predicted_label"]].reset_index(drop=True)
    other = given["predicted_label"].map(lambda c: CLASSES[(CLASSES.index(c) + 1) % 3])
    given["label"] = np.where(given.index < 10, given["predicted_label"], other)
    review = workspace / "data" / "reviewed"
    review.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{label},ann" for i, label in zip(given[schema.id], given["label"], strict=True)]
    rows += ["no-such-id,positive,ann", f"{given[schema.id].iloc[0]}x,positive,ann"]
    rows.insert(5, f"{control[schema.id].iloc[0]},furious,ann")
    (review / "review-1.csv").write_text("id,label,reviewer\n" + "\n".join(rows) + "\n")

    # Cycle 3: the snapshot names each bad row in one warning line and goes on.
    capsys.readouterr()
    run_snapshot(cfg)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "review-1.csv" in line]
    assert len(warnings) == 3, warnings
    assert "line 7" in warnings[0] and "'furious'" in warnings[0] and "classes" in warnings[0]
    assert "line 53" in warnings[1] and "'no-such-id'" in warnings[1] and "no batch" in warnings[1]

    drift = run_drift(cfg)
    section = drift["reviewed_labels"]
    assert (section["n_reviewed"], section["n_scored"], section["model"]) == (
        52,
        50,
        f"{cfg['registry']['model_name']} v1",
    )
    # the two ids in no batch are in no window either: counted and named beside the table
    assert sorted(section["outside_windows"]) == sorted(["no-such-id", f"{given[schema.id].iloc[0]}x"])
    assert [p["problem"] for p in section["problems"]] == ["unknown_class"]  # ids: the snapshot's
    expected = given.assign(wrong=given["label"] != given["predicted_label"]).groupby("predicted_label")["wrong"]
    per_class = {r["predicted_class"]: r for r in section["per_class"]}
    assert sorted(per_class) == sorted(expected.groups)
    for cls, wrong in expected:
        row = per_class[cls]
        assert (row["reviewed"], row["disagreed"]) == (len(wrong), int(wrong.sum()))
        assert (row["low"], row["high"]) == pytest.approx(wilson_interval(int(wrong.sum()), len(wrong)))
    assert "<h2>Reviewed labels</h2>" in (workspace / paths.DRIFT_HTML).read_text()
    again = read_queue(workspace / paths.REVIEW_QUEUE)
    assert not set(again[schema.id]) & set(given[schema.id]), "a reviewed row was queued again"

    trained = run_retrain(cfg)
    training = pd.read_parquet(workspace / paths.TRAINING)
    holdout = pd.read_parquet(workspace / paths.HOLDOUT)
    corrected = given[given["label"] != given["predicted_label"]].set_index(schema.id)["label"]
    for table in (training, holdout):
        mine = table[table[schema.id].isin(corrected.index)].set_index(schema.id)
        assert (mine[schema.label] == corrected.reindex(mine.index)).all()
    in_training = training[training[schema.id].isin(corrected.index)]
    assert len(in_training) >= 20, "too few corrected rows reach the training set to test the model"
    changed = (current.loc[in_training[schema.id], schema.label] != corrected.reindex(in_training[schema.id])).sum()
    assert changed >= 10, "the reviewer's labels mostly repeat the data's: nothing to learn"
    # The model trained on the corrected labels gives them more probability than the one without.
    rows_ = in_training.drop(columns=[c for c in in_training.columns if c.startswith("_")])
    before = probability_of(base["model_uri"], rows_, in_training[schema.label], schema)
    after = probability_of(trained["model_uri"], rows_, in_training[schema.label], schema)
    assert after.mean() > before.mean() + 0.05, (before.mean(), after.mean())
