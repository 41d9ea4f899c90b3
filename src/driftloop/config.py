"""Composing the configuration, and keeping ``params.yaml`` honest.

``conf/`` (Hydra groups) is the source of truth; ``params.yaml`` is its composed
form, the file DVC tracks for ``dvc params diff`` / ``dvc exp show`` and the one
every stage reads under ``dvc repro``. DVC composes ``conf/`` into ``params.yaml``
only under ``dvc exp run``; plain ``dvc repro`` reads ``params.yaml`` as it is. An
edit in ``conf/`` must therefore never be silently ignored: :func:`check_params`
recomposes ``conf/`` (with the overrides recorded in the file's header) and
refuses, naming the differing keys and the command to run, when they disagree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from driftloop.errors import ConfigError

PARAMS_FILE = "params.yaml"
CONF_DIR = "conf"
_HEADER = "# Composed from conf/ by `driftloop params`. Do not edit: edit conf/ and recompose.\n"
_OVERRIDES_PREFIX = "# overrides: "


def workspace() -> Path:
    """The folder stages read and write (the DVC workspace, or an experiment's copy of it)."""
    return Path.cwd()


def project_root() -> Path:
    """The user's project root: where the default MLflow DB and artifacts live.

    Under ``dvc exp run --queue`` stages run in a temporary copy below
    ``.dvc/tmp/exps``; DVC then points ``DVC_ROOT`` at the parent repository, and
    paths inside ``.dvc/tmp/exps`` are mapped back so a relative sqlite URI never
    lands in a throwaway copy.
    """
    root = Path(os.environ.get("DVC_ROOT") or workspace()).resolve()
    parts = root.parts
    for i in range(len(parts) - 3):
        if parts[i : i + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:i])
    return root


def compose(overrides: Iterable[str] = (), conf_dir: Path | None = None) -> dict[str, Any]:
    """Compose ``conf/config.yaml`` with Hydra overrides into a plain dict.

    Raises
    ------
    ConfigError
        When Hydra rejects an override (unknown key or group option); Hydra's own
        message, which names the key, is kept.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    conf = (conf_dir or workspace() / CONF_DIR).resolve()
    if not (conf / "config.yaml").is_file():
        raise ConfigError(f"{conf / 'config.yaml'} not found: run driftloop from the project root.")
    overrides = list(overrides)
    try:
        with initialize_config_dir(str(conf), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException, YAMLError) as exc:
        raise ConfigError(f"cannot compose conf/ with overrides {overrides}: {exc}") from exc
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def _dump(cfg: Mapping[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(dict(cfg)))


def write_params(overrides: Iterable[str] = (), path: Path | None = None) -> dict[str, Any]:
    """Compose ``conf/`` and write ``params.yaml``, recording the overrides in its header."""
    overrides = list(overrides)
    cfg = compose(overrides)
    path = path or workspace() / PARAMS_FILE
    text = _HEADER + _OVERRIDES_PREFIX + json.dumps(overrides) + "\n" + _dump(cfg)
    path.write_text(text, encoding="utf-8")
    return cfg


def read_params(path: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Read ``params.yaml`` and the overrides recorded in its header (empty if none)."""
    import yaml

    path = path or workspace() / PARAMS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `driftloop params` to compose it from conf/.")
    text = path.read_text(encoding="utf-8")
    overrides: list[str] = []
    for line in text.splitlines():
        if line.startswith(_OVERRIDES_PREFIX):
            overrides = list(json.loads(line[len(_OVERRIDES_PREFIX) :]))
            break
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level.")
    return data, overrides


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in a or key not in b:
                out.append(name)
            else:
                out.extend(_diff(a[key], b[key], name))
        return out
    return [] if a == b else [prefix or "<root>"]


def _lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return "<absent>"
        node = node[part]
    return node


def suggest_overrides(params: Mapping[str, Any], overrides: list[str], differing: list[str]) -> list[str]:
    """Group choices that explain a stale params.yaml: for each config group with a differing key,
    the option of ``conf/<group>/`` whose composition equals params.yaml's group (e.g. after
    ``dvc exp apply`` of a ``-S model=hgb`` experiment, DVC writes params.yaml without our header)."""
    conf = workspace() / CONF_DIR
    suggested = list(overrides)
    for group in sorted({key.split(".")[0] for key in differing}):
        folder = conf / group
        if not folder.is_dir() or any(o.split("=")[0] == group for o in overrides):
            continue
        for option in sorted(p.stem for p in folder.glob("*.yaml")):
            try:
                if compose([*overrides, f"{group}={option}"]).get(group) == params.get(group):
                    suggested.append(f"{group}={option}")
                    break
            except ConfigError:
                continue
    return suggested


def check_params(path: Path | None = None) -> dict[str, Any]:
    """Return ``params.yaml`` if it is what ``conf/`` composes to, else raise.

    Under ``dvc exp run`` (``DVC_EXP_BASELINE_REV`` set) DVC has just composed
    ``params.yaml`` from ``conf/`` and the ``-S`` overrides itself, so it is fresh
    by construction and is accepted as it is.

    Raises
    ------
    ConfigError
        Naming each differing key with both values, and the command that fixes it.
    """
    params, overrides = read_params(path)
    if os.environ.get("DVC_EXP_BASELINE_REV"):
        return params
    composed = compose(overrides)
    differing = _diff(composed, params)
    if differing:
        shown = "; ".join(
            f"{k}: conf/ gives {_lookup(composed, k)!r}, params.yaml has {_lookup(params, k)!r}"
            for k in differing[:8]
        )
        more = f" (and {len(differing) - 8} more)" if len(differing) > 8 else ""
        suggested = suggest_overrides(params, overrides, differing)
        if suggested != overrides and _diff(compose(suggested), params) == []:
            overrides = suggested  # the exact command that reproduces this params.yaml
        suffix = f" {' '.join(overrides)}" if overrides else ""
        raise ConfigError(
            f"params.yaml is out of date with conf/ ({shown}{more}). "
            f"Run `driftloop params{suffix}` to recompose it (add Hydra overrides such as "
            f"model=hgb to keep values set by hand), or use `dvc exp run`, which composes it for you."
        )
    return params


def load_stage_config(overrides: Iterable[str] = ()) -> dict[str, Any]:
    """The config a stage runs with.

    With overrides (a stage run by hand: ``python pipelines/retrain.py model=hgb``)
    it is ``conf/`` composed with them; without (``dvc repro``) it is the checked
    ``params.yaml``.
    """
    overrides = list(overrides)
    if overrides:
        return compose(overrides)
    return check_params()


def section(cfg: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A top-level group of the config, with a clear error when it is missing."""
    value = cfg.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"the config has no `{key}` group (expected conf/{key}/<option>.yaml).")
    return dict(value)


def reject_unknown(mapping: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """Raise :class:`ConfigError` naming every key of ``mapping`` not in ``known``."""
    known = set(known)
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}.")
