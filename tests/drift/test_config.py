"""DriftConfig: defaults match conf/drift/default.yaml, validation names keys, registry errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftloop.drift import TEST_REGISTRY, DriftConfig, UnknownTestError, get_test
from driftloop.drift.registry import names
from driftloop.errors import ConfigError

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "conf" / "drift" / "default.yaml"


def test_yaml_defaults_equal_dataclass_defaults():
    assert DriftConfig.from_dict(yaml.safe_load(DEFAULT_YAML.read_text())) == DriftConfig()


def test_omegaconf_mapping_is_accepted():
    from omegaconf import OmegaConf

    cfg = DriftConfig.from_dict(OmegaConf.create({"alpha": 0.01, "numeric": {"thresholds": {"psi": 0.2}}}))
    assert cfg.alpha == 0.01 and cfg.kind("numeric").threshold("psi") == 0.2


@pytest.mark.parametrize(
    "mapping, match",
    [
        ({"alpah": 0.1}, r"drift\.alpah"),
        ({"numeric": {"n_binz": 3}}, r"drift\.numeric\.n_binz"),
        ({"alpha": 1.5}, r"drift\.alpha must be .*Got 1\.5"),
        ({"alpha": "x"}, r"drift\.alpha"),
        ({"correction": "holm"}, r"drift\.correction"),
        ({"numeric": {"thresholds": {"psi": -1}}}, r"drift\.numeric\.thresholds\.psi"),
        ({"numeric": {"decide_on": ["js"], "tests": ["ks"]}}, r"decide_on"),
        ({"columns": {"x": "texty"}}, r"drift\.columns\.x\.kind"),
        ({"columns": {"x": {"knd": "text"}}}, r"drift\.columns\.x\.knd"),
        ({"text": {"ngram_range": [2, 1]}}, r"ngram_range"),
        ({"multivariate": {"max_rows": 5}}, r"multivariate\.max_rows"),
    ],
    ids=["top", "nested", "range", "type", "enum", "threshold", "decide_on", "col-kind", "col-key", "ngram", "mv"],
)
def test_invalid_config_names_the_key(mapping, match):
    with pytest.raises(ConfigError, match=match):
        DriftConfig.from_dict(mapping)


def test_unknown_test_lists_valid_names():
    with pytest.raises(UnknownTestError, match=r"valid tests: \['ks', 'wasserstein', 'psi', 'js', 'missing'\]"):
        get_test("numeric", "anderson")
    with pytest.raises(UnknownTestError, match="kolmogorov"):
        DriftConfig.from_dict({"numeric": {"tests": ["kolmogorov"]}})
    assert issubclass(UnknownTestError, ConfigError)


def test_registry_table_is_keyed_by_kind_and_name():
    assert {k for k, _ in TEST_REGISTRY} == {"numeric", "categorical", "text", "id_like"}
    for (kind, name), spec in TEST_REGISTRY.items():
        assert spec.kind == kind and spec.name == name and spec.description
    assert "missing" in names("text")


def test_per_column_thresholds_take_precedence():
    cfg = DriftConfig.from_dict({"columns": {"a.b": {"kind": "numeric", "thresholds": {"psi": 0.5}}, "c": "skip"}})
    assert cfg.threshold("a.b", "numeric", "psi") == 0.5
    assert cfg.threshold("other", "numeric", "psi") == 0.1
    assert cfg.columns["c"].skip


def test_too_few_permutations_for_alpha_is_a_config_error():
    from driftloop.drift import DriftConfig
    from driftloop.errors import ConfigError

    # the classifier is tested at its share of alpha (0.5 x 0.05 by default), or at alpha when advisory
    with pytest.raises(
        ConfigError,
        match=r"multivariate.n_permutations must be >= 40 for the classifier's level "
        r"drift.alpha x drift.multivariate.alpha_share = 0.025.*Got 39",
    ):
        DriftConfig.from_dict({"alpha": 0.05, "multivariate": {"n_permutations": 39}})
    DriftConfig.from_dict({"alpha": 0.05, "multivariate": {"n_permutations": 40}})
    with pytest.raises(ConfigError, match=r"multivariate.n_permutations must be >= 20 for drift.alpha = 0.05.*Got 19"):
        DriftConfig.from_dict({"alpha": 0.05, "multivariate": {"n_permutations": 19, "alpha_share": 0}})
    DriftConfig.from_dict({"alpha": 0.05, "multivariate": {"n_permutations": 5, "enabled": False}})
