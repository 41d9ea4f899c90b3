"""The ``registry`` group (model name, alias, previous alias): its validation, and the refusal of the
keys it had in ``promote`` before it became its own group."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import compose
from driftloop.context import registry_identity
from driftloop.errors import ConfigError
from driftloop.preflight import check_config
from driftloop.promote.config import PromoteConfig
from driftloop.registry_config import RENAMED, TABLE, RegistryConfig
from driftloop.schema import Schema

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_defaults_come_from_the_table():
    assert RegistryConfig.from_dict({}) == RegistryConfig("driftloop-model", "champion", "previous")
    assert RegistryConfig.from_dict(None) == RegistryConfig()
    assert [RegistryConfig().__getattribute__(k) for k in TABLE] == [spec.default for spec in TABLE.values()]


def test_accepts_omegaconf():
    from omegaconf import OmegaConf

    cfg = RegistryConfig.from_dict(OmegaConf.create({"model_name": "m", "alias": "prod"}))
    assert (cfg.model_name, cfg.alias, cfg.previous_alias) == ("m", "prod", "previous")


def test_is_frozen():
    with pytest.raises(AttributeError):
        RegistryConfig().alias = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"model": "m"}, r"registry has unknown key\(s\) \['registry\.model'\]"),
        ({"model_name": ""}, r"registry\.model_name must be a non-empty string\. Got '' instead\."),
        ({"model_name": 3}, r"registry\.model_name must be a non-empty string\. Got 3 instead\."),
        ({"alias": None}, r"registry\.alias must be a non-empty string\. Got None instead\."),
        ({"previous_alias": ["p"]}, r"registry\.previous_alias must be a non-empty string"),
        ({"model_name": "it's"}, r"registry\.model_name must be quote-free"),
        ({"alias": "x", "previous_alias": "x"}, r"registry\.alias and registry\.previous_alias must differ"),
        ({"previous_alias": "champion"}, r"must differ\. Got 'champion' for both"),
        ("driftloop-model", r"registry must be a mapping"),
    ],
    ids=[
        "unknown",
        "empty-name",
        "int-name",
        "null-alias",
        "list-previous",
        "quote",
        "same-alias",
        "same-default",
        "scalar",
    ],
)
def test_errors_name_the_key(mapping, match):
    with pytest.raises(ConfigError, match=match):
        RegistryConfig.from_dict(mapping)


@pytest.mark.parametrize("key", list(TABLE))
def test_the_old_promote_key_is_refused_naming_the_registry_key(key):
    assert RENAMED[f"promote.{key}"].startswith(f"registry.{key} ")
    cfg = compose([], conf_dir=CONF)
    cfg["promote"][key] = cfg["registry"][key]  # an earlier params.yaml
    message = rf"promote\.{key} is now registry\.{key} .*conf/registry/.*run `driftloop params`"
    with pytest.raises(ConfigError, match=message):
        PromoteConfig.from_dict(cfg["promote"])
    with pytest.raises(ConfigError, match=message):
        registry_identity(cfg)
    with pytest.raises(ConfigError, match=message):  # the snapshot stage's preflight, before any work
        check_config(cfg, Schema.from_config(cfg["data"]["schema"]))


def test_the_demo_names_its_model_through_its_data_config_and_the_command_line_wins():
    assert registry_identity(compose([], conf_dir=CONF)).model_name == "driftloop-sentiment"
    assert registry_identity(compose(["registry=default"], conf_dir=CONF)).model_name == "driftloop-model"
    assert registry_identity(compose(["registry.alias=prod"], conf_dir=CONF)) == RegistryConfig(
        "driftloop-sentiment", "prod", "previous"
    )
    assert "model_name" not in compose([], conf_dir=CONF)["promote"]
