"""``driftloop status | rollback | history``: command functions the typer app wires up.

Each returns an exit code (0, or the ``exit_code`` of the :class:`DriftloopError`
raised) and prints with rich. The model name, aliases and lock come from the
``promote`` section of ``params.yaml`` in the working directory unless given.
MLflow is reached through ``MlflowClient()``, i.e. ``MLFLOW_TRACKING_URI`` /
``MLFLOW_REGISTRY_URI``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from driftloop.errors import ConfigError, DriftloopError
from driftloop.promote.config import PromoteConfig

PARAMS_FILE = "params.yaml"


def _stdout() -> Console:
    return Console(file=sys.stdout, width=120, soft_wrap=False)


def _stderr() -> Console:
    return Console(file=sys.stderr, width=120)


def load_promote_config(params_path: str | Path = PARAMS_FILE) -> PromoteConfig | None:
    """The ``promote`` section of ``params.yaml`` as a config, or None if file/section is absent.

    Raises
    ------
    ConfigError
        When the file is not valid YAML or the section is invalid.
    """
    import yaml

    path = Path(params_path)
    if not path.is_file():
        return None
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    section = params.get("promote") if isinstance(params, dict) else None
    return None if section is None else PromoteConfig.from_dict(section)


def _registry(model_name: str | None, params_path: str | Path):
    from driftloop.promote.registry import ChampionRegistry

    cfg = load_promote_config(params_path)
    name = model_name or (cfg.model_name if cfg is not None else None)
    if not name:
        raise ConfigError(
            f"No model name: pass --model-name or set promote.model_name in {params_path} "
            f"(looked in {Path(params_path).resolve()})."
        )
    cfg = cfg or PromoteConfig(model_name=name)
    return ChampionRegistry(name, alias=cfg.alias, previous_alias=cfg.previous_alias), cfg


def _run(body: Callable[[], None]) -> int:
    """Run a command body; a DriftloopError becomes a message and its exit code."""
    try:
        body()
    except DriftloopError as exc:
        _stderr().print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        return exc.exit_code
    return 0


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def status_command(model_name: str | None = None, params_path: str | Path = PARAMS_FILE) -> int:
    """Print the champion, its lineage, the last decision and why.

    Parameters
    ----------
    model_name : str, optional
        Registered model; default ``promote.model_name`` from ``params.yaml``.
    params_path : path

    Returns
    -------
    int
        0, or the exit code of the error met (ConfigError 3, RegistryError 5).
    """

    def body() -> None:
        reg, _ = _registry(model_name, params_path)
        st = reg.status()
        out = _stdout()
        champ = st["champion"]
        table = Table(title=f"{st['model_name']}: champion", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        if champ is None:
            table.add_row(reg.alias, "none (no promotion yet: the next cycle is a first cycle)")
        else:
            table.add_row(reg.alias, f"version {champ['version']}")
            table.add_row(reg.previous_alias, "none" if st["previous_version"] is None
                          else f"version {st['previous_version']}")
            table.add_row("run id", str(champ["run_id"]))
            table.add_row("source", champ["source"])
            table.add_row("why", champ["description"] or "(no description)")
            for key, value in champ["lineage"].items():
                if key != "driftloop.decision":
                    table.add_row(key, _short(value))
        out.print(table)
        last = st["last_decision"]
        if last is None:
            out.print("Last decision: none recorded.")
        else:
            verdict = "promoted" if last.get("promoted") else "rejected"
            out.print(f"Last decision: [bold]{verdict}[/] (version {last.get('version')}, run {last.get('run_id')}). "
                      f"{last.get('summary', '')}", highlight=False)
            gates = Table(title="gates of the last decision")
            for col in ("gate", "passed", "detail"):
                gates.add_column(col, overflow="fold")
            for g in last.get("gates", []):
                gates.add_row(g["name"], "yes" if g["passed"] else "[red]NO[/]", g["detail"])
            out.print(gates)
        if st["last_move"] is not None:
            m = st["last_move"]
            out.print(f"Last alias move: #{m['seq']} {m['action']} {m['from_version']} -> {m['to_version']} "
                      f"by {m['actor']} at {m['at']}: {m['reason']}", highlight=False)

    return _run(body)


def rollback_command(model_name: str | None = None, reason: str = "manual rollback", actor: str | None = None,
                     params_path: str | Path = PARAMS_FILE) -> int:
    """Move the champion back to the previous version, under the promotion lock.

    Parameters
    ----------
    model_name : str, optional
    reason : str
        Why; recorded in the alias history.
    actor : str, optional
        Who; default ``user@host``.
    params_path : path

    Returns
    -------
    int
        0; 5 when there is nothing to roll back to; 7 when a promotion holds the lock.
    """
    from driftloop.promote.promotion import promotion_lock

    def body() -> None:
        reg, cfg = _registry(model_name, params_path)
        with promotion_lock(cfg.lock_path, cfg.lock_timeout_s):
            move = reg.rollback(reason=reason, actor=actor)
        _stdout().print(
            f"Rolled back {reg.model_name}: {reg.alias} version {move.from_version} -> {move.to_version} "
            f"(by {move.actor} at {move.at}: {move.reason})", highlight=False,
        )

    return _run(body)


def history_command(model_name: str | None = None, params_path: str | Path = PARAMS_FILE) -> int:
    """Print every recorded alias move, oldest first."""

    def body() -> None:
        reg, _ = _registry(model_name, params_path)
        moves = reg.history()
        table = Table(title=f"{reg.model_name}: {reg.alias} alias history")
        for col in ("#", "when (UTC)", "action", "from", "to", "who", "why"):
            table.add_column(col, overflow="fold")
        for m in moves:
            table.add_row(str(m.seq), m.at, m.action, m.from_version or "-", m.to_version or "-", m.actor,
                          _short(m.reason, 300))
        out = _stdout()
        out.print(table)
        if not moves:
            out.print("No alias moves recorded.")

    return _run(body)
