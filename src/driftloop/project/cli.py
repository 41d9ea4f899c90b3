"""The ``driftloop init`` and ``driftloop ingest`` commands: parse, call the library, print."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from driftloop.errors import ConfigError


def parse_kinds(pairs: Sequence[str]) -> dict[str, str]:
    """``["city=categorical", ...]`` as a mapping; a ConfigError naming a pair without ``=``."""
    kinds: dict[str, str] = {}
    for pair in pairs:
        column, sep, kind = pair.rpartition("=")
        if not sep or not column:
            raise ConfigError(f"--kind {pair!r}: expected COLUMN=KIND, e.g. --kind zip=categorical.")
        kinds[column] = kind
    return kinds


def init_command(
    folder: Path,
    data: Path,
    target: str,
    *,
    time: str | None,
    id: str | None,
    task: str | None,
    kinds: Sequence[str],
) -> int:
    from rich.console import Console
    from rich.table import Table

    from driftloop.project.init import init_project

    result = init_project(folder, data, target, time=time, id=id, task=task, kinds=parse_kinds(kinds))
    console = Console()
    table = Table(title=f"{data.name}: what driftloop inferred")
    for col in ("column", "role", "kind", "why"):
        table.add_column(col)
    for c in result.guess.columns:
        table.add_row(c.name, c.role, c.kind, c.why)
    console.print(table)
    choices = Table(title="what driftloop chose")
    for col in ("setting", "value", "why"):
        choices.add_column(col)
    for choice in result.choices:
        choices.add_row(choice.key, str(choice.value), choice.why)
    console.print(choices)
    console.print(
        f"Project ready in {result.project} (schema and windows: {result.data_config.relative_to(result.project)}; "
        "override a kind with --kind COLUMN=KIND, or edit it and run `driftloop params`).\n"
        f"Next: cd {result.project} && dvc repro"
    )
    return 0


def ingest_command(files: Sequence[Path]) -> int:
    from driftloop.project.ingest import ingest

    for path in ingest(list(files)):
        print(f"added {path}")
    print("Next: dvc repro")
    return 0
