"""params.yaml freshness: a conf/ edit is never silently ignored by plain `dvc repro`."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import check_params, compose, read_params, write_params
from driftloop.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_write_then_check_passes_and_records_overrides(project):
    write_params(["model=hgb"])
    params, overrides = read_params()
    assert overrides == ["model=hgb"]
    assert params == compose(["model=hgb"])
    assert check_params() == params


def test_conf_edit_without_recompose_is_refused_naming_key_and_command(project):
    write_params([])
    import yaml

    path = project / "conf" / "compare" / "classification.yaml"
    data = yaml.safe_load(path.read_text())
    data["n_bootstrap"] = 17
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"compare\.n_bootstrap.*driftloop params"):
        check_params()
    write_params([])
    check_params()


def test_hand_edit_of_params_yaml_is_refused(project):
    write_params([])
    text = (project / "params.yaml").read_text().replace("seed: 0\n", "seed: 7\n", 1)
    (project / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"compare.seed: conf/ gives 0, params.yaml has 7"):
        check_params()


def test_under_dvc_exp_run_params_yaml_composed_by_dvc_is_trusted(project, monkeypatch):
    # `dvc exp run -S compare.seed=7` writes params.yaml itself, from conf/ and the -S overrides,
    # without driftloop's header; DVC sets DVC_EXP_BASELINE_REV for the stages it then runs.
    from omegaconf import OmegaConf

    (project / "params.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(compose(["compare.seed=7"]))))
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc")
    assert check_params()["compare"]["seed"] == 7


def test_under_dvc_exp_run_a_hand_edit_is_still_refused(project, monkeypatch):
    # `dvc exp run` without -S runs on params.yaml as it is: its digest still has to match.
    # (Before, anything was trusted under exp run; a hand edit then ran silently.)
    write_params([])
    text = (project / "params.yaml").read_text().replace("seed: 0\n", "seed: 7\n", 1)
    (project / "params.yaml").write_text(text)
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc")
    with pytest.raises(
        ConfigError,
        match=r"compare.seed: conf/ gives 0, params.yaml has 7.*"
        r"Run `driftloop params compare.seed=7` to keep",
    ):
        check_params()


def test_unknown_override_key_is_a_config_error_naming_it(project):
    with pytest.raises(ConfigError, match="windw"):
        compose(["train.windw=3"])


def test_missing_params_file_names_the_command(project):
    with pytest.raises(ConfigError, match="driftloop params"):
        check_params()


def test_broken_yaml_in_conf_is_a_config_error(project):
    (project / "conf" / "compare" / "classification.yaml").write_text("a: 1\na: 2\n")
    with pytest.raises(ConfigError, match="duplicate key"):
        compose([])


def test_params_from_dvc_exp_apply_suggests_the_group_override(project):
    # `dvc exp apply` of `-S model=hgb` leaves a params.yaml composed by DVC (no header).
    from omegaconf import OmegaConf

    (project / "params.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(compose(["model=hgb"]))))
    with pytest.raises(ConfigError, match=r"Run `driftloop params model=hgb`"):
        check_params()
