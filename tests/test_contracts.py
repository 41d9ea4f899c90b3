"""The stage-file contracts (driftloop.contracts): round trips, format versions, the generated doc,
and the tag names defined once (driftloop.tags)."""

from __future__ import annotations

import json

import pytest

from driftloop import contracts
from driftloop.contracts import (
    ChampionEntry,
    CompareResult,
    DecisionRecord,
    DriftResult,
    Gate,
    Manifest,
    MetricEntry,
    TrainResult,
)
from driftloop.errors import DataError

MANIFEST = {
    "format": 1,
    "cycle_run_id": "run1",
    "created": "2026-11-30T10:00:00+00:00",
    "champion": {"name": "m", "alias": "champion", "version": "3", "uri": "models:/m/3"},
    "source": {"path": "incoming", "batches": ["a.parquet"], "rows": 10, "rows_by_window": {"reference": 6}},
    "schema": {"columns": {"x": "float64"}, "x": "numeric"},
    "reference": {"rows": 6, "start": "a", "end": "b", "source": "champion", "md5": "r" * 32, "champion": None},
    "current": {"rows": 4, "start": "c", "end": "d", "md5": "c" * 32},
    "skipped": {"rows": 0},
    "late": {"rows": 0},
    "new_registry": None,
}
TRAIN_SKIPPED = {
    "format": 1,
    "trained": False,
    "trigger": "on_drift",
    "drift_detected": False,
    "concept_drift_detected": False,
    "model": "logreg",
    "window": {"n_train": 8, "n_validation": 2, "n_holdout": 3},
    "rows": {"train": 8, "validation": 2, "holdout": 3},
    "training_data_md5": "t" * 32,
    "training_data_path": "data/train/training.parquet",
    "holdout_md5": "h" * 32,
    "holdout_path": "data/train/holdout.parquet",
    "reason": "no drift detected",
}
TRAIN_FITTED = {
    **{k: v for k, v in TRAIN_SKIPPED.items() if k != "reason"},
    "trained": True,
    "model_uri": "models:/m-abc",
    "run_id": "run2",
    "classes": ["neg", "pos"],
    "validation_metrics": {"accuracy": 0.9},
    "train_metrics": {"accuracy": 0.95},
}
DRIFT = {
    "format": 1,
    "dataset": {"drifted": True, "share_drifted": 0.5, "verdict": "drift"},
    "concept": {"drifted": False},
    "columns": {"x": {"kind": "numeric", "drifted": True, "tests": {}}},
    "skipped": {"rows": 0},
    "drifted_columns": ["x"],
    "model_outputs_reference": None,
}
COMPARE = {
    "format": 1,
    "task": "classification",
    "confidence": 0.95,
    "n_holdout": 3,
    "metrics": {"accuracy": {"champion": 0.8, "challenger": 0.9, "delta": 0.1, "greater_is_better": True}},
    "challenger_trained": True,
    "challenger_uri": "models:/m-abc",
    "champion_uri": "models:/m/3",
    "champion_version": "3",
}
COMPARE_SKIPPED = {"format": 1, "challenger_trained": False, "reason": "no challenger", "metrics": {}}
DECISION = {
    "format": 1,
    "promoted": False,
    "first_cycle": False,
    "model_name": "m",
    "version": "4",
    "previous_version": "3",
    "gates": [
        {
            "name": "min_gain.f1",
            "passed": False,
            "detail": "gain -0.01 < 0",
            "mode": "enforce",
            "reason": None,
            "evidence": {"champion": 0.8, "challenger": 0.79},
        },
        {
            "name": "drift_resolved.training_data",
            "passed": False,
            "detail": "x still drifts",
            "mode": "advisory",
            "reason": "trend: known",
            "evidence": {},
        },
    ],
    "summary": "Rejected: 1 of 1 enforced gates failed.",
    "run_id": "r4",
    "registry": "sqlite:////p/mlflow.db",
    "new_registry": None,
}

CASES = [
    (Manifest, MANIFEST),
    (TrainResult, TRAIN_SKIPPED),
    (TrainResult, TRAIN_FITTED),
    (DriftResult, DRIFT),
    (CompareResult, COMPARE),
    (CompareResult, COMPARE_SKIPPED),
    (DecisionRecord, DECISION),
]
IDS = ["manifest", "train-skipped", "train-fitted", "drift", "compare", "compare-skipped", "decision"]


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_each_contract_round_trips_key_order_included(cls, data):
    record = cls.from_dict(data)
    assert json.dumps(record.to_dict()) == json.dumps(data)
    assert cls.from_dict(record.to_dict()) == record


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_the_previous_format_without_a_format_key_is_read(cls, data):
    old = {k: v for k, v in data.items() if k != "format"}
    assert cls.from_dict(old) == cls.from_dict(data)


@pytest.mark.parametrize(("cls", "data"), CASES, ids=IDS)
def test_a_newer_format_is_refused_naming_the_file_and_what_to_do(cls, data):
    with pytest.raises(DataError, match=rf"{cls.FILE} has format 2, newer .*Upgrade driftloop, or rerun"):
        cls.from_dict({**data, "format": cls.FORMAT + 1})


