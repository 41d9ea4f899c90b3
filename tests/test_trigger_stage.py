"""``train.trigger`` through the real retrain stage (issue 16, item 2): a cycle with no drift but an
old champion retrains when ``champion_age`` fires, and a cycle where nothing fires records its drift
evaluation and which trigger stopped it.

The stage fixtures of tests/stages: the demo's weekly batches, the project's conf/, a DVC
repository and MLflow on a sqlite file; real scikit-learn models.
"""

from __future__ import annotations

import json
from pathlib import Path

from driftloop import paths
from driftloop.train.trigger import TriggerFacts, _age_days
from tests.stages.conftest import add_weeks, cfg, workspace  # noqa: F401 - fixtures used by name
from tests.stages.helpers import cache_training_data, run_cycle, run_retrain, run_snapshot


def read(ws: Path, path: Path) -> dict:
    return json.loads((ws / path).read_text())


def calm_second_cycle(ws: Path, cfg: dict) -> dict:  # noqa: F811 - cfg is the fixture's value
    """A first cycle (champion v1), then a second snapshot whose drift report says "no drift"
    (the verdict set by hand, as in tests/stages/test_stages.py); returns the manifest."""
    add_weeks(ws, range(1, 7), rows=80)
    run_cycle(cfg)
    cache_training_data(ws)
    manifest = run_snapshot(cfg)
    from tests.stages.helpers import run_drift

    run_drift(cfg)
    drift = read(ws, paths.DRIFT_JSON)
    drift.update(dataset={**drift["dataset"], "drifted": False, "verdict": "no drift"}, concept=None)
    drift["drifted_columns"] = []
    (ws / paths.DRIFT_JSON).write_text(json.dumps(drift))
    return manifest


def test_a_calm_cycle_retrains_when_the_champion_is_old_and_says_which_trigger_stopped_it(cfg, workspace):  # noqa: F811
    manifest = calm_second_cycle(workspace, cfg)
    facts = TriggerFacts.from_manifest(manifest)
    age = _age_days(facts.champion_data_end, facts.current_end)
    assert manifest["champion"]["version"] == "1" and age is not None and age > 1

    # Nothing fires: the champion is younger than the threshold, and too few rows arrived.
    young = {"champion_age": {"days": round(age + 30)}}
    cfg["train"]["trigger"] = ["on_drift", young, {"new_rows": {"min": 10**6}}]
    skipped = run_retrain(cfg)
    assert skipped == read(workspace, paths.TRAIN_JSON)
    assert skipped["trained"] is False and "fired_by" not in skipped
    assert skipped["drift_detected"] is False  # the drift evaluation is still recorded
    assert skipped["trigger"] == f"any(on_drift, champion_age(days={round(age + 30)}), new_rows(min=1000000))"
    assert skipped["reason"] == (
        f"no trigger fired against {cfg['registry']['model_name']} v1's training data (train.trigger "
        f"{skipped['trigger']}): on_drift: no drift detected; champion_age: {age:.3g} days < {round(age + 30)}; "
        f"new_rows: {facts.new_rows} rows < 1000000: no challenger this cycle"
    )

    # The same calm cycle with a champion older than the threshold: champion_age fires and it trains.
    cfg["train"]["trigger"] = {"any": ["on_drift", {"champion_age": {"days": 1}}]}
    trained = run_retrain(cfg)
    assert trained == read(workspace, paths.TRAIN_JSON)
    assert trained["trained"] is True and trained["model_uri"] and "reason" not in trained
    assert trained["drift_detected"] is False
    assert trained["trigger"] == "any(on_drift, champion_age(days=1))"
    assert trained["fired_by"] == f"champion_age: {age:.3g} days >= 1"
