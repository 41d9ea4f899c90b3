"""Configured data, review, lock and artifact paths stay inside the project unless explicitly allowed
(issue 13, security): ``../../../../etc`` no longer makes DVC hash ``/etc``.

Each refused path is refused where the config is composed or read -- by ``driftloop params KEY=...``,
by ``driftloop params`` after a hand edit of ``conf/``, by a stage's own overrides, and by the check of
a hand-edited (or DVC-composed) ``params.yaml`` -- so ``params.yaml`` never holds it and no stage, and
no DVC dependency, ever sees it. The message names the key, the path as given, where it resolves and
the opt-in, ``paths.allowed_outside``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from driftloop import config
from driftloop.cli import app
from driftloop.config import check_params, compose, write_params
from driftloop.errors import ConfigError
from driftloop.paths import PATH_KEYS, TABLE, refuse_paths_outside
from driftloop.stages import run_stage

CONF = Path(__file__).resolve().parents[1] / "conf"
OPTIONS = [(p.parent.name, p.stem) for p in sorted(CONF.glob("*/*.yaml"))]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the project (the project is tmp_path/project)."""
    folder = tmp_path / "outside"
    (folder / "batches").mkdir(parents=True)
    return folder


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import shutil

    root = tmp_path / "project"
    shutil.copytree(CONF, root / "conf")
    (root / "data" / "incoming").mkdir(parents=True)
    monkeypatch.chdir(root)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    return root


def _cases(outside: Path, project: Path) -> dict[str, tuple[str, str, Path]]:
    """id -> (key, value as given, where it resolves)."""
    link = project / "data" / "linked"
    link.symlink_to(outside / "batches", target_is_directory=True)
    return {
        "dotdot": ("data.source.path", "../../../../etc", (project / "../../../../etc").resolve()),
        "etc": ("data.source.path", "../" * len(project.parts) + "etc", Path("/etc")),
        "absolute": ("data.source.path", str(outside / "batches"), outside / "batches"),
        "symlink": ("data.source.path", "data/linked", outside / "batches"),
        "reviewed": ("data.source.reviewed_labels", str(outside), outside),
        "lock": ("promote.lock_path", str(outside / "promote.lock"), outside / "promote.lock"),
        "artifacts": ("tracking.artifact_root", (outside / "art").as_uri(), outside / "art"),
    }


CASE_IDS = ["dotdot", "etc", "absolute", "symlink", "reviewed", "lock", "artifacts"]


def _assert_refusal(message: str, key: str, value: str, resolved: Path, project: Path) -> None:
    assert f"{key} is {value!r}, which resolves to {resolved.resolve()}" in message, message
    assert f"outside the project {project.resolve()}" in message
    assert "paths.allowed_outside" in message


def _nested(key: str, value: object) -> dict:
    node: dict = {}
    out = node
    parts = key.split(".")
    for part in parts[:-1]:
        node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return out


@pytest.mark.parametrize("case", CASE_IDS)
def test_driftloop_params_refuses_a_path_outside_writing_nothing(case, project, outside):
    key, value, resolved = _cases(outside, project)[case]
    conf_before = (project / "conf" / "config.yaml").read_bytes()
    result = CliRunner().invoke(app, ["params", f"{key}={value}"])
    assert result.exit_code == 3, result.output
    _assert_refusal(result.output.replace("\n", ""), key, value, resolved, project)
    assert not (project / "params.yaml").exists()  # nothing for DVC to read, hash or depend on
    assert (project / "conf" / "config.yaml").read_bytes() == conf_before


@pytest.mark.parametrize("case", CASE_IDS)
def test_a_hand_edited_conf_is_refused_when_composed(case, project, outside):
    key, value, resolved = _cases(outside, project)[case]
    write_params([])
    params_before = (project / "params.yaml").read_bytes()
    with (project / "conf" / "config.yaml").open("a", encoding="utf-8") as fh:
        fh.write(yaml.safe_dump(_nested(key, value)))
    result = CliRunner().invoke(app, ["params"])
    assert result.exit_code == 3, result.output
    _assert_refusal(result.output.replace("\n", ""), key, value, resolved, project)
    assert (project / "params.yaml").read_bytes() == params_before
    # `dvc repro`'s first stage (pipelines/check_params.py) and every stage refuse too.
    with pytest.raises(ConfigError) as info:
        check_params()
    _assert_refusal(str(info.value), key, value, resolved, project)


