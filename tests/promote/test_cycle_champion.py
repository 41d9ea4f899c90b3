"""A cycle compares against the champion that served when it started, and status shows its outcome.

Stage functions (``run_snapshot``, ``run_compare``, ``run_promote``) run in a temporary
workspace against a real MLflow sqlite registry with real scikit-learn models; the
workspace files the earlier stages would have written are written here, small.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop import paths
from driftloop.champion import champion_record, cycle_champion
from driftloop.config import compose
from driftloop.errors import ConfigError, DataError
from driftloop.io import write_json
from driftloop.promote.cli import status_command
from driftloop.promote.lineage_tags import build_lineage_tags
from driftloop.promote.registry import ChampionRegistry

ROOT = Path(__file__).resolve().parents[2]
NAME = "cycle-model"
SCHEMA = {
    "id": "id",
    "timestamp": "timestamp",
    "label": "label",
    "task": "classification",
    "classes": ["neg", "pos"],
    "numeric": ["x1", "x2"],
    "categorical": [],
    "text": [],
}
FEATURES = ["x1", "x2"]
NO_CHALLENGER = "no drift detected against the champion's training data: no challenger this cycle"


def rows(n: int, first_day: float, seed: int) -> pd.DataFrame:
    """Labelled rows spread over the 7 days from ``first_day``; the label follows x1."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(2, n))
    days = first_day + np.sort(rng.uniform(0, 7, n))
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(n)],
            "timestamp": pd.Timestamp("2026-01-05") + pd.to_timedelta(days, unit="D"),
            "x1": x1,
            "x2": x2,
            "label": np.where(x1 + 0.3 * rng.normal(size=n) > 0, "pos", "neg"),
        }
    )


@pytest.fixture
def cfg(tmp_path, monkeypatch, mlflow_uri) -> dict:
    """The project's composed config on a small numeric table, run in ``tmp_path/ws``."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    cfg = compose(["compare=classification", "promote=classification"], conf_dir=ROOT / "conf")
    cfg["data"]["schema"] = dict(SCHEMA)
    cfg["data"]["source"] = {"path": "data/incoming", "format": "parquet"}
    cfg["drift"]["multivariate"]["enabled"] = False
    cfg["registry"]["model_name"] = NAME
    cfg["compare"]["n_bootstrap"] = 200
    return cfg


def log_model(y_from: str, seed: int) -> tuple[str, str]:
    """A LogisticRegression on x1, x2 whose labels follow ``y_from``; returns (model URI, run id)."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    train = rows(400, 0, seed)
    label = np.where(train[y_from] > 0, "pos", "neg")
    model = LogisticRegression().fit(train[FEATURES], label)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=train[FEATURES].head(3), pip_requirements=["scikit-learn"]
        )
    return info.model_uri, run.info.run_id


def registry(cfg) -> ChampionRegistry:
    return ChampionRegistry(NAME, alias=cfg["registry"]["alias"], previous_alias=cfg["registry"]["previous_alias"])


def seed_champion(cfg, md5: str = "c" * 32) -> str:
    """Version 1 as champion (a weak model: it learned x2, the label follows x1); returns its run id."""
    from driftloop.promote.gates import Decision, Gate
    from driftloop.promote.promotion import promote
    from driftloop.tracking import TrackingConfig, configure

    configure(TrackingConfig.from_dict(cfg["tracking"]))
    uri, run_id = log_model("x2", seed=1)
    first = Decision(True, True, (Gate("first_cycle", True, "no champion"),), "Promoted: first cycle.")
    out = promote(
        registry(cfg),
        first,
        uri,
        run_id,
        build_lineage_tags(training_data_md5=md5),
        None,
        Path.cwd() / cfg["promote"]["lock_path"],
    )
    assert out.version == "1"
    return run_id