def test_readers_use_the_typed_fields():
    manifest = Manifest.from_dict(MANIFEST)
    assert manifest.champion == ChampionEntry.of("m", "champion", 3)
    assert (manifest.rows("current"), manifest.rows("skipped"), manifest.md5("reference")) == (4, 0, "r" * 32)
    train = TrainResult.from_dict(TRAIN_FITTED)
    assert (train.validation_metric("accuracy"), train.split_rows("validation")) == (0.9, 2)
    drift = DriftResult.from_dict(DRIFT)
    assert (drift.drifted, drift.share_drifted, drift.concept_drifted, drift.drifted_columns) == (
        True,
        0.5,
        False,
        ("x",),
    )
    compare = CompareResult.from_dict(COMPARE)
    assert (compare.task, compare.n_holdout, compare.metric("accuracy").delta) == ("classification", 3, 0.1)


def test_compare_metric_entries_are_typed_and_the_json_stays_as_written():
    entry = {
        "champion": 0.7,
        "challenger": 0.8,
        "delta": 0.1,
        "ci_low": 0.02,
        "ci_high": 0.18,
        "challenger_se": 0.01,
        "champion_se": 0.01,
        "p_value": 0.01,
        "test": "mcnemar",
        "greater_is_better": True,
        "ci_method": "paired_bootstrap",
    }
    data = {**COMPARE, "metrics": {"f1": entry, "old": {"challenger": 0.5}}}
    compare = CompareResult.from_dict(data)
    assert compare.metric("f1") == MetricEntry(**entry)
    assert (compare.metric("f1").value("challenger"), compare.metric("f1").p_value) == (0.8, 0.01)
    # A key an older file lacks reads as None; an absent metric as an entry of Nones.
    assert compare.metric("old") == MetricEntry(challenger=0.5) and compare.metric("nope") == MetricEntry()
    assert json.dumps(compare.to_dict()) == json.dumps(data)
    assert compare.gate_view()["metrics"] == data["metrics"]  # the pure gates read plain mappings


def test_a_decision_reads_its_gates_typed_and_the_registry_record_too():
    decision = DecisionRecord.from_dict(DECISION)
    assert decision.failed == (
        Gate("min_gain.f1", False, "gain -0.01 < 0", evidence={"champion": 0.8, "challenger": 0.79}),
    )
    assert decision.gates[1].mode == "advisory" and not decision.gates[1].blocking
    # The registry's last-decision tag: decision.json's keys without model_name, plus the run.
    tag = {k: v for k, v in DECISION.items() if k not in ("format", "model_name", "previous_version")}
    last = DecisionRecord.from_dict({**tag, "run_id": "r1"})
    assert (last.promoted, last.version, last.model_name, len(last.gates)) == (False, "4", None, 2)
    assert DecisionRecord.from_dict({"summary": "truncated tag text"}).summary == "truncated tag text"


def test_an_older_manifest_reads_its_champion_through_the_reference_lineage():
    old = {"reference": {"champion": {"model_name": "m", "version": "4"}}}
    assert Manifest.from_dict(old).champion == ChampionEntry("m", "4", None, "models:/m/4")
    with pytest.raises(DataError, match="records no champion"):
        Manifest.from_dict({"cycle_run_id": "abc"})


def test_docs_contracts_md_is_generated_from_the_dataclasses():
    current = contracts.DOC.read_text(encoding="utf-8")
    assert contracts.render_doc(current) == current, "docs/CONTRACTS.md is stale: python -m driftloop.contracts --write"


def test_docs_contracts_md_names_no_missing_source_file():
    import re

    root = contracts.DOC.parents[1]
    for path in re.findall(r"`?(src/driftloop/[\w/]+\.py)", contracts.DOC.read_text(encoding="utf-8")):
        assert (root / path).is_file(), path


def test_tag_names_are_defined_once_and_old_names_still_read():
    from driftloop import tags
    from driftloop.promote import lineage_tags

    assert lineage_tags.TAG_HOLDOUT_MD5 is tags.TAG_HOLDOUT_MD5 == tags.TAG_RUN_HOLDOUT_MD5
    assert tags.read_tag({"driftloop.holdout_md5": "h"}, tags.TAG_HOLDOUT_MD5) == "h"
    assert lineage_tags.parse_lineage({"driftloop.holdout_md5": "h"}) == {tags.TAG_HOLDOUT_MD5: "h"}


def test_no_tag_name_literal_outside_the_tags_module():
    import re
    from pathlib import Path

    import driftloop

    src = Path(driftloop.__file__).parent
    found = []
    for path in src.rglob("*.py"):
        if path.name == "tags.py" or path.parts[-2:] == ("promote", "cli.py"):
            continue  # promote/cli.py: its "driftloop.decision" literal is left to the registry-config change
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            doctest = line.strip().startswith((">>>", "{"))  # doctest examples show the names
            if (
                re.search(r"""["']driftloop\.[a-z_]+(\.[a-z_]+)*\.?["']""", line)
                and not doctest
                and "import" not in line
            ):
                found.append(f"{path.relative_to(src)}:{n}: {line.strip()}")
    assert not found, "tag names belong in driftloop/tags.py:\n" + "\n".join(found)


def test_logged_challenger_is_the_fitted_model_or_a_data_error():
    assert TrainResult.from_dict(TRAIN_FITTED).logged_challenger() == ("models:/m-abc", "run2")
    with pytest.raises(DataError, match=r"records no logged challenger"):
        TrainResult.from_dict(TRAIN_SKIPPED).logged_challenger()
    with pytest.raises(DataError, match=r"run_id=None"):
        TrainResult.from_dict({**TRAIN_FITTED, "run_id": None}).logged_challenger()
