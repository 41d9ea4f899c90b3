"""The validators outside the config classes check against the config tables, with the tables' messages."""

from __future__ import annotations

import pytest

from driftloop.drift.config import CORRECTIONS, MULTIVARIATE
from driftloop.drift.config import TOP as DRIFT_TOP
from driftloop.drift.corrections import METHODS, adjust, split_alpha
from driftloop.errors import ConfigError
from driftloop.promote.config import TOP as PROMOTE_TOP
from driftloop.promote.promotion import promote
from driftloop.schema import SCHEMA, Schema

BASE = {"id": "id", "timestamp": "ts", "label": "y", "numeric": ["x"]}


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (
            {**BASE, "task": "ranking"},
            "data.schema.task must be one of ['classification', 'regression']. Got 'ranking'",
        ),
        ({k: v for k, v in BASE.items() if k != "id"}, "data.schema.id is required: a non-empty string."),
        ({**BASE, "colour": 1}, "data.schema has unknown key(s) ['data.schema.colour']"),
        ({**BASE, "numeric": "x"}, "data.schema.numeric must be a list of names or null. Got 'x' instead."),
        ({**BASE, "timestamp": ""}, "data.schema.timestamp must be a non-empty string. Got '' instead."),
    ],
)
def test_schema_keys_are_checked_by_the_table(cfg, message):
    with pytest.raises(ConfigError) as info:
        Schema.from_config(cfg)
    assert message in str(info.value)


def test_schema_defaults_and_cross_key_rules():
    schema = Schema.from_config({**BASE, "label": "", "classes": [0, 1], "text": None})
    assert (schema.label, schema.task, schema.classes, schema.text) == (None, SCHEMA["task"].default, ("0", "1"), ())
    with pytest.raises(ConfigError, match=r"data\.schema\.task must be one of \['classification', 'regression'\]"):
        Schema("id", "ts", "y", numeric=("x",), task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="listed as both numeric and text"):
        Schema.from_config({**BASE, "text": ["x"]})


def test_correction_methods_are_the_config_choices():
    assert set(METHODS) == set(CORRECTIONS) == set(DRIFT_TOP["correction"].choices)
    with pytest.raises(
        ConfigError, match=r"drift\.correction must be one of \['bh', 'bonferroni', 'none'\]\. Got 'holm'"
    ):
        adjust([0.01, 0.2], "holm")
    assert adjust([0.01, None], "none") == [0.01, None]


def test_split_alpha_checks_against_the_drift_tables():
    with pytest.raises(ConfigError, match=rf"drift\.alpha must be {DRIFT_TOP['alpha'].expected()}\. Got 1\.5"):
        split_alpha(1.5, 0.5)
    expected = MULTIVARIATE["alpha_share"].expected().replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ConfigError, match=rf"drift\.multivariate\.alpha_share must be {expected}\. Got -0\.1"):
        split_alpha(0.05, -0.1)


def test_promote_on_reject_uses_the_promote_table():
    expected = PROMOTE_TOP["on_reject"].expected().replace("[", r"\[").replace("]", r"\]")
    with pytest.raises(ConfigError, match=rf"promote\.on_reject must be {expected}\. Got 'delete' instead"):
        promote(None, None, "runs:/r/model", "r", {}, None, "lock", on_reject="delete")  # type: ignore[arg-type]
