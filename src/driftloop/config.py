"""Composing the configuration, and keeping ``params.yaml`` honest.

``conf/`` (Hydra groups) is the one source of truth; ``params.yaml`` is its composed form,
the file DVC tracks for ``dvc params diff`` / ``dvc exp show`` and the one every stage reads.

* ``driftloop params [OVERRIDES]`` first writes the overrides *into* ``conf/``
  (:func:`persist_overrides`: a group choice ``model=hgb`` into the defaults list of
  ``conf/config.yaml``, a key ``train.window_days=14`` into its body, which Hydra merges last),
  then composes ``conf/`` alone. So ``dvc repro``, ``dvc exp run -S ...`` (DVC composes
  ``conf/`` plus the ``-S`` overrides) and a fresh clone all start from the same settings.
* ``params.yaml``'s header records a digest of ``conf/`` and of its own body. A stage checks
  them (:func:`check_params`, called by :func:`load_stage_config`): two hashes, no Hydra. Only
  when one differs is ``conf/`` composed, to name each differing key and the command to run.
* Under ``dvc exp run -S`` DVC writes ``params.yaml`` itself from ``conf/`` and the overrides,
  without our header; DVC sets ``DVC_EXP_BASELINE_REV`` for the stages it runs then, and such a
  file is accepted there. Anywhere else a ``params.yaml`` without our digest (``dvc exp apply``
  of such an experiment, or a hand-made file) is refused with the ``driftloop params`` command
  that keeps its settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from driftloop.errors import ConfigError
from driftloop.paths import refuse_paths_outside
from driftloop.redact import refuse_credentials_in
from driftloop.validation import check_keys

PARAMS_FILE = "params.yaml"
CONF_DIR = "conf"
#: Written by pipelines/check_params.py (the DVC ``params`` stage) when the check passed: the digest
#: of the params.yaml it checked. Git-ignored, so after ``dvc exp apply`` it no longer matches the
#: experiment's dvc.lock and the ``params`` stage runs again.
CHECK_STAMP = ".driftloop/params.checked"
_HEADER = "# Composed from conf/ by `driftloop params`. Do not edit: edit conf/ and recompose.\n"
_OVERRIDES_PREFIX = "# overrides: "
_DIGEST_PREFIX = "# digest: "
#: The environment variable DVC sets for the stages of ``dvc exp run`` (dvc/repo/experiments/queue/base.py).
EXP_ENV = "DVC_EXP_BASELINE_REV"


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
        message, which names the key, is kept. When a value is a URI holding credentials
        (:func:`driftloop.redact.refuse_credentials_in`), so that they never reach ``params.yaml``.
        When a configured path resolves outside the project and ``paths.allowed_outside`` does not
        list it (:func:`driftloop.paths.refuse_paths_outside`).
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
    composed: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    refuse_credentials_in(composed)  # before params.yaml or conf/config.yaml can be written
    refuse_paths_outside(composed, project_root(), workspace())  # data, review, lock, artifact paths
    return composed


_BODY_COMMENT = (
    "Set by `driftloop params KEY=VALUE`: merged after every group option above (`_self_`),\n"
    "so these win over them. Delete a key here to go back to its group's value."
)


def _yaml_rt() -> Any:
    from ruamel.yaml import YAML  # round-trip: keeps conf/config.yaml's comments and layout

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _set_choice(defaults: Any, entry: str, option: Any) -> bool:
    """Set ``entry`` (``model`` or ``override promote``) of a defaults list; False when absent."""
    for item in defaults:
        if isinstance(item, MutableMapping) and entry in item:
            item[entry] = option
            return True
    return False


def _set_key(doc: Any, dotted: str, value: Any) -> None:
    from ruamel.yaml.comments import CommentedMap

    parts = dotted.split(".")
    node = doc
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), Mapping):
            node[part] = CommentedMap()
            if i == 0 and len([k for k in doc if k != "defaults"]) == 1:
                doc.yaml_set_comment_before_after_key(part, before=_BODY_COMMENT)
        node = node[part]
    node[parts[-1]] = value
    if len(parts) == 1 and len([k for k in doc if k != "defaults"]) == 1:
        doc.yaml_set_comment_before_after_key(parts[0], before=_BODY_COMMENT)


def persist_overrides(overrides: Iterable[str], conf_dir: Path | None = None) -> list[str]:
    """Write Hydra ``overrides`` into ``conf/config.yaml`` so that ``conf/`` alone composes to
    what ``conf/`` plus the overrides composed to before.

    A group choice (``model=hgb``) replaces the option in the defaults list; when another option
    would still override it (a data config's ``- override /promote@_global_.promote: ...``), an
    ``- override <group>: <option>`` entry is added, as a command-line choice wins over a data
    config's. A key (``train.window_days=14``, ``+new.key=1``) goes into the file's body, which
    Hydra merges after every group (``_self_`` is last): its composed value is written, so what
    ``dvc exp run`` composes later is exactly what was asked for now.

    Returns
    -------
    list of str
        The overrides written.

    Raises
    ------
    ConfigError
        For an override that cannot be persisted (a sweep, a deletion ``~key``, a package
        ``group@pkg=...``) or when ``conf/`` would not compose to the same config; ``conf/`` is
        then left as it was.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    overrides = list(overrides)
    conf = (conf_dir or workspace() / CONF_DIR).resolve()
    target = compose(overrides, conf)
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:  # pragma: no cover - compose() above parsed them already
        raise ConfigError(f"cannot parse overrides {overrides}: {exc}") from exc
    path = conf / "config.yaml"
    original = path.read_text(encoding="utf-8")
    yaml = _yaml_rt()
    doc = yaml.load(original)
    choices: dict[str, Any] = {}
    for o in parsed:
        line = o.input_line
        if o.is_sweep_override() or o.is_delete() or o.package is not None:
            raise ConfigError(
                f"`driftloop params` cannot write {line!r} into conf/ (one value per key; no "
                "deletions or packages): edit conf/ by hand, then run `driftloop params`."
            )
        key = o.key_or_group
        if "." not in key and (conf / key).is_dir() and not o.is_add() and not o.is_force_add():
            if not _set_choice(doc["defaults"], key, o.value()):
                raise ConfigError(f"conf/config.yaml's defaults list has no `{key}` entry to set to {o.value()!r}.")
            choices[key] = o.value()
        else:
            value = _lookup(target, key)
            _set_key(doc, key, value)

    def write(document: Any) -> None:
        import io

        buf = io.StringIO()
        yaml.dump(document, buf)
        path.write_text(buf.getvalue(), encoding="utf-8")

    try:
        write(doc)
        composed = compose([], conf) if choices else target
        for key, option in choices.items():
            # a later option (the data config) overrides it: so must conf/, as the command line did
            if composed.get(key) != target.get(key) and not _set_choice(doc["defaults"], f"override {key}", option):
                doc["defaults"].append({f"override {key}": option})
        write(doc)
        differing = _diff(compose([], conf), target)
        if differing:
            raise ConfigError(
                f"conf/ with {overrides} written in would not compose to the same config "
                f"(differing: {differing[:8]}): edit conf/ by hand, then run `driftloop params`."
            )
    except BaseException:
        path.write_text(original, encoding="utf-8")
        raise
    return overrides


def _dump(cfg: Mapping[str, Any]) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(OmegaConf.create(dict(cfg)))


def conf_digest(conf_dir: Path | None = None) -> str:
    """sha256 of every YAML file under ``conf/`` (relative path and bytes, in path order)."""
    conf = conf_dir or workspace() / CONF_DIR
    h = hashlib.sha256()
    files = sorted(
        p
        for p in conf.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(conf).parts)
    )
    for p in files:
        h.update(p.relative_to(conf).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_params(overrides: Iterable[str] = (), path: Path | None = None) -> dict[str, Any]:
    """Persist ``overrides`` in ``conf/`` (:func:`persist_overrides`), compose ``conf/`` and write
    ``params.yaml`` with a header recording the overrides and the digests :func:`check_params` reads."""
    overrides = list(overrides)
    if overrides:
        persist_overrides(overrides)
    cfg = compose([])
    path = path or workspace() / PARAMS_FILE
    body = _dump(cfg)
    text = (
        _HEADER
        + _OVERRIDES_PREFIX
        + json.dumps(overrides)
        + "\n"
        + f"{_DIGEST_PREFIX}conf {conf_digest()} body {_text_digest(body)}\n"
        + body
    )
    path.write_text(text, encoding="utf-8")
    return cfg


def _split(text: str) -> tuple[list[str], dict[str, str], str]:
    """(overrides, digests, body) of a params.yaml text: the header lines we write, then the YAML."""
    overrides: list[str] = []
    digests: dict[str, str] = {}
    lines = text.splitlines(keepends=True)
    n = 0
    for line in lines:
        if line.startswith(_OVERRIDES_PREFIX):
            overrides = list(json.loads(line[len(_OVERRIDES_PREFIX) :]))
        elif line.startswith(_DIGEST_PREFIX):
            words = line[len(_DIGEST_PREFIX) :].split()
            digests = dict(zip(words[::2], words[1::2], strict=False))
        elif not line.startswith("#"):
            break
        n += 1
    return overrides, digests, "".join(lines[n:])


def read_params(path: Path | None = None) -> tuple[dict[str, Any], list[str]]:
    """Read ``params.yaml`` and the overrides recorded in its header (empty if none)."""
    data, overrides, _ = _read(path)
    return data, overrides


def _read(path: Path | None = None) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    import yaml

    path = path or workspace() / PARAMS_FILE
    if not path.is_file():
        raise ConfigError(f"{path} not found: run `driftloop params` to compose it from conf/.")
    text = path.read_text(encoding="utf-8")
    overrides, digests, body = _split(text)
    # libyaml's loader when PyYAML was built with it: the same safe loader, several times faster
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level.")
    try:
        refuse_credentials_in(data)
        refuse_paths_outside(data, project_root(), workspace())  # a hand-edited or DVC-composed file
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc} Then run `driftloop params`.") from None
    digests["body_ok"] = "yes" if digests.get("body") == _text_digest(body) else ""
    return data, overrides, digests


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


