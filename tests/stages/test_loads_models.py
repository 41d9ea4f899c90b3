"""``driftloop.stages.model_hints.loads_models``: true exactly when the stage will load or save a model, so that
:func:`driftloop.stages.import_model_tools` runs before MLflow is imported (issue 12, fixed cost).

A wrong ``True`` costs a stage a needless scikit-learn import; a wrong ``False`` only the old,
slower import order. Neither changes what a stage computes, which the stage tests hold.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.config import compose
from driftloop.stages.model_hints import loads_models

from .helpers import ROOT

CHAMPION = {"model_name": "m", "alias": "champion", "version": "1"}


@pytest.fixture(scope="module")
def cfg() -> dict:
    return compose([], conf_dir=ROOT / "conf")


def put(ws: Path, relative: str, data: object) -> None:
    (ws / relative).parent.mkdir(parents=True, exist_ok=True)
    (ws / relative).write_text(json.dumps(data) if not isinstance(data, str) else data)


def with_task(cfg: dict, task: str) -> dict:
    out = json.loads(json.dumps(cfg))
    out["data"]["schema"]["task"] = task
    return out


@pytest.mark.parametrize(
    ("champion", "task", "expected"),
    [(CHAMPION, "classification", True), (None, "classification", False), (CHAMPION, "regression", False)],
    ids=["classification-champion", "first-cycle", "regression"],
)
def test_drift_loads_the_champion_only_for_a_classification_champion(tmp_path, cfg, champion, task, expected):
    put(tmp_path, "data/snapshot/manifest.json", {"champion": champion})
    assert loads_models("drift", tmp_path, with_task(cfg, task)) is expected


@pytest.mark.parametrize(
    ("trained", "expected"), [(True, True), (False, False)], ids=["challenger-trained", "no-challenger"]
)
def test_compare_loads_models_when_a_challenger_was_trained(tmp_path, cfg, trained, expected):
    put(tmp_path, "reports/train.json", {"trained": trained})
    assert loads_models("compare", tmp_path, cfg) is expected


@pytest.mark.parametrize(
    ("champion", "drifted", "trigger", "expected"),
    [
        (CHAMPION, False, "on_drift", False),
        (CHAMPION, True, "on_drift", True),
        (None, False, "on_drift", True),
        (CHAMPION, False, "always", True),
    ],
    ids=["calm", "drifted", "first-cycle", "always"],
)
def test_retrain_saves_a_model_exactly_when_it_will_train(tmp_path, cfg, champion, drifted, trigger, expected):
    put(tmp_path, "data/snapshot/manifest.json", {"champion": champion})
    put(tmp_path, "reports/drift.json", {"dataset": {"drifted": drifted}})
    cfg = {**cfg, "train": {**cfg["train"], "trigger": trigger}}
    assert loads_models("retrain", tmp_path, cfg) is expected


@pytest.mark.parametrize("champion", [CHAMPION, None], ids=["champion", "first-cycle"])
@pytest.mark.parametrize("trigger", ["on_drift", "always"])
@pytest.mark.parametrize(
    "dataset",
    [
        {"drifted": True},
        {"drifted": False, "verdict": "no drift"},
        {"drifted": False, "verdict": "too few rows"},
    ],
    ids=["drifted", "calm", "too-few-rows"],
)
@pytest.mark.parametrize("concept", [True, False], ids=["concept", "no-concept"])
def test_the_retrain_hint_agrees_with_the_trigger(tmp_path, cfg, champion, trigger, dataset, concept):
    """The hint restates skip_reason's rule without importing driftloop.train: they must agree."""
    from driftloop.train.trigger import skip_reason

    report = {"dataset": dataset, "concept": {"drifted": concept}}
    put(tmp_path, "data/snapshot/manifest.json", {"champion": champion})
    put(tmp_path, "reports/drift.json", report)
    will_train = skip_reason(report, trigger, "m v1" if champion else None) is None
    assert loads_models("retrain", tmp_path, {**cfg, "train": {**cfg["train"], "trigger": trigger}}) is will_train


@pytest.mark.parametrize("stage", ["snapshot", "drift", "retrain", "compare", "promote"])
def test_missing_or_corrupt_inputs_are_no_hint_and_no_error(tmp_path, cfg, stage):
    assert loads_models(stage, tmp_path, cfg) is False  # nothing there: the stage itself will say what is missing
    for relative in ("data/snapshot/manifest.json", "reports/drift.json", "reports/train.json"):
        put(tmp_path, relative, "{not json")
    assert loads_models(stage, tmp_path, cfg) is False


def test_the_hints_import_neither_mlflow_nor_scikit_learn(tmp_path):
    """The point of the hint is to run before MLflow is imported: it must not import it itself."""
    code = (
        "import sys, json; from pathlib import Path; from driftloop.config import compose;"
        "from driftloop.stages.model_hints import loads_models;"
        f"cfg = compose([], conf_dir=Path({str(ROOT / 'conf')!r}));"
        f"ws = Path({str(tmp_path)!r});"
        "assert all(loads_models(s, ws, cfg) for s in ('drift', 'retrain', 'compare'));"
        "print(json.dumps(sorted(m for m in ('mlflow', 'sklearn', 'skops') if m in sys.modules)))"
    )
    put(tmp_path, "data/snapshot/manifest.json", {"champion": CHAMPION})
    put(tmp_path, "reports/drift.json", {"dataset": {"drifted": True}})
    put(tmp_path, "reports/train.json", {"trained": True})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