def write_cycle(cfg, champion_version: str | None, *, trained: bool = True) -> None:
    """What snapshot, drift and retrain leave for compare and promote (a challenger that learned x1)."""
    ws = Path.cwd()
    write_json(
        ws / paths.MANIFEST, {"cycle_run_id": None, "champion": champion_record(NAME, "champion", champion_version)}
    )
    write_json(ws / paths.DRIFT_JSON, {"drifted_columns": [], "dataset": {"drifted": False, "share_drifted": 0.0}})
    holdout = rows(300, 35, seed=7)
    (ws / paths.HOLDOUT).parent.mkdir(parents=True, exist_ok=True)
    holdout.to_parquet(ws / paths.HOLDOUT)
    train = {
        "training_data_md5": "t" * 32,
        "training_data_path": str(paths.TRAINING),
        "holdout_md5": "h" * 32,
        "holdout_path": str(paths.HOLDOUT),
        "rows": {"train": 400, "validation": 200, "holdout": 300},
    }
    if trained:
        from sklearn.metrics import f1_score

        from driftloop.compare import load_model, predict_outputs
        from driftloop.schema import Schema

        uri, run_id = log_model("x1", seed=2)
        validation = rows(200, 28, seed=8)
        pred = predict_outputs(load_model(uri), validation, Schema.from_config(SCHEMA)).pred
        train.update(
            trained=True,
            model_uri=uri,
            run_id=run_id,
            validation_metrics={"f1_macro": f1_score(validation["label"], pred, average="macro")},
        )
    else:
        train.update(trained=False, reason=NO_CHALLENGER)
    write_json(ws / paths.TRAIN_JSON, train)


def read(path) -> dict:
    return json.loads((Path.cwd() / path).read_text())


def test_rerun_after_promotion_compares_against_the_cycles_champion(cfg, capsys):
    from tests.stages.helpers import run_compare, run_promote

    seed_champion(cfg)
    write_cycle(cfg, champion_version="1")
    first = run_compare(cfg)
    assert (first["champion_version"], first["champion_uri"]) == ("1", f"models:/{NAME}/1")
    decision = run_promote(cfg)
    assert (decision["promoted"], decision["version"], decision["previous_version"]) == (True, "2", "1"), decision
    reg = registry(cfg)
    assert reg.aliases() == {"champion": "2", "previous": "1"}

    # `dvc repro` after a compare setting changed: compare and promote rerun for the same cycle.
    again = run_compare(cfg)
    assert again["champion_version"] == "1"  # not version 2, i.e. not the challenger against itself
    assert again["metrics"] == first["metrics"]
    assert run_promote(cfg) == decision
    assert reg.aliases() == {"champion": "2", "previous": "1"}
    assert [(m.action, m.to_version) for m in reg.history()] == [("promote", "1"), ("promote", "2")]
    assert reg.last_decision()["promoted"] is True and reg.last_decision()["version"] == "2"

    # A stricter promote setting: the rerun would now reject the challenger that already serves.
    strict = copy.deepcopy(cfg)
    strict["promote"]["rules"][0]["min_gain"] = 0.9
    rerun = run_promote(strict)
    assert (rerun["promoted"], rerun["version"], rerun["previous_version"]) == (True, "2", "1")
    assert rerun["summary"].startswith("Version 2, this cycle's challenger, already serves")
    assert "driftloop rollback" in rerun["summary"] and "Rejected" in rerun["summary"]
    assert not all(g["passed"] for g in rerun["gates"])
    assert read(paths.DECISION_JSON) == rerun
    assert reg.aliases() == {"champion": "2", "previous": "1"}
    assert len(reg.history()) == 2
    capsys.readouterr()
    (Path.cwd() / "params.yaml").write_text(json.dumps({"registry": {"model_name": NAME}}))
    assert status_command() == 0
    out = capsys.readouterr().out
    assert "version 2" in out
    assert "Last decision: promoted (version 2" in out and "rejected" not in out


def test_first_cycle_rerun_after_promotion_stays_a_first_cycle(cfg):
    from driftloop.tracking import TrackingConfig, configure
    from tests.stages.helpers import run_compare, run_promote

    configure(TrackingConfig.from_dict(cfg["tracking"]))
    write_cycle(cfg, champion_version=None)
    assert run_compare(cfg)["champion_version"] is None
    decision = run_promote(cfg)
    assert (decision["promoted"], decision["first_cycle"], decision["version"]) == (True, True, "1")
    assert run_compare(cfg)["champion_version"] is None
    assert run_promote(cfg) == decision
    assert len(registry(cfg).history()) == 1


def test_cycle_without_challenger_is_the_last_decision(cfg, capsys):
    from tests.stages.helpers import run_compare, run_promote

    seed_champion(cfg)
    reg = registry(cfg)
    assert reg.last_decision()["summary"] == "Promoted: first cycle."  # the earlier cycle's
    write_cycle(cfg, champion_version="1", trained=False)
    run_compare(cfg)
    decision = run_promote(cfg)
    assert (decision["promoted"], decision["version"]) == (False, None)
    last = reg.last_decision()
    assert (last["summary"], last["challenger_trained"], last["promoted"]) == (NO_CHALLENGER, False, False)
    assert reg.aliases() == {"champion": "1"} and len(reg.history()) == 1
    (Path.cwd() / "params.yaml").write_text(json.dumps({"registry": {"model_name": NAME}}))
    capsys.readouterr()
    assert status_command() == 0
    out = capsys.readouterr().out
    assert "Last decision: no challenger this cycle" in out and "no drift detected" in out


