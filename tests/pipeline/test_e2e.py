"""Two real cycles: real git, real `dvc repro`, real MLflow on sqlite, real scikit-learn.

Cycle 1 on calm weeks registers champion v1; cycle 2 on drifted weeks flags exactly
the drifted columns, retrains, compares and promotes v2. A `dvc repro` with nothing
changed then runs no stage and creates no MLflow run.
"""

from __future__ import annotations

import json
import sys

from driftloop.demo.feedback import DRIFTED_COLUMNS

from .conftest import count_runs as _runs
from .project import run


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_first_cycle_registers_champion_v1(two_cycles):
    d = two_cycles["decision1"]
    assert d["first_cycle"] is True
    assert d["promoted"] is True and str(d["version"]) == "1"
    assert not two_cycles["drift1"]["dataset"]["drifted"], "calm weeks must not be flagged"


def test_second_cycle_flags_exactly_the_drifted_columns(two_cycles):
    drift = json.loads((two_cycles["project"] / "reports" / "drift.json").read_text())
    flagged = {c for c, v in drift["columns"].items() if v["drifted"]}
    assert flagged == set(DRIFTED_COLUMNS)
    assert drift["dataset"]["drifted"] is True


def test_second_cycle_promotes_v2_with_lineage(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    decision = json.loads((project / "reports" / "decision.json").read_text())
    assert decision["first_cycle"] is False
    assert decision["promoted"] is True, decision
    assert str(decision["version"]) == "2" and str(decision["previous_version"]) == "1"
    client = _client(uri)
    model = client.get_registered_model(decision["model_name"])
    assert str(model.aliases["champion"]) == "2"
    mv = client.get_model_version(decision["model_name"], "2")
    train = json.loads((project / "reports" / "train.json").read_text())
    assert mv.tags["driftloop.training_data_md5"] == train["training_data_md5"]
    assert mv.tags["driftloop.git_commit"] == two_cycles["commit"]
    # The DVC md5 in the tag is the md5 DVC recorded for the training data.
    lock = (project / "dvc.lock").read_text()
    assert train["training_data_md5"] in lock


def test_cycle_is_one_parent_run_with_a_child_per_stage(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    manifest = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())
    client = _client(uri)
    parent = manifest["cycle_run_id"]
    children = client.search_runs(
        [client.get_run(parent).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent}'"
    )
    stages = sorted(r.data.tags.get("driftloop.stage") for r in children)
    assert stages == sorted(["snapshot", "drift", "retrain", "compare", "promote"])
    drift_run = next(r for r in children if r.data.tags.get("driftloop.stage") == "drift")
    assert "drift.share_drifted" in drift_run.data.metrics


def test_noop_repro_runs_nothing_and_logs_nothing(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    before = _runs(uri)
    out = run([sys.executable, "-m", "dvc", "repro"], project)
    assert "Running stage" not in out.stdout
    assert _runs(uri) == before


def test_rerunning_promote_is_a_no_op(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    client = _client(uri)
    decision_before = (project / "reports" / "decision.json").read_text()
    name = json.loads(decision_before)["model_name"]
    versions = len(client.search_model_versions(f"name = '{name}'"))
    tags = dict(client.get_registered_model(name).tags)
    run([sys.executable, "pipelines/promote.py"], project)
    assert (project / "reports" / "decision.json").read_text() == decision_before
    assert len(client.search_model_versions(f"name = '{name}'")) == versions
    assert dict(client.get_registered_model(name).tags) == tags  # no new alias-history entry


def test_dvc_repro_tells_each_stage_outcome(two_cycles):
    """Every stage prints one line of what it found, so that `dvc repro` ends with the decision
    (issue 15, item 5)."""
    second = two_cycles["logs"][1].stdout
    for stage in ("snapshot", "drift", "retrain", "compare", "promote"):
        assert f"driftloop {stage}: " in second, stage
    assert "driftloop drift: DRIFT: " in second and "comment_length" in second
    assert "driftloop compare: challenger against champion v1: " in second
    promote_line = next(line for line in second.splitlines() if line.startswith("driftloop promote: "))
    assert promote_line.startswith("driftloop promote: Promoted")
