"""Every `--help` shows an example (issue 15, item 5): walks every command the CLI registers, so a
new command without an ``Example:`` fails here."""

from __future__ import annotations

import re

import pytest
import typer

from driftloop.cli import app, main


def _command_paths(command, path=()):
    """Every command path under ``command`` (the root is ``()``), subcommands of groups included."""
    yield path
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from _command_paths(sub, (*path, name))


PATHS = list(_command_paths(typer.main.get_command(app)))


def test_the_walk_finds_every_command():
    """The walk itself must see the commands (an empty walk would pass every check below)."""
    names = {p[0] for p in PATHS if p}
    assert {"stage", "drift", "compare", "status", "report", "demo", "params"} <= names
    assert () in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "driftloop")
def test_help_has_an_example_of_the_command(path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # no wrapping inside an example line
    assert main([*path, "--help"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    heads = [i for i, line in enumerate(lines) if re.fullmatch(r"Examples?:", line)]
    assert heads, f"`driftloop {' '.join(path)} --help` shows no 'Example:' section"
    example = next(line for line in lines[heads[0] + 1 :] if line)
    # The example runs this very command (the root's: any driftloop command).
    assert example.startswith(" ".join(("driftloop", *path))), example
