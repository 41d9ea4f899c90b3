"""The config flow with real DVC in a real git repository: `driftloop params OVERRIDES` persists them in
conf/, `dvc repro`, `dvc exp run -S` and a fresh clone compose the same config, and a stale or
hand-edited params.yaml is refused in every path -- also after `dvc exp apply`, when every stage of
the experiment's dvc.lock is cached.

The pipeline is the project's own `params` stage plus one stage that reads its config the way every
stage does (driftloop.config.load_stage_config), so each case takes seconds, not a cycle.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from driftloop.config import CHECK_STAMP
from driftloop.demo.scaffold import run as _run
from driftloop.demo.scaffold import scaffold

ROOT = Path(__file__).resolve().parents[1]
DVC = [sys.executable, "-m", "dvc"]
PARAMS = [sys.executable, "-m", "driftloop.cli", "params"]

READ = """import json
from driftloop.config import load_stage_config
cfg = load_stage_config()
json.dump({"model": cfg["model"]["name"], "window_days": cfg["train"]["window_days"]}, open("read.json", "w"))
"""


def run(cmd, cwd, check=True):
    return _run(cmd, cwd, check=check)


def pipeline() -> dict:
    """dvc.yaml: the project's `params` stage (with its check stamp as output) and a reading stage."""
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["params"]
    stage.setdefault("outs", [{CHECK_STAMP: {"cache": False}}])
    return {
        "stages": {
            "params": stage,
            "read": {
                "cmd": "python read_config.py",
                "deps": ["read_config.py"],
                "params": ["model.name", "train.window_days"],
                "outs": [{"read.json": {"cache": False}}],
            },
        }
    }


@pytest.fixture
def project(tmp_path):
    dest = scaffold(ROOT, tmp_path / "project", remote=tmp_path / "dvcstore")
    (dest / "dvc.yaml").write_text(yaml.safe_dump(pipeline(), sort_keys=False))
    (dest / "read_config.py").write_text(READ)
    run(PARAMS, dest)  # the params.yaml of this checkout's conf/
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "pipeline"], dest)
    return dest


def read(project: Path) -> dict:
    return json.loads((project / "read.json").read_text())


def commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)


def test_overrides_persist_in_conf_for_repro_exp_run_and_a_fresh_clone(project, tmp_path):
    run([*PARAMS, "model=hgb", "train.window_days=14"], project)
    assert "  - model: hgb\n" in (project / "conf" / "config.yaml").read_text()
    run([*DVC, "repro"], project)
    assert read(project) == {"model": "hgb", "window_days": 14}
    commit(project, "hgb, 14 days")
    # `dvc exp run -S` composes conf/ (which now holds both settings) plus its own override.
    out = run([*DVC, "exp", "run", "-S", "train.window_days=10"], project)
    assert read(project) == {"model": "hgb", "window_days": 10}, out.stdout
    run(["git", "checkout", "--", "."], project)
    # A fresh clone composes the same config and passes the check (its stamp is not in git).
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    assert not (clone / CHECK_STAMP).exists()
    out = run([*DVC, "repro"], clone)
    assert "Running stage 'params'" in out.stdout and read(clone) == {"model": "hgb", "window_days": 14}


def test_after_exp_apply_repro_is_refused_naming_the_command(project):
    run([*DVC, "repro"], project)
    commit(project, "cycle")
    run([*DVC, "exp", "run", "--temp", "-n", "try-hgb", "-S", "model=hgb"], project)
    run([*DVC, "exp", "apply", "try-hgb"], project)
    # Every stage is cached in the experiment's dvc.lock, yet params.yaml (hgb) is not what conf/
    # (logreg) composes to: the params stage must run, and refuse.
    out = run([*DVC, "repro"], project, check=False)
    assert out.returncode != 0, out.stdout
    assert "params.yaml is out of date with conf/ (model." in out.stderr + out.stdout
    assert "Run `driftloop params model=hgb` to keep params.yaml's settings" in out.stderr + out.stdout
    run([*PARAMS, "model=hgb"], project)
    run([*DVC, "repro"], project)
    assert read(project)["model"] == "hgb"


def test_a_hand_edited_params_yaml_is_refused_by_repro_and_by_every_stage(project):
    run([*DVC, "repro"], project)
    path = project / "params.yaml"
    path.write_text(path.read_text().replace("window_days: 21", "window_days: 5", 1))
    for cmd in ([*DVC, "repro"], [sys.executable, "read_config.py"]):
        out = run(cmd, project, check=False)
        assert out.returncode != 0
        assert (
            "train.window_days: conf/ gives 21, params.yaml has 5). Run `driftloop params train.window_days=5` to keep"
        ) in out.stderr + out.stdout
