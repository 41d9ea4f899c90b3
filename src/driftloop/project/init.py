"""``driftloop init``: a ready project for the user's own table, from one file.

The project is this repository's layout (``conf/``, ``dvc.yaml``, ``pipelines/``, the library's
source that ``dvc.yaml`` tracks), as :func:`driftloop.demo.scaffold.scaffold` copies it, plus
what the table needs: ``conf/data/<name>.yaml`` with the inferred schema and windows, the
model and training window chosen for it (persisted in ``conf/config.yaml``), ``params.yaml``,
a local DVC remote in ``.dvcstore/``, a short README, and the table itself as the first batch
(:func:`driftloop.project.ingest.ingest`). ``cd DIR && dvc repro`` then runs the first cycle.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from driftloop.errors import ConfigError
from driftloop.project.infer import Choice, TableGuess, choose_settings, infer_table
from driftloop.project.read import read_table

#: Where the library's project template lives: this source checkout's root.
TEMPLATE = Path(__file__).resolve().parents[3]
SAMPLE_ROWS = 50_000


@dataclass(frozen=True)
class InitResult:
    """What ``driftloop init`` made: the project folder, what it inferred and what it chose."""

    project: Path
    guess: TableGuess
    choices: tuple[Choice, ...]
    data_config: Path


def project_name(folder: Path) -> str:
    """A registered-model and config name from the folder's name (letters, digits, ``-`` and ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.resolve().name).strip("-_")
    return name or "driftloop-project"


def data_config_text(guess: TableGuess, choices: Sequence[Choice], source: str) -> str:
    """``conf/data/<name>.yaml`` for the inferred table (comments say where each value came from)."""
    by_key = {c.key: c for c in choices}
    schema = guess.schema()
    lines = [
        f"# Inferred by `driftloop init` from {source}. Edit freely, then run `driftloop params`.",
        "defaults:",
        f"  - override /compare@_global_.compare: {guess.task}",
        f"  - override /promote@_global_.promote: {guess.task}",
        "  - _self_",
        "",
        "source:",
        "  path: data/incoming        # `driftloop ingest FILE` validates batches and copies them here",
        "  format: auto",
        "  reviewed_labels: data/reviewed",
        "schema:",
    ]
    for key, value in schema.items():
        lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")  # JSON is YAML flow style
    ignored = [c.name for c in guess.columns if c.role == "feature" and c.kind == "ignore"]
    if ignored:
        lines.append(f"  # not features: {', '.join(ignored)} (see `driftloop init`'s table for why)")
    ref, cur = by_key["data.windows.initial_reference_days"], by_key["data.windows.current_max_days"]
    lines += [
        "windows:",
        f"  initial_reference_days: {ref.value}   # {ref.why}",
        f"  current_max_days: {cur.value}   # {cur.why}",
        "  max_future_days: 1           # a row dated more than N days after now is refused (null: no check)",
    ]
    return "\n".join(lines) + "\n"


def init_project(
    folder: Path,
    data: Path,
    target: str,
    *,
    time: str | None = None,
    id: str | None = None,
    task: str | None = None,
    kinds: Mapping[str, str] | None = None,
) -> InitResult:
    """Create the project in ``folder`` for the table ``data`` (see the module docstring).

    Raises
    ------
    ConfigError
        When ``folder`` exists and is not empty, or an inference cannot be made (naming the flag).
    DataError
        When ``data`` cannot be read, or fails the schema it implies (naming file, row and column).
    """
    from driftloop.config import write_params
    from driftloop.demo.scaffold import run, scaffold
    from driftloop.project.ingest import ingest

    folder, data = folder.resolve(), data.resolve()
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: driftloop init makes a new project folder.")
    table = read_table(data)
    guess = infer_table(table.head(SAMPLE_ROWS), target, time=time, id=id, task=task, kinds=kinds)
    name = project_name(folder)
    choices = choose_settings(guess, table[guess.timestamp], name)
    scaffold(TEMPLATE, folder, remote=folder / ".dvcstore")
    config = folder / "conf" / "data" / f"{name}.yaml"
    config.write_text(data_config_text(guess, choices, data.name), encoding="utf-8")
    (folder / "README.md").write_text(project_readme(name, data.name, guess), encoding="utf-8")
    by_key = {c.key: c.value for c in choices}
    overrides = [
        f"data={name}",
        f"model={by_key['model']}",
        f"registry.model_name={name}",
        f"train.window_days={by_key['train.window_days']}",
        f"train.holdout_days={by_key['train.holdout_days']}",
    ]
    with inside(folder):
        write_params(overrides)
        ingest([data], guess_id=guess.id is None)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "-qm", f"driftloop init: {data.name}, target {target}"], folder)
    return InitResult(folder, guess, choices, config)


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    """Run in ``folder`` (the config and ingest functions work on the current directory)."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def project_readme(name: str, source: str, guess: TableGuess) -> str:
    return f"""# {name}

A driftloop project for `{source}` (target `{guess.target}`, {guess.task}), made by `driftloop init`.

```bash
dvc repro                       # a cycle: snapshot -> drift -> retrain -> compare -> promote
driftloop ingest new_batch.csv  # validate a new batch and add it to data/incoming
dvc repro                       # the next cycle decides whether the challenger replaces the champion
mlflow ui --backend-store-uri sqlite:///mlflow.db   # compare cycles
```

The schema and windows are in `conf/data/{name}.yaml`; after editing anything in `conf/`, run
`driftloop params`.
"""
