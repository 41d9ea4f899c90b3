"""`dvc exp run -S model=<other>`: DVC composes conf/ with the override into params.yaml and reruns
exactly the stages that read the model config, logging to the project's own MLflow DB even from
the temporary copy DVC runs `--temp` experiments in (.dvc/tmp/exps/...)."""

from __future__ import annotations

import sys

from .project import run


def test_exp_run_with_another_model(two_cycles):
    project, uri = two_cycles["project"], two_cycles["uri"]
    params_before = (project / "params.yaml").read_text()
    from .test_faults import registry_state

    registry_before = registry_state(uri)
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
