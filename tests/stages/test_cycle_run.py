"""A cycle's parent run tells its story (issue 15, item 2) and is never written by another origin
(item 1): real stages on a small real workspace, real MLflow on sqlite.

Stages called in-process run as ``manual`` (no ``DVC_STAGE``); a test sets ``DVC_STAGE`` (what
``dvc repro`` gives its commands) or ``DVC_EXP_NAME`` (what ``dvc exp run`` adds) to be another.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop import paths
from driftloop.errors import DataError
from driftloop.stages import STAGES

from .conftest import add_weeks
from .helpers import run_cycle, run_drift, run_snapshot

PARENT_METRICS_CLASSIFICATION = {
    "drift.share_drifted",
    "promote.promoted",
    "compare.challenger.f1_macro",
}


def client():
    from mlflow.tracking import MlflowClient

    return MlflowClient()


def parent_of(ws: Path):
    manifest = json.loads((ws / paths.MANIFEST).read_text())
    return client().get_run(manifest["cycle_run_id"])


def children(run_id: str) -> list:
    c = client()
    return c.search_runs(
        [c.get_run(run_id).info.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{run_id}'"
    )


def test_a_first_cycle_parent_run_tells_its_story(cfg, workspace, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "stage")  # as `dvc repro` runs it
    add_weeks(workspace, range(1, 7))
    decision = run_cycle(cfg)["promote"]
    parent = parent_of(workspace)
    tags, info = parent.data.tags, parent.info
    assert info.status == "FINISHED" and info.run_name.startswith("cycle-")
    assert tags["driftloop.origin"] == "production" and tags["driftloop.kind"] == "cycle"
    manifest = json.loads((workspace / paths.MANIFEST).read_text())
    # the data it ran on, and the composed config as params
    assert tags["driftloop.reference.dvc_md5"] == manifest["reference"]["md5"]
    assert tags["driftloop.current.dvc_md5"] == manifest["current"]["md5"]
    assert "driftloop.git_commit" in tags
    assert parent.data.params["registry.model_name"] == cfg["registry"]["model_name"]
    assert parent.data.params["drift.alpha"] == str(cfg["drift"]["alpha"])
    # the description: decision first, then drift, the comparison and one line per gate
    note = tags["mlflow.note.content"].splitlines()
    assert note[0] == f"### Promoted: {cfg['registry']['model_name']} v1 is the champion (first champion)"
    assert note[2] == " ".join(decision["summary"].split())
    assert note[4] == "- **Drift**: none detected"
    gates = note[note.index("#### Gates") + 1 :]
    assert len(gates) == len(decision["gates"]) and all(g.startswith(("- pass `", "- FAIL `")) for g in gates)
    # a small fixed set of headline metrics: nothing per column or per slice
    metrics = set(parent.data.metrics)
    assert {"drift.share_drifted", "promote.promoted"} <= metrics
    assert parent.data.metrics["promote.promoted"] == 1.0
    assert all(k.endswith(".f1_macro") for k in metrics - {"drift.share_drifted", "promote.promoted"}), metrics
    assert len(metrics) <= 7
    stage_runs = children(info.run_id)
    assert sorted(r.data.tags["driftloop.stage"] for r in stage_runs) == sorted(STAGES)
    # only the parent carries the origin: the UI's origin filter lists cycles alone, to compare
    assert all("driftloop.origin" not in r.data.tags for r in stage_runs)


def test_a_failed_stage_marks_the_cycle_failed_and_the_retry_resumes_it(cfg, workspace, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "stage")
    add_weeks(workspace, range(1, 7))
    run_snapshot(cfg)
    run_drift(cfg)
    parent_id = parent_of(workspace).info.run_id
    assert client().get_run(parent_id).info.status == "RUNNING"  # while its stages run
    holdout_missing = dict(cfg)
    (workspace / paths.DRIFT_JSON).rename(workspace / "drift.json.away")
    from driftloop.stages import run_configured

    with pytest.raises(DataError, match="drift"):
        run_configured("retrain", holdout_missing)
    failed = client().get_run(parent_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["driftloop.failed_stage"] == "retrain"
    assert "drift" in failed.data.tags["driftloop.error"]
    assert failed.data.tags["mlflow.note.content"].startswith("### Failed at the retrain stage")
    # the retry (as `dvc repro` would rerun the failed stage) resumes the same cycle run
    (workspace / "drift.json.away").rename(workspace / paths.DRIFT_JSON)
    for stage in ("retrain", "compare", "promote"):
        run_configured(stage, cfg)
    done = client().get_run(parent_id)
    assert done.info.status == "FINISHED"
    assert "driftloop.error" not in done.data.tags and "driftloop.failed_stage" not in done.data.tags
    assert done.data.tags["mlflow.note.content"].startswith("### Promoted")


def test_a_snapshot_refusing_its_input_leaves_a_failed_cycle_run_naming_the_error(cfg, workspace, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "stage")
    add_weeks(workspace, range(1, 3))
    bad = workspace / "data" / "incoming" / "week_99.csv"
    bad.write_text("id,text\n1,no label or time column\n")
    from driftloop.stages import run_configured

    with pytest.raises(DataError):
        run_configured("snapshot", cfg)
    c = client()
    exp = c.get_experiment_by_name(cfg["tracking"]["experiment"])
    cycles = c.search_runs([exp.experiment_id], filter_string="tags.`driftloop.kind` = 'cycle'")
    assert len(cycles) == 1 and cycles[0].info.status == "FAILED"
    assert "week_99.csv" in cycles[0].data.tags["driftloop.error"]
    assert cycles[0].data.tags["driftloop.failed_stage"] == "snapshot"


def test_stages_of_another_origin_never_write_into_a_finished_cycle(cfg, workspace, monkeypatch):
    monkeypatch.setenv("DVC_STAGE", "stage")
    add_weeks(workspace, range(1, 7))
    run_cycle(cfg)
    production = parent_of(workspace)
    before = (production.info.status, production.info.end_time, production.data.tags, production.data.metrics)
    from driftloop.stages import run_configured

    # a rerun of a finished cycle by `dvc repro` (e.g. after a code change), an experiment, by hand
    run_configured("promote", cfg)
    monkeypatch.setenv("DVC_EXP_NAME", "try-it")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    run_configured("promote", cfg)
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_STAGE")
    run_configured("promote", cfg)
    after = client().get_run(production.info.run_id)
    assert (after.info.status, after.info.end_time, after.data.tags, after.data.metrics) == before
    c = client()
    derived = c.search_runs(
        [production.info.experiment_id], filter_string=f"tags.`driftloop.based_on_cycle` = '{production.info.run_id}'"
    )
    by_origin = {r.data.tags["driftloop.origin"]: r for r in derived}
    assert set(by_origin) == {"rerun", "experiment", "manual"}
    assert by_origin["experiment"].info.run_name.startswith("exp-try-it-")
    assert by_origin["experiment"].data.tags["driftloop.dvc_exp_baseline"] == "abc123"
    assert by_origin["rerun"].info.run_name.startswith("rerun-")
    for r in derived:
        assert r.info.status == "FINISHED"
        stage_runs = children(r.info.run_id)
        assert [k.data.tags["driftloop.stage"] for k in stage_runs] == ["promote"]
        assert "driftloop.origin" not in stage_runs[0].data.tags
