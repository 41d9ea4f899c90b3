"""A decision made against a champion that no longer serves: promote refuses it (exit 5), moves
nothing, and rewrites ``data/snapshot/champion.json`` so that the next ``dvc repro`` reruns the cycle
from the snapshot against the new champion (the pipeline-level race: tests/pipeline/test_shared_registry.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftloop import paths
from driftloop.context import registry_identity
from driftloop.errors import RegistryError
from driftloop.promote.cycle_champion import rerun_against
from driftloop.promote.promotion import StaleDecision
from driftloop.promote.registry import ChampionRegistry

from .conftest import add_weeks
from .helpers import cache_training_data, run_compare, run_cycle, run_drift, run_promote, run_retrain, run_snapshot


def read(ws: Path, path: Path) -> dict:
    return json.loads((ws / path).read_text())


def test_a_stale_decision_is_refused_and_the_next_snapshot_takes_the_new_champion(cfg, workspace, mlflow_uri):
    from mlflow import MlflowClient

    ident = registry_identity(cfg)
    name = ident.model_name
    registry = ChampionRegistry(name, alias=ident.alias, previous_alias=ident.previous_alias)
    add_weeks(workspace, range(1, 7))
    run_cycle(cfg)
    cache_training_data(workspace)
    assert read(workspace, paths.CYCLE_CHAMPION) == {
        "model_name": name,
        "alias": "champion",
        "version": None,
        "written_by": "snapshot",
    }
    add_weeks(workspace, range(7, 11))
    assert run_snapshot(cfg)["champion"]["version"] == "1"
    assert read(workspace, paths.CYCLE_CHAMPION)["version"] == "1"
    run_drift(cfg)
    assert run_retrain(cfg)["trained"]
    assert run_compare(cfg)["champion_version"] == "1"

    # Meanwhile another cycle (another project on this registry) promoted its version 2: here, v1's
    # model registered again, with its lineage, by hand.
    client = MlflowClient(mlflow_uri)
    v1 = client.get_model_version(name, "1")
    v2 = client.create_model_version(name, v1.source, tags=dict(v1.tags))
    client.set_registered_model_alias(name, "champion", v2.version)
    decision_before = read(workspace, paths.DECISION_JSON)

    with pytest.raises(StaleDecision) as refused:
        run_promote(cfg)
    assert isinstance(refused.value, RegistryError) and refused.value.exit_code == 5
    assert str(refused.value) == (
        f"The 'champion' alias of {name!r} moved from version 1 to 2 since the comparison was made; "
        "this decision is stale; the next `dvc repro` re-runs the cycle against version 2."
    )
    assert registry.aliases()["champion"] == "2"
    assert len(client.search_model_versions(f"name='{name}'")) == 2, "the stale challenger was registered"
    assert read(workspace, paths.DECISION_JSON) == decision_before
    rewritten = read(workspace, paths.CYCLE_CHAMPION)
    assert (rewritten["version"], rewritten["stale_version"], rewritten["written_by"]) == ("2", "1", "promote")

    # The rerun the rewritten file triggers: the snapshot takes version 2, and the cycle completes.
    assert run_snapshot(cfg)["champion"]["version"] == "2"
    assert read(workspace, paths.CYCLE_CHAMPION)["version"] == "2"
    run_drift(cfg)
    run_retrain(cfg)
    assert run_compare(cfg)["champion_version"] == "2"
    decision = run_promote(cfg)
    assert decision["previous_version"] == "2"
    assert registry.aliases()["champion"] == ("3" if decision["promoted"] else "2")


def test_an_experiment_copy_is_left_as_it_is(tmp_path):
    """In a `dvc exp run --temp` copy, DVC discards the failed experiment: nothing to rewrite."""
    copy, root = tmp_path / "exp-copy", tmp_path / "project"
    stale = StaleDecision("m", "champion", "1", "2", ". Rerun the cycle to compare against the current champion.")
    assert str(rerun_against(copy, root, stale)) == str(stale)
    assert not (copy / paths.CYCLE_CHAMPION).exists()


def test_a_champion_removed_since_is_named(tmp_path):
    stale = StaleDecision("m", "champion", "1", None, ".")
    message = str(rerun_against(tmp_path, tmp_path, stale))
    assert message.endswith(
        "this decision is stale; the next `dvc repro` re-runs the cycle against no champion (the alias was removed)."
    )
    assert read(tmp_path, paths.CYCLE_CHAMPION)["version"] is None