_PLAIN = re.compile(r"^[A-Za-z_][\w\-./*]*$")


def _override_value(value: Any) -> str | None:
    """``value`` in Hydra's override grammar, for the scalars that need no quoting (else None)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and _PLAIN.match(value) and value not in ("null", "true", "false"):
        return value
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        items = [_override_value(v) for v in value]
        return None if None in items else "[" + ",".join(items) + "]"  # type: ignore[arg-type]
    return None


def suggest_overrides(params: Mapping[str, Any], overrides: list[str], differing: list[str]) -> list[str]:
    """Overrides that make ``conf/`` compose to ``params``: for each config group with a differing
    key, the option of ``conf/<group>/`` whose composition equals params.yaml's group (e.g. after
    ``dvc exp apply`` of a ``-S model=hgb`` experiment), then ``key=value`` for each key that still
    differs (a hand edit). Only returned when composing with them gives ``params`` exactly."""
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
    try:
        remaining = _diff(compose(suggested), params)
    except ConfigError:
        return list(overrides)
    for key in remaining:
        value = _override_value(_lookup(params, key))
        if value is None or _lookup(params, key) == "<absent>":
            return list(overrides)
        suggested.append(f"{key}={value}")
    try:
        return suggested if _diff(compose(suggested), params) == [] else list(overrides)
    except ConfigError:
        return list(overrides)


def in_experiment() -> bool:
    """Whether this process is a stage of ``dvc exp run`` (DVC sets :data:`EXP_ENV` for them)."""
    return bool(os.environ.get(EXP_ENV))


def check_params(path: Path | None = None) -> dict[str, Any]:
    """Return ``params.yaml`` if it is what ``conf/`` composes to, else raise.

    Cheap when it is: the digests of ``conf/`` and of the body recorded in the header are
    compared with the files (no Hydra). A ``params.yaml`` without them is one DVC composed
    under ``dvc exp run -S`` from ``conf/`` and the overrides: accepted during the experiment
    (:func:`in_experiment`), refused anywhere else (after ``dvc exp apply``, say).

    Raises
    ------
    ConfigError
        Naming each differing key with both values, and the command that fixes it.
    """
    params, _, digests = _read(path)
    if "conf" not in digests:
        if in_experiment():
            return params  # DVC composed it from conf/ and the -S overrides for this experiment
    elif digests["body_ok"] and digests["conf"] == conf_digest():
        return params
    composed = compose([])
    differing = _diff(composed, params)
    if not differing:
        return params  # the same settings (a comment or the layout changed)
    shown = "; ".join(
        f"{k}: conf/ gives {_lookup(composed, k)!r}, params.yaml has {_lookup(params, k)!r}" for k in differing[:8]
    )
    more = f" (and {len(differing) - 8} more)" if len(differing) > 8 else ""
    if "conf" in digests and digests["body_ok"]:
        # conf/ was edited after params.yaml was written: recomposing is the fix.
        fix = "Run `driftloop params` to recompose it from conf/."
    else:
        # params.yaml itself was changed (by hand, or by `dvc exp apply` of a `-S` experiment).
        keep = suggest_overrides(params, [], differing)
        fix = (
            f"Run `driftloop params {' '.join(keep)}` to keep params.yaml's settings (they are written "
            "to conf/), or `driftloop params` to recompose it from conf/ as it is."
            if keep
            else "Run `driftloop params` to recompose it from conf/ (add Hydra overrides such as model=hgb "
            "to keep values set by hand: they are written to conf/)."
        )
    raise ConfigError(
        f"params.yaml is out of date with conf/ ({shown}{more}). {fix} "
        "To try settings without changing conf/, use `dvc exp run -S KEY=VALUE`."
    )


def write_check_stamp(path: Path | None = None) -> Path:
    """Write :data:`CHECK_STAMP`: the digest of the ``params.yaml`` that just passed :func:`check_params`
    (and whether it passed as an experiment's). Returns the stamp's path."""
    params = (path or workspace() / PARAMS_FILE).read_bytes()
    stamp = workspace() / CHECK_STAMP
    stamp.parent.mkdir(parents=True, exist_ok=True)
    how = "experiment" if in_experiment() else "conf"
    stamp.write_text(f"{hashlib.sha256(params).hexdigest()} {how}\n", encoding="utf-8")
    return stamp


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
    """Raise :class:`ConfigError` naming every key of ``mapping`` not in ``known``
    (:func:`driftloop.validation.check_keys`)."""
    check_keys(mapping, known, where)
