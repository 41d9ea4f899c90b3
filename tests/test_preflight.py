"""A config naming a column, metric or class the table lacks is refused before any training."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import compose
from driftloop.errors import ConfigError
from driftloop.preflight import check_config, config_problems
from driftloop.schema import Schema

CONF = Path(__file__).resolve().parents[1] / "conf"

CLASSIFIER = Schema(
    id="id",
    timestamp="ts",
    label="label",
    numeric=("stars",),
    categorical=("channel",),
    task="classification",
    classes=("negative", "positive"),
)
REGRESSOR = Schema(id="id", timestamp="ts", label="price", numeric=("area",), categorical=("city",), task="regression")


def rules(*names: str, kind: str = "min_gain") -> dict:
    return {"promote": {"rules": [{"metric": n, kind: 0.0} for n in names]}}


@pytest.mark.parametrize(("schema", "option"), [(CLASSIFIER, "classification"), (REGRESSOR, "regression")])
def test_the_shipped_task_defaults_fit_their_task(schema, option):
    cfg = compose([f"compare={option}", f"promote={option}"], conf_dir=CONF)
    cfg["model"]["task"] = schema.task
    assert config_problems(cfg, schema) == []


def test_the_classification_defaults_do_not_fit_a_regression_table_and_the_message_says_what_to_do():
    cfg = compose(["compare=classification", "promote=classification"], conf_dir=CONF)
    with pytest.raises(ConfigError) as err:
        check_config(cfg, REGRESSOR)
    message = str(err.value)
    assert "promote.rules[0].metric is 'f1_macro': not a regression metric" in message
    assert "['rmse', 'mae', 'r2']" in message
    assert "driftloop params compare=regression promote=regression" in message
    assert "model.task is 'classification' but data.schema.task is 'regression'" in message


@pytest.mark.parametrize(
    ("cfg", "classes", "expected"),
    [
        (rules("recall_neutral", kind="max_regression"), (), "a class this table does not have"),
        (rules("recall_neutral", kind="max_regression"), ("neutral",), None),  # seen in the data
        (rules("recall_*", kind="max_regression"), (), None),
        (rules("precision_x*", kind="max_regression"), (), "promote.rules[0].metric is 'precision_x*'"),
        (rules("f1_macro", "rmse"), (), "promote.rules[1].metric is 'rmse': not a classification metric"),
        ({"compare": {"slices": ["channel", "product_area"]}}, (), "compare.slices names column 'product_area'"),
    ],
    ids=["unknown-class", "class-seen-in-data", "glob", "glob-matching-nothing", "other-task-metric", "slice-column"],
)
def test_each_reference_is_checked(cfg, classes, expected):
    problems = config_problems(cfg, CLASSIFIER, classes)
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and expected in problems[0], problems


def test_a_performance_drop_trigger_is_refused_for_a_regression_target():
    """performance_drop reads a classifier's accuracy/f1_macro (measured or CBPE-estimated): on a
    regression table it could never fire, so the first stage says so rather than a silent 'cannot tell'."""
    trigger = {"any": ["on_drift", {"performance_drop": {"min_drop": 0.05}}]}
    problems = config_problems({"train": {"trigger": trigger}}, REGRESSOR)
    assert len(problems) == 1 and problems[0].startswith("train.trigger uses performance_drop"), problems
    assert config_problems({"train": {"trigger": trigger}}, CLASSIFIER) == []  # the control
    assert config_problems({"train": {"trigger": ["on_drift", "champion_age"]}}, REGRESSOR) == []
