"""`dvc exp run -S model=<other>`: DVC composes conf/ with the override into params.yaml and reruns
exactly the stages that read the model config, logging to the project's own MLflow DB even from
the temporary copy DVC runs `--temp` experiments in (.dvc/tmp/exps/...)."""

from __future__ import annotations

import json
import sys

from .project import run


def production_records(uri: str) -> dict[str, tuple]:
    """Every production run (the cycles' parent runs and their stage runs, and compare's nested
    runs): status, end time, tags, metrics with their history, params. An experiment, a rerun or a
    stage run by hand must leave each of them byte-identical (issue 15, item 1)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("driftloop")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    keep = {r.info.run_id for r in runs if r.data.tags.get("driftloop.origin") == "production"}
    grown = True
    while grown:  # the production cycles' stage runs, and the runs nested under those
        more = {r.info.run_id for r in runs if r.data.tags.get("mlflow.parentRunId") in keep} - keep
        keep |= more
        grown = bool(more)
    out = {}
    for r in runs:
        if r.info.run_id in keep:
            history = {
                k: [(m.value, m.step, m.timestamp) for m in client.get_metric_history(r.info.run_id, k)]
                for k in r.data.metrics
            }
            out[r.info.run_id] = (r.info.status, r.info.end_time, dict(r.data.tags), history, dict(r.data.params))
    return out


def test_exp_run_with_another_model(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    params_before = (project / "params.yaml").read_text()
    from .test_faults import registry_state

    registry_before = registry_state(uri)
    production_before = production_records(uri)
    # both cycles' parent runs and their five stage runs at least (compare's nested runs too)
    assert len(production_before) >= 12
    assert {v[0] for v in production_before.values()} == {"FINISHED"}
    # Experiments start from a commit: commit the cycle's state (dvc.lock, params, the batches --
    # a real project tracks data/incoming with DVC or gets it from a data source).
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "two cycles"], project)
    out = run([sys.executable, "-m", "dvc", "exp", "run", "--temp", "-S", "model=hgb"], project)
    ran = {line.split("'")[1] for line in out.stdout.splitlines() if line.startswith("Running stage")}
    # `params` is the cheap conf/ check (params.yaml changed); snapshot and drift do not read the model.
    assert ran == {"params", "retrain", "compare", "promote"}, out.stdout
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("driftloop")
    latest = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`driftloop.stage` = 'retrain'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert latest.data.params["model.name"] == "hgb"
    assert (project / "params.yaml").read_text() == params_before, "--temp must leave the workspace alone"
    # promote.in_experiments: skip -- trying a model records a decision but never changes what serves.
    assert registry_state(uri) == registry_before
    promote_run = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`driftloop.stage` = 'promote'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert "Experiment run" in promote_run.data.tags["driftloop.decision"]

    # The experiment's stage runs sit under a parent run of their own, named and tagged for it.
    parent = client.get_run(promote_run.data.tags["mlflow.parentRunId"])
    tags = parent.data.tags
    assert tags["driftloop.origin"] == "experiment" and tags["driftloop.kind"] == "cycle"
    assert parent.info.run_name.startswith(f"exp-{tags['driftloop.dvc_exp_name']}-")
    head = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    assert tags["driftloop.dvc_exp_baseline"] == head
    manifest_cycle = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())
    assert tags["driftloop.based_on_cycle"] == manifest_cycle["cycle_run_id"]
    assert parent.info.status == "FINISHED" and parent.data.params["model.name"] == "hgb"
    mine = client.search_runs([exp.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert {r.data.tags["driftloop.stage"] for r in mine} == {"retrain", "compare", "promote"}
    # ... and found with the UI's filter box by tag.
    found = client.search_runs([exp.experiment_id], filter_string="tags.`driftloop.origin` = 'experiment'")
    assert parent.info.run_id in {r.info.run_id for r in found}
    assert production_records(uri) == production_before, "an experiment modified a production run"


def test_a_stage_run_by_hand_writes_under_its_own_parent(two_cycles):
    """`python pipelines/promote.py` outside DVC (no DVC_STAGE) on a finished cycle: its run goes
    under a `manual-` parent run naming the cycle, and no production run changes."""
    import os
    import subprocess

    project, uri = two_cycles["project"], two_cycles["uri"]
    before = production_records(uri)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("driftloop")

    def manual_parents() -> dict:
        query = "tags.`driftloop.origin` = 'manual' and tags.`driftloop.kind` = 'cycle'"
        return {r.info.run_id: r for r in client.search_runs([exp.experiment_id], filter_string=query)}

    earlier = manual_parents()  # another test may have run a stage by hand on this project already
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    subprocess.run([sys.executable, "pipelines/promote.py"], cwd=project, env=env, check=True, capture_output=True)
    new = [r for i, r in manual_parents().items() if i not in earlier]
    assert len(new) == 1 and new[0].info.run_name.startswith("manual-")
    assert new[0].info.status == "FINISHED"
    manifest = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())
    assert new[0].data.tags["driftloop.based_on_cycle"] == manifest["cycle_run_id"]
    assert production_records(uri) == before, "a stage run by hand modified a production run"
