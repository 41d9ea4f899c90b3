"""docs/config-reference.md is generated from the config tables (driftloop.config_reference): the
committed page is the generated one, and it documents every key of every shipped config option."""

from __future__ import annotations

import re

import pytest

from driftloop import config_reference as ref
from driftloop.config import compose


@pytest.fixture(scope="module")
def values() -> dict:
    """Each shipped option composed on its own, and the default composition of conf/config.yaml."""
    return {**ref.option_values(), ("config", "config"): compose([], conf_dir=ref.CONF)}


def test_the_committed_reference_is_the_generated_one(values):
    committed = ref.DOC.read_text(encoding="utf-8") if ref.DOC.is_file() else ""
    wanted = ref.render({k: v for k, v in values.items() if k != ("config", "config")})
    assert committed == wanted, f"{ref.DOC} is stale: run `{ref.COMMAND}` and commit it."


def test_every_key_of_every_composed_group_is_in_the_reference(values):
    text = ref.DOC.read_text(encoding="utf-8")
    missing = sorted(set(ref.iter_missing(text, values)))
    assert not missing, (
        f"keys composed from conf/ but not in {ref.DOC.name}: {missing}; document them, then run {ref.COMMAND}"
    )
    groups = {dotted.split(".")[0] for cfg in values.values() for dotted in ref.flatten(cfg)}
    assert groups == set(ref.GROUP_ORDER), "a config group is missing from GROUP_ORDER (or has no option)"


def test_every_key_the_guide_names_is_a_config_key():
    """docs/how-it-decides.md names the config key of every number: each must exist."""
    guide = (ref.DOC.parent / "how-it-decides.md").read_text(encoding="utf-8")
    groups = "|".join(ref.GROUP_ORDER)
    pattern = rf"`((?:{groups})\.[\w.<>\[\]]+)`"
    named = set(re.findall(pattern, guide))
    documented = ref.keys()
    unknown = [k for k in sorted(named) if "<kind>" not in k and ref.covering_key(k, documented) is None]
    assert named and not unknown, f"how-it-decides.md names keys the config does not have: {unknown}"


def test_every_documented_key_has_a_doc_line():
    assert [k for k, (spec, _) in ref.keys().items() if not spec.doc] == []


@pytest.mark.parametrize(
    "composed, documented",
    [
        ("drift.columns.price", "drift.columns.<column>.kind"),
        ("drift.columns.price.thresholds", "drift.columns.<column>.thresholds"),
        ("model.estimator.C", "model.estimator"),
        ("drift.numeric.thresholds.psi", "drift.numeric.thresholds.psi"),
        ("train.holdout_days", "train.holdout_days"),
        ("train.no_such_key", None),
    ],
)
def test_a_composed_key_is_covered_by_its_row_or_a_free_form_parent(composed, documented):
    assert ref.covering_key(composed, ref.keys()) == documented


def test_check_names_the_command_when_stale(values, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ref, "option_values", lambda: {k: v for k, v in values.items() if k != ("config", "config")})
    stale = tmp_path / "config-reference.md"
    stale.write_text("old\n", encoding="utf-8")
    monkeypatch.setattr(ref, "DOC", stale)
    assert ref.main(["--check"]) == 1
    assert ref.COMMAND in capsys.readouterr().err
    assert ref.main(["--write"]) == 0
    assert ref.main(["--check"]) == 0
