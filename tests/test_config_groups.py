"""Every option of every config group composes and validates; the shipped base options state the
library's defaults (which live in the validation tables of the config classes, nowhere else)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftloop.compare.config import TABLE as COMPARE
from driftloop.compare.config import CompareConfig
from driftloop.config import compose
from driftloop.drift import config as drift_config
from driftloop.drift.config import DriftConfig
from driftloop.engine import TABLE as ENGINE
from driftloop.engine import EngineConfig
from driftloop.errors import ConfigError
from driftloop.preflight import check_config
from driftloop.promote import config as promote_config
from driftloop.promote.config import PromoteConfig
from driftloop.registry_config import TABLE as REGISTRY
from driftloop.registry_config import RegistryConfig
from driftloop.schema import Schema
from driftloop.train.model import build_model
from driftloop.train.windows import TABLE as TRAIN
from driftloop.train.windows import WindowConfig
from driftloop.validation import defaults

CONF = Path(__file__).resolve().parents[1] / "conf"
GROUPS = sorted(p.name for p in CONF.iterdir() if p.is_dir())
OPTIONS = [(group, p.stem) for group in GROUPS for p in sorted((CONF / group).glob("*.yaml"))]

# The data options that pair with an option of the other task: the shipped data option's table as
# a regression (its numeric `stars` as the label) with that task's compare, promote and model.
PAIRINGS = {
    "classification": [],
    "regression": [
        "data.schema.task=regression",
        "data.schema.classes=[]",
        "compare=regression",
        "promote=regression",
        "model=linear",
    ],
}


def validate(cfg: dict) -> None:
    """Everything a cycle builds from a composed config, without data."""
    from driftloop.tracking import TrackingConfig

    schema = Schema.from_config(cfg["data"]["schema"])
    DriftConfig.from_dict(cfg["drift"])
    CompareConfig.from_dict(cfg["compare"])
    PromoteConfig.from_dict(cfg["promote"])
    RegistryConfig.from_dict(cfg["registry"])
    WindowConfig.from_dict(cfg["train"])
    TrackingConfig.from_dict(cfg["tracking"])
    EngineConfig.from_dict(cfg["engine"])
    build_model(cfg["model"], schema)
    check_config(cfg, schema)


def test_every_group_has_options():
    assert {"compare", "data", "drift", "model", "promote", "registry", "tracking", "train"} <= set(GROUPS)


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_and_validates_with_a_data_option_it_pairs_with(group, option):
    errors = []
    for task, pairing in PAIRINGS.items():
        overrides = [o for o in pairing if o.split("=")[0] != group] + [f"{group}={option}"]
        try:
            validate(compose(overrides, conf_dir=CONF))
            return
        except ConfigError as exc:
            errors.append(f"{task}: {exc}")
    pytest.fail(f"{group}={option} fits no data option: " + " | ".join(errors))


def _load(path: str) -> dict:
    return yaml.safe_load((CONF / path).read_text())


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def test_conf_drift_default_states_every_default_of_the_drift_tables():
    shipped = _load("drift/default.yaml")
    for section, table in drift_config.TABLES.items():
        node = shipped
        for part in filter(None, section.split(".")):
            node = node[part]
        for key, spec in table.items():
            if spec.kind == "mapping" and table is drift_config.TOP:
                continue  # a section, checked with its own table
            assert key in node, f"conf/drift/default.yaml lacks drift.{section}.{key}"
            assert _plain(node[key]) == _plain(spec.default), f"drift.{section}.{key}"


def test_conf_base_options_state_the_defaults_of_their_tables():
    assert {k: _plain(v) for k, v in defaults(COMPARE).items()} == _load("compare/classification.yaml")
    assert defaults(TRAIN) == _load("train/sliding.yaml")
    assert defaults(REGISTRY) == _load("registry/default.yaml")
    assert defaults(ENGINE) == _load("engine/local.yaml")
    promote = _load("promote/classification.yaml")
    top = {k: v for k, v in defaults(promote_config.TOP).items() if v is not None}
    assert top == {k: v for k, v in promote.items() if k in top}
    assert not set(REGISTRY) & set(promote), "the registry identity lives in conf/registry/, not in promote"
    for name, table in (
        ("training_data", promote_config.TRAINING_DATA),
        ("output_labels", promote_config.OUTPUT_LABELS),
        ("validation_gap", promote_config.VALIDATION_GAP),
    ):
        assert defaults(table) == promote["resolution"][name], name


def test_dataclass_defaults_are_the_tables_defaults():
    assert RegistryConfig() == RegistryConfig.from_dict({}) == RegistryConfig.from_dict(_load("registry/default.yaml"))
    assert RegistryConfig().model_name == REGISTRY["model_name"].default == "driftloop-model"
    # The demo names its model on purpose, in its own option, which its data config selects.
    assert _load("registry/feedback.yaml")["model_name"] == "driftloop-sentiment"
    assert {"override /registry@_global_.registry": "feedback"} in _load("data/feedback.yaml")["defaults"]
    assert DriftConfig() == DriftConfig.from_dict({}) == DriftConfig.from_dict(_load("drift/default.yaml"))
    assert CompareConfig() == CompareConfig.from_dict({})
    assert WindowConfig() == WindowConfig.from_dict({}) == WindowConfig.from_dict(_load("train/sliding.yaml"))
