"""The command line's entry points: `driftloop --version` and `python -m driftloop` (issue 15)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from driftloop.cli import main


def test_version_prints_the_installed_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"driftloop {version('driftloop')}"


def test_python_dash_m_driftloop_is_the_cli():
    out = subprocess.run([sys.executable, "-m", "driftloop", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"driftloop {version('driftloop')}"


def test_the_params_help_example_is_a_real_key(capsys):
    """Its example once named train.days, which does not exist."""
    from driftloop.config import compose

    assert main(["params", "--help"]) == 0
    assert "train.window_days=14" in capsys.readouterr().out
    assert "window_days" in compose([])["train"]
