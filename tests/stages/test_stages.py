"""Each ``run_<stage>(ctx, cfg)`` called directly on a small real workspace (no mocks)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop import paths
from driftloop.context import RegistryIdentity, build_context, registry_identity
from driftloop.errors import ConfigError, DataError
from driftloop.promote.registry import ChampionRegistry
from driftloop.stages import STAGES

from .conftest import add_weeks
from .helpers import (
    ROOT,
    cache_training_data,
    run_compare,
    run_cycle,
    run_drift,
    run_promote,
    run_retrain,
    run_snapshot,
)

STAGE_DIR = ROOT / "src" / "driftloop" / "stages"
FRAMEWORKS = ("mlflow", "dvc", "dvc_data", "hydra", "omegaconf")


def registry(cfg: dict) -> ChampionRegistry:
    ident = registry_identity(cfg)
    return ChampionRegistry(ident.model_name, alias=ident.alias, previous_alias=ident.previous_alias)


def read(ws: Path, path: Path) -> dict:
    return json.loads((ws / path).read_text())


def test_registry_identity_is_read_from_the_config(cfg):
    cfg["registry"]["model_name"] = "some-model"
    assert registry_identity(cfg) == RegistryIdentity("some-model", "champion", "previous")


def test_registry_identity_refuses_the_keys_it_had_in_promote(cfg):
    cfg["promote"]["alias"] = "prod"  # an earlier params.yaml
    with pytest.raises(ConfigError, match=r"promote\.alias is now registry\.alias"):
        registry_identity(cfg)
    del cfg["promote"]["alias"], cfg["registry"]
    with pytest.raises(ConfigError, match=r"no `registry` group"):
        registry_identity(cfg)


def test_context_of_snapshot_has_no_manifest_and_later_stages_need_one(cfg, workspace):
    ctx = build_context("snapshot", cfg)
    assert (ctx.workspace, ctx.manifest, ctx.cycle_run_id) == (workspace, None, None)
    assert ctx.schema.label == "label" and ctx.experiment_id
    with pytest.raises(DataError, match=r"snapshot manifest .* not found"):
        build_context("drift", cfg)


def test_first_cycle_runs_every_stage_and_registers_champion_v1(cfg, workspace, mlflow_uri):
    add_weeks(workspace, range(1, 7))
    out = run_cycle(cfg)
    manifest = out["snapshot"]
    assert manifest["champion"] is None and manifest["cycle_run_id"]
    assert sum(manifest["source"]["rows_by_window"].values()) == manifest["source"]["rows"]
    assert read(workspace, paths.MANIFEST) == manifest
    assert out["drift"] == read(workspace, paths.DRIFT_JSON)
    assert (workspace / paths.DRIFT_HTML).is_file() and (workspace / paths.DRIFT_COLUMNS).is_file()
    assert out["retrain"]["trained"] is True and out["retrain"]["model_uri"]
    assert out["compare"]["champion_version"] is None and out["compare"]["challenger_trained"] is True
    assert (workspace / paths.PREDICTIONS).is_file()
    assert out["promote"] == read(workspace, paths.DECISION_JSON)
    assert (out["promote"]["promoted"], out["promote"]["first_cycle"], out["promote"]["version"]) == (True, True, "1")
    assert registry(cfg).aliases() == {"champion": "1"}

    # One parent run for the cycle, one child run per stage, the decision on the parent.
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_uri)
    parent = client.get_run(manifest["cycle_run_id"])
    assert parent.data.tags["driftloop.decision"] == out["promote"]["summary"][:5000]
    assert parent.data.metrics["promote.promoted"] == 1.0
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.driftloop.cycle_run_id = '{manifest['cycle_run_id']}'"
    )
    assert sorted(r.data.tags["driftloop.stage"] for r in children) == sorted(STAGES)


def test_second_cycle_compares_against_the_champion_and_records_lineage(cfg, workspace):
    add_weeks(workspace, range(1, 7))
    run_cycle(cfg)
    cache_training_data(workspace)
    add_weeks(workspace, range(7, 11))  # the demo's drifted weeks

    manifest = run_snapshot(cfg)
    assert manifest["champion"]["version"] == "1"
    assert manifest["reference"]["source"].endswith(" v1")
    drift = run_drift(cfg)
    assert drift["dataset"]["drifted"] and "comment" in drift["drifted_columns"]
    assert drift["model_outputs_reference"].startswith("holdout of ")
    train = run_retrain(cfg)
    assert train["trained"] and train["drift_detected"]
    compared = run_compare(cfg)
    assert compared["champion_version"] == "1" and compared["metrics"]
    decision = run_promote(cfg)
    assert decision == read(workspace, paths.DECISION_JSON)
    reg = registry(cfg)
    serving = "2" if decision["promoted"] else "1"
    assert reg.aliases()["champion"] == serving
    if decision["promoted"]:
        lineage = reg.get_version("2").lineage
        assert lineage["driftloop.training_data_md5"] == train["training_data_md5"]
        assert lineage["driftloop.cycle_run_id"] == manifest["cycle_run_id"]


def test_a_cycle_without_drift_trains_nothing_and_promote_has_nothing_to_do(cfg, workspace):
    add_weeks(workspace, range(1, 7))
    run_cycle(cfg)
    cache_training_data(workspace)
    # A cycle whose drift verdict is "no drift": retrain, compare and promote have nothing to do.
    run_snapshot(cfg)
    drift = read(workspace, paths.DRIFT_JSON)
    drift.update(
        dataset={**drift["dataset"], "drifted": False, "verdict": "no drift"}, concept=None, drifted_columns=[]
    )
    (workspace / paths.DRIFT_JSON).write_text(json.dumps(drift))

    train = run_retrain(cfg)
    assert train["trained"] is False and "no challenger this cycle" in train["reason"]
    compared = run_compare(cfg)
    assert compared == {"format": 1, "challenger_trained": False, "reason": train["reason"], "metrics": {}}
    decision = run_promote(cfg)
    assert (decision["promoted"], decision["version"], decision["summary"]) == (False, None, train["reason"])
    reg = registry(cfg)
    assert reg.aliases() == {"champion": "1"}
    assert reg.last_decision()["challenger_trained"] is False


def test_no_stage_module_imports_a_framework():
    for path in sorted(STAGE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in FRAMEWORKS, f"{path.name} imports {name}"


@pytest.mark.parametrize("stage", STAGES)
def test_importing_a_stage_loads_no_framework_and_no_model_library(stage):
    """A stage process pays for MLflow once, when its context opens the store; importing the
    stage itself loads none of the heavy tools (each is imported where it is used)."""
    code = (
        f"import sys, driftloop.stages.{stage}; "
        "print(sorted(m for m in ('mlflow', 'dvc', 'hydra', 'sklearn', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