def test_cycle_without_challenger_creates_no_registered_model(cfg):
    from driftloop.tracking import TrackingConfig, configure
    from tests.stages.helpers import run_compare, run_promote

    configure(TrackingConfig.from_dict(cfg["tracking"]))
    write_cycle(cfg, champion_version=None, trained=False)
    run_compare(cfg)
    assert run_promote(cfg)["promoted"] is False
    assert registry(cfg).client.search_registered_models() == []


def test_experiment_without_challenger_leaves_the_last_decision(cfg, monkeypatch):
    from tests.stages.helpers import run_compare, run_promote

    seed_champion(cfg)
    write_cycle(cfg, champion_version="1", trained=False)
    run_compare(cfg)
    monkeypatch.setenv("DVC_EXP_NAME", "try-something")  # promote.in_experiments: skip
    run_promote(cfg)
    assert registry(cfg).last_decision()["summary"] == "Promoted: first cycle."


def test_snapshot_records_the_serving_champion_in_the_manifest(cfg):
    from dvc.repo import Repo

    from driftloop.lineage import file_md5
    from tests.stages.helpers import run_snapshot

    ws = Path.cwd()
    incoming = ws / "data" / "incoming"
    incoming.mkdir(parents=True)
    for week in range(6):
        rows(100, 7 * week, seed=20 + week).to_parquet(incoming / f"week-{week + 1:02d}.parquet")
    Repo.init(str(ws), no_scm=True).close()

    first = run_snapshot(cfg)
    assert first["champion"] is None and first["reference"]["champion"] is None

    # The champion's training data (weeks 1-3) in the DVC cache, found through its lineage tag.
    training = pd.concat([pd.read_parquet(incoming / f"week-0{w}.parquet") for w in (1, 2, 3)], ignore_index=True)
    training.to_parquet(ws / "training.parquet")
    md5 = file_md5(ws / "training.parquet")
    with Repo(str(ws)) as repo:
        cached = Path(repo.cache.local.oid_to_path(md5))
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ws / "training.parquet", cached)
    seed_champion(cfg, md5=md5)

    manifest = run_snapshot(cfg)
    assert manifest["champion"] == {"name": NAME, "alias": "champion", "version": "1", "uri": f"models:/{NAME}/1"}
    assert json.loads((ws / paths.MANIFEST).read_text())["champion"] == manifest["champion"]
    assert manifest["reference"]["champion"]["version"] == "1"
    ref = cycle_champion(manifest, NAME)
    assert (ref.version, ref.uri) == ("1", f"models:/{NAME}/1")


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"champion": None}, None),
        ({"champion": champion_record(NAME, "champion", 3)}, "3"),
        # A manifest from before the top-level entry: read through the reference's lineage.
        ({"reference": {"champion": {"model_name": NAME, "version": "4", "training_data_md5": "x"}}}, "4"),
        ({"reference": {"champion": None}}, None),
    ],
    ids=["first-cycle", "recorded", "older-manifest", "older-first-cycle"],
)
def test_cycle_champion_reads_the_manifest(manifest, expected):
    ref = cycle_champion(manifest, NAME)
    assert (None if ref is None else ref.version) == expected
    if ref is not None:
        assert ref.uri == f"models:/{NAME}/{expected}" and ref.alias_uri == f"models:/{NAME}@champion"


def test_cycle_champion_refuses_a_manifest_of_another_model_or_comparison():
    manifest = {"champion": champion_record("other-model", "champion", 2)}
    with pytest.raises(ConfigError, match=r"'other-model'.*rerun the snapshot stage"):
        cycle_champion(manifest, NAME)
    with pytest.raises(DataError, match="records no champion"):
        cycle_champion({"cycle_run_id": "abc"}, NAME)
    mine = {"champion": champion_record(NAME, "champion", 2)}
    with pytest.raises(DataError, match=r"scored champion version 3.*records version 2"):
        cycle_champion(mine, NAME, compared={"challenger_trained": True, "champion_version": "3"})
    assert cycle_champion(mine, NAME, compared={"challenger_trained": True, "champion_version": "2"}).version == "2"
    assert cycle_champion(mine, NAME, compared={"challenger_trained": False}).version == "2"