@pytest.mark.parametrize("case", CASE_IDS)
def test_a_stage_run_by_hand_refuses_before_any_work(case, project, outside, capsys):
    key, value, resolved = _cases(outside, project)[case]
    assert run_stage("snapshot", [f"{key}={value}"]) == 3
    _assert_refusal(capsys.readouterr().err.replace("\n", ""), key, value, resolved, project)
    assert not (project / "data" / "snapshot").exists()


@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("experiment", [False, True], ids=["hand-edited", "dvc-exp-composed"])
def test_a_params_yaml_holding_one_is_refused_when_read(case, experiment, project, outside, monkeypatch):
    """A hand edit of params.yaml, or one DVC composed itself under `dvc exp run -S key=...` (no header,
    accepted during the experiment): the path is refused before the digests are even compared."""
    key, value, resolved = _cases(outside, project)[case]
    cfg = write_params([])
    node = cfg
    parts = key.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    (project / "params.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    if experiment:
        monkeypatch.setenv(config.EXP_ENV, "abc123")
    with pytest.raises(ConfigError) as info:
        check_params()
    _assert_refusal(str(info.value), key, value, resolved, project)
    assert str(info.value).startswith(str(project / "params.yaml"))


def test_an_allowed_path_works_and_must_be_listed_exactly(project, outside):
    batches = outside / "batches"
    allowed = f"paths.allowed_outside=[{outside}]"
    result = CliRunner().invoke(app, ["params", allowed, f"data.source.path={batches}"])
    assert result.exit_code == 0, result.output
    assert check_params()["data"]["source"]["path"] == str(batches)
    assert compose([])["paths"]["allowed_outside"] == [str(outside)]  # kept in conf/
    # A symlink inside the project into the allowed folder is as good as the folder itself.
    (project / "data" / "linked").symlink_to(batches, target_is_directory=True)
    assert compose(["data.source.path=data/linked"])["data"]["source"]["path"] == "data/linked"
    # Listed exactly: a sibling sharing its name as a string prefix, or its parent, is still refused.
    sibling = outside.parent / (outside.name + "-other")
    sibling.mkdir()
    for value in (str(sibling), str(outside.parent), f"{outside}/../outside-other"):
        with pytest.raises(ConfigError, match="outside the project"):
            compose([f"data.source.path={value}"])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("paths.allowed_outside=[data]", "paths.allowed_outside[0] must be an absolute path"),
        ("paths.allowed_outside=/mnt", "paths.allowed_outside must be a list of names. Got '/mnt' instead."),
        ("+paths.allow=[/mnt]", "paths has unknown key(s) ['paths.allow']"),
        ("data.source.path=''", "data.source.path must be a non-empty path or null. Got '' instead."),
    ],
)
def test_the_allow_list_and_the_paths_are_validated_as_data(project, override, message):
    result = CliRunner().invoke(app, ["params", override])
    assert result.exit_code == 3, result.output
    assert message in result.output.replace("\n", "")
    assert not (project / "params.yaml").exists()


def test_inside_paths_and_other_uris_pass(project):
    root = project
    ok = {
        "data": {"source": {"path": str(root / "data" / "incoming"), "reviewed_labels": None}},
        "promote": {"lock_path": "./.driftloop/../.driftloop/promote.lock"},
        "tracking": {"artifact_root": "s3://bucket/mlartifacts"},  # not a local path
    }
    refuse_paths_outside(ok, root)
    refuse_paths_outside({}, root)  # a config without those keys (the CLIs' own sections)
    assert set(TABLE) == {"allowed_outside"} and TABLE["allowed_outside"].default == ()
    assert {spec.kind for spec in PATH_KEYS.values()} == {"path"}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_shipped_config_passes(group, option, project):
    cfg = compose([] if group == "data" else [f"{group}={option}"])  # the check runs in compose
    assert cfg["paths"]["allowed_outside"] == []
    refuse_paths_outside(cfg, project)


def test_the_repositorys_own_params_yaml_passes():
    params = yaml.safe_load((CONF.parent / "params.yaml").read_text())
    refuse_paths_outside(params, CONF.parent)
    assert params["paths"] == {"allowed_outside": []}
