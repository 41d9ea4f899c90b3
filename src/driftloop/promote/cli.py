"""``driftloop status | rollback | promote | history | new-registry``: command functions the typer app wires up.

Each returns an exit code (0, or the ``exit_code`` of the :class:`DriftloopError`
raised) and prints with rich. The model name and aliases come from the ``registry``
section of ``params.yaml`` in the working directory (the model name unless given), the
promotion lock from its ``promote`` section.
MLflow is reached through ``MlflowClient()``, i.e. ``MLFLOW_TRACKING_URI`` /
``MLFLOW_REGISTRY_URI``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from driftloop.contracts import DecisionRecord
from driftloop.errors import ConfigError, DriftloopError, RegistryError
from driftloop.promote.config import RENAMED, TOP, PromoteConfig
from driftloop.registry_config import RegistryConfig
from driftloop.tags import TAG_DECISION
from driftloop.validation import check, check_keys, refuse_renamed

if TYPE_CHECKING:
    from driftloop.promote.registry import ChampionRegistry

PARAMS_FILE = "params.yaml"


def _stdout() -> Console:
    return Console(file=sys.stdout, width=120, soft_wrap=False)


def _stderr() -> Console:
    return Console(file=sys.stderr, width=120)


#: The ``promote`` keys these commands use (the promotion lock); the gate rules are the promote
#: stage's business, the model and its aliases the ``registry`` group's.
LOCK_KEYS = ("lock_path", "lock_timeout_s")


def _load_params(params_path: str | Path) -> dict[str, Any] | None:
    """``params.yaml`` as a mapping, or None when the file is absent."""
    import yaml

    path = Path(params_path)
    if not path.is_file():
        return None
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must be a mapping of config groups. Got {params!r} instead.")
    return params


def _promote_lock_config(params: dict[str, Any] | None, path: Path) -> PromoteConfig | None:
    """The lock settings of the ``promote`` section (the gate rules left empty), or None if absent.

    Unknown keys are still refused, and so are the registry keys of an earlier version
    (``promote.model_name`` names ``registry.model_name``): a typo or a stale ``params.yaml``
    must not silently select another model.
    """
    section = None if params is None else params.get("promote")
    if section is None:
        return None
    if not isinstance(section, dict):
        raise ConfigError(f"promote in {path} must be a mapping. Got {section!r} instead.")
    refuse_renamed(section, "promote", RENAMED)
    check_keys(section, TOP, "promote")
    lock = check({k: v for k, v in section.items() if k in LOCK_KEYS}, {k: TOP[k] for k in LOCK_KEYS}, "promote")
    return PromoteConfig(**lock)


def load_promote_config(params_path: str | Path = PARAMS_FILE) -> PromoteConfig | None:
    """The lock settings of the ``promote`` section of ``params.yaml``, or None if file/section is absent.

    Only :data:`LOCK_KEYS` are read (the gate rules are left empty), so that a status, a
    rollback or a manual promotion works even while a gate rule is being fixed.

    Raises
    ------
    ConfigError
        When the file is not valid YAML, the section has an unknown key (or a registry key of an
        earlier version), or a lock setting has the wrong type.
    """
    return _promote_lock_config(_load_params(params_path), Path(params_path))


def _registry(model_name: str | None, params_path: str | Path) -> tuple[ChampionRegistry, PromoteConfig]:
    from driftloop.promote.registry import ChampionRegistry

    params = _load_params(params_path)
    promote_cfg = _promote_lock_config(params, Path(params_path)) or PromoteConfig()
    section = None if params is None else params.get("registry")
    identity = None if section is None else RegistryConfig.from_dict(section)
    name = model_name or (identity.model_name if identity is not None else None)
    if not name:
        raise ConfigError(
            f"No model name: pass --model-name or set registry.model_name in {params_path} "
            f"(looked in {Path(params_path).resolve()})."
        )
    identity = replace(identity or RegistryConfig(), model_name=name)
    return ChampionRegistry(name, alias=identity.alias, previous_alias=identity.previous_alias), promote_cfg


def _refuse_unknown_model(reg: ChampionRegistry, given: str | None) -> None:
    """A ``--model-name`` the registry does not hold is an error (exit 5) naming the models it
    does hold: a typo must not read as "no promotion yet". The configured name may not exist yet
    (before a first cycle): that is reported, not refused."""
    if given and not reg.exists():
        known = reg.other_models()
        raise RegistryError(
            f"the registry has no registered model {given!r}; it holds "
            + (", ".join(repr(n) for n in known) if known else "none")
            + ". Check --model-name (or leave it out to use registry.model_name from params.yaml)."
        )


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


def _why(champ: dict[str, Any]) -> str:
    """Why the champion was promoted, in a line: its decision's summary, else the first line of what
    its description says about it (the description is the registry's markdown changelog)."""
    from driftloop.promote.changelog import split_body

    decision = champ["lineage"].get(TAG_DECISION)
    if isinstance(decision, dict) and decision.get("summary"):
        return _short(decision["summary"], 300)
    body = split_body(champ["description"])
    return _short(body.splitlines()[0], 300) if body else "(no description)"


def status_command(model_name: str | None = None, params_path: str | Path = PARAMS_FILE) -> int:
    """Print the champion, its lineage, the last decision and why.

    Parameters
    ----------
    model_name : str, optional
        Registered model; default ``registry.model_name`` from ``params.yaml``.
    params_path : path

    Returns
    -------
    int
        0, or the exit code of the error met (ConfigError 3, RegistryError 5).
    """

    def body() -> None:
        reg, _ = _registry(model_name, params_path)
        _refuse_unknown_model(reg, model_name)
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
            table.add_row(
                reg.previous_alias, "none" if st["previous_version"] is None else f"version {st['previous_version']}"
            )
            table.add_row("run id", str(champ["run_id"]))
            table.add_row("source", champ["source"])
            table.add_row("why", _why(champ))
            for key, value in champ["lineage"].items():
                if key != TAG_DECISION:
                    table.add_row(key, _short(value))
        out.print(table)
        last = st["last_decision"]
        if last is None:
            out.print("Last decision: none recorded.")
        else:
            # The registry's record is decision.json's layout plus the run (and, for a cycle that
            # trained no challenger, ``challenger_trained: false``).
            record = DecisionRecord.from_dict(last)
            if last.get("challenger_trained") is False:
                verdict = "no challenger this cycle"
            else:
                verdict = "promoted" if record.promoted else "rejected"
            out.print(
                f"Last decision: [bold]{verdict}[/] (version {record.version}, run {last.get('run_id')}). "
                f"{record.summary}",
                highlight=False,
            )
            gates = Table(title="gates of the last decision")
            for col in ("gate", "passed", "detail"):
                gates.add_column(col, overflow="fold")
            for g in record.gates:
                gates.add_row(g.name, "yes" if g.passed else "[red]NO[/]", g.detail)
            out.print(gates)
        if st["last_move"] is not None:
            m = st["last_move"]
            out.print(
                f"Last alias move: #{m['seq']} {m['action']} {m['from_version']} -> {m['to_version']} "
                f"by {m['actor']} at {m['at']}: {m['reason']}",
                highlight=False,
            )

    return _run(body)


def rollback_command(
    model_name: str | None = None,
    reason: str = "manual rollback",
    actor: str | None = None,
    params_path: str | Path = PARAMS_FILE,
) -> int:
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
    from driftloop.promote.promotion import promotion_guard

    def body() -> None:
        reg, cfg = _registry(model_name, params_path)
        with promotion_guard(reg, cfg.lock_path, cfg.lock_timeout_s):
            move = reg.rollback(reason=reason, actor=actor)
        _stdout().print(
            f"Rolled back {reg.model_name}: {reg.alias} version {move.from_version} -> {move.to_version} "
            f"(by {move.actor} at {move.at}: {move.reason})",
            highlight=False,
        )

    return _run(body)


def promote_command(
    version: str | int,
    reason: str,
    model_name: str | None = None,
    actor: str | None = None,
    params_path: str | Path = PARAMS_FILE,
) -> int:
    """Move the champion alias to ``version`` by hand, under the promotion lock, recording who/when/why.

    The replaced champion becomes the previous version, so ``driftloop rollback`` undoes
    this move; the move appears in ``driftloop history`` with action ``manual``.

    Parameters
    ----------
    version : str or int
        An existing version of the registered model.
    reason : str
        Why; recorded in the alias history.
    model_name : str, optional
    actor : str, optional
        Who; default ``user@host``.
    params_path : path

    Returns
    -------
    int
        0 (also when ``version`` already is the champion: nothing moves); 5 for an unknown
        version or an empty reason; 7 when a promotion holds the lock.
    """
    from driftloop.promote.promotion import promotion_guard

    def body() -> None:
        reg, cfg = _registry(model_name, params_path)
        with promotion_guard(reg, cfg.lock_path, cfg.lock_timeout_s):
            move = reg.promote_version(version, reason=reason, actor=actor)
        if move is None:
            _stdout().print(
                f"{reg.model_name}: version {version} already is {reg.alias}; nothing moved.", highlight=False
            )
            return
        _stdout().print(
            f"Promoted {reg.model_name} by hand: {reg.alias} version {move.from_version} -> {move.to_version} "
            f"(by {move.actor} at {move.at}: {move.reason}). Undo with `driftloop rollback`.",
            highlight=False,
        )

    return _run(body)


def history_command(model_name: str | None = None, params_path: str | Path = PARAMS_FILE) -> int:
    """Print every recorded alias move, oldest first."""

    def body() -> None:
        reg, _ = _registry(model_name, params_path)
        _refuse_unknown_model(reg, model_name)
        moves = reg.history()
        table = Table(title=f"{reg.model_name}: {reg.alias} alias history")
        for col in ("#", "when (UTC)", "action", "from", "to", "who", "why"):
            table.add_column(col, overflow="fold")
        for m in moves:
            table.add_row(
                str(m.seq), m.at, m.action, m.from_version or "-", m.to_version or "-", m.actor, _short(m.reason, 300)
            )
        out = _stdout()
        out.print(table)
        if not moves:
            out.print("No alias moves recorded.")

    return _run(body)


def new_registry_command(
    reason: str, model_name: str | None = None, actor: str | None = None, params_path: str | Path = PARAMS_FILE
) -> int:
    """Start a new registry on purpose: acknowledge that the registry MLflow uses now does not hold
    the champion the project's records name (:func:`driftloop.promote.lost_registry.acknowledge`).

    Writes ``.driftloop/new-registry.json`` at the project root; the next snapshot then runs as a
    first cycle and its manifest and ``decision.json`` record the acknowledgement.

    Returns
    -------
    int
        0 (also when there is nothing to acknowledge); 5 for an empty reason or an unreadable registry.
    """
    from driftloop.config import project_root, workspace
    from driftloop.promote.lost_registry import acknowledge

    def body() -> None:
        reg, _ = _registry(model_name, params_path)
        _, message = acknowledge(workspace(), project_root(), reg.model_name, reg.alias, reason, actor)
        _stdout().print(message, highlight=False, markup=False)

    return _run(body)
