"""`driftloop params OVERRIDES` writes the overrides into conf/, and the params.yaml check is cheap."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop import config
from driftloop.config import check_params, compose, persist_overrides, write_params
from driftloop.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_group_choices_and_keys_are_written_into_conf_keeping_its_comments(project):
    overrides = ["model=hgb", "train.window_days=14", "compare.slices=[channel]"]
    wanted = compose(overrides)
    cfg = write_params(overrides)
    text = (project / "conf" / "config.yaml").read_text()
    assert "  - model: hgb\n" in text and "data comes last on purpose" in text
    assert "override model" not in text  # nothing later overrides model: the plain entry is enough
    assert cfg == wanted == compose([])  # conf/ alone now composes to what the overrides gave
    assert check_params() == cfg
    # Recomposing without overrides keeps them (they live in conf/ now), and setting a key again
    # replaces it rather than adding a second one.
    write_params(["train.window_days=10"])
    assert compose([])["train"]["window_days"] == 10 and compose([])["model"]["name"] == "hgb"
    assert (project / "conf" / "config.yaml").read_text().count("window_days") == 1


def test_a_choice_the_data_config_overrides_is_written_as_an_override(project):
    # conf/data/feedback.yaml picks promote: feedback; the command line wins over it, so must conf/.
    write_params(["promote=classification"])
    assert "  - override promote: classification\n" in (project / "conf" / "config.yaml").read_text()
    assert compose([])["promote"]["rules"][0]["min_gain"] == 0.005
    write_params(["promote=feedback"])
    assert compose([])["promote"]["rules"][0]["min_gain"] == 0.01
    # conf/data/feedback.yaml names the demo's model (registry: feedback); the command line wins there too.
    write_params(["registry=default"])
    assert "  - override registry: default\n" in (project / "conf" / "config.yaml").read_text()
    assert compose([])["registry"]["model_name"] == "driftloop-model"
    write_params(["registry=feedback"])
    assert compose([])["registry"]["model_name"] == "driftloop-sentiment"


@pytest.mark.parametrize("override", ["~train.window_days", "train.window_days=7,14", "model@foo=hgb"])
def test_what_cannot_be_written_into_conf_is_refused_and_conf_is_untouched(project, override):
    before = (project / "conf" / "config.yaml").read_text()
    with pytest.raises(ConfigError):
        persist_overrides([override])
    assert (project / "conf" / "config.yaml").read_text() == before


def test_a_fresh_params_yaml_is_checked_without_composing(project, monkeypatch):
    write_params([])

    def no_compose(*args, **kwargs):
        raise AssertionError("check_params composed conf/ for a fresh params.yaml")

    monkeypatch.setattr(config, "compose", no_compose)
    assert check_params()["model"]["name"] == "logreg_tfidf"


def test_the_committed_params_yaml_is_checked_without_composing(monkeypatch):
    """The repository's own params.yaml (copied by the demo and every scaffold) carries the digests
    of conf/ and of its body: a stale digest costs every stage a Hydra compose (~0.5 s)."""
    monkeypatch.chdir(ROOT)
    _, _, digests = config._read(ROOT / "params.yaml")
    assert digests.get("conf") == config.conf_digest(ROOT / "conf"), "conf/ changed: run `driftloop params`"
    assert digests["body_ok"], "params.yaml's body was edited after composing: run `driftloop params`"


def test_a_comment_edit_in_conf_is_accepted_after_composing(project):
    write_params([])
    path = project / "conf" / "train" / "sliding.yaml"
    path.write_text(path.read_text() + "# a note\n")
    assert check_params()["train"]["window_days"] == 21


def test_params_yaml_without_header_is_refused_outside_experiments_naming_key_overrides(project):
    from omegaconf import OmegaConf

    (project / "params.yaml").write_text(
        OmegaConf.to_yaml(OmegaConf.create(compose(["model=hgb", "train.window_days=9"])))
    )
    with pytest.raises(ConfigError, match=r"Run `driftloop params model=hgb train.window_days=9` to keep"):
        check_params()
