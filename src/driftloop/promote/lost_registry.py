"""A registry that does not know the project's champion is refused, never taken for a first cycle.

The project keeps its own record of what serves, in git (DVC outputs with ``cache: false``):

- ``reports/decision.json``: the version the last promote registered and promoted, with its run
  and the registry URI (credentials masked), or the champion that kept serving;
- ``data/snapshot/manifest.json``: the champion the last cycle started with, and the md5 of its
  training data.

Before the snapshot stage looks the champion up, :func:`verify_registry` checks that the registry
holds every version these records name (from the same run, trained on the same data) and that
the champion alias exists. A deleted ``mlflow.db``, a mistyped ``MLFLOW_TRACKING_URI`` or another
registry that happens to hold a v1 would otherwise make the cycle a first cycle that registers a
new v1 on the floor gates alone. The refusal (:class:`~driftloop.errors.RegistryError`, exit 5)
names both sides and the way forward.

To start a new registry on purpose, ``driftloop new-registry --reason ...``
(:func:`acknowledge`) writes ``.driftloop/new-registry.json`` at the project root: the
records it sets aside, the registry it accepts, who and why. The next snapshot then runs as a
first cycle and records the acknowledgement in its manifest (``new_registry``), promote in
``decision.json``. It matches only these records and this registry: once the new registry holds
a champion, the records name that one, and a later loss is refused again.

``mlflow`` is imported lazily.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from driftloop import paths
from driftloop.errors import DataError, RegistryError
from driftloop.tags import TAG_TRAIN_MD5

COMMAND = 'driftloop new-registry --reason "<why>"'


@dataclass(frozen=True)
class Claim:
    """One record of the project saying that ``model_name`` v``version`` serves (or served)."""

    file: str
    model_name: str
    version: str
    run_id: str | None = None
    training_data_md5: str | None = None
    registry: str | None = None

    def describe(self) -> str:
        run = f", run {self.run_id}" if self.run_id else ""
        data = f", training data {self.training_data_md5}" if self.training_data_md5 else ""
        where = f", in registry {self.registry}" if self.registry else ""
        return f"{self.model_name} v{self.version}{run}{data}{where} ({self.file})"


def registry_uri() -> str:
    """The registry MLflow uses now, credentials masked (:func:`driftloop.redact.redact`)."""
    import mlflow

    from driftloop.redact import redact

    return redact(mlflow.get_registry_uri())


def project_claims(workspace: Path, model_name: str) -> list[Claim]:
    """What the project's records in ``workspace`` say serves for ``model_name`` (empty: a first cycle).

    Records of another model name (``registry.model_name`` was changed) claim nothing.

    Raises
    ------
    DataError
        When a record exists but cannot be read.
    """
    from driftloop.contracts import DecisionRecord, Manifest

    claims: list[Claim] = []
    decision_file = workspace / paths.DECISION_JSON
    if decision_file.is_file():
        decision = DecisionRecord.from_dict(_read(decision_file))
        if decision.model_name in (None, model_name):
            file = str(paths.DECISION_JSON)
            if decision.promoted and decision.version:
                claims.append(Claim(file, model_name, decision.version, decision.run_id, registry=decision.registry))
            elif decision.previous_version:
                claims.append(Claim(file, model_name, decision.previous_version, registry=decision.registry))
    manifest_file = workspace / paths.MANIFEST
    if manifest_file.is_file():
        manifest = Manifest.from_dict(_read(manifest_file))
        entry = manifest.champion
        if entry is not None and entry.name == model_name:
            lineage = manifest.reference.get("champion") or {}
            md5 = lineage.get("training_data_md5") if str(lineage.get("version")) == entry.version else None
            claims.append(Claim(str(paths.MANIFEST), model_name, entry.version, training_data_md5=md5))
    return claims


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} cannot be read ({exc}): restore it from git (`git checkout -- {path}`).") from exc


def registry_problems(claims: list[Claim], model_name: str, alias: str) -> list[str]:
    """How the registry MLflow uses now disagrees with ``claims`` (empty: it knows the champion).

    Raises
    ------
    RegistryError
        When the registry cannot be read (anything but "does not exist").
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()

    def read(what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
                return None
            raise RegistryError(f"cannot read {what} of registered model {model_name!r}: {exc.message}") from exc

    model = read("the model", client.get_registered_model, model_name)
    if model is None:
        return [f"holds no registered model {model_name!r}"]
    problems: list[str] = []
    for claim in claims:
        mv = read(f"version {claim.version}", client.get_model_version, model_name, claim.version)
        if mv is None:
            problems.append(f"has no version {claim.version} of {model_name!r}")
            continue
        if claim.run_id and (mv.run_id or None) != claim.run_id:
            problems.append(f"holds a version {claim.version} registered from run {mv.run_id}, not {claim.run_id}")
        md5 = (mv.tags or {}).get(TAG_TRAIN_MD5)
        if claim.training_data_md5 and md5 != claim.training_data_md5:
            found = md5 or "(no md5 tag)"
            problems.append(f"holds a version {claim.version} trained on data {found}, not {claim.training_data_md5}")
    if alias not in (model.aliases or {}):
        problems.append(f"has no version of {model_name!r} holding the alias {alias!r}")
    return list(dict.fromkeys(problems))


def _claims_dicts(claims: list[Claim]) -> list[dict[str, Any]]:
    return [asdict(c) for c in claims]


def read_acknowledgement(root: Path) -> dict[str, Any] | None:
    """``.driftloop/new-registry.json`` of the project at ``root``, or None."""
    path = root / paths.NEW_REGISTRY
    if not path.is_file():
        return None
    data = _read(path)
    return data if isinstance(data, dict) else None


def verify_registry(workspace: Path, root: Path, model_name: str, alias: str) -> dict[str, Any] | None:
    """Refuse a registry that does not know the champion the project's records name.

    Returns
    -------
    dict or None
        The acknowledgement of ``driftloop new-registry`` that lets this cycle start a new
        registry (for the manifest's ``new_registry``); None when the registry knows the
        champion, or the records name none (a genuine first cycle).

    Raises
    ------
    RegistryError
        Naming what the records say (and in which file), what the registry at its URI holds,
        and how to go on: point to the right registry, or ``driftloop new-registry``.
    """
    claims = project_claims(workspace, model_name)
    if not claims:
        return None
    problems = registry_problems(claims, model_name, alias)
    if not problems:
        return None
    uri = registry_uri()
    ack = read_acknowledgement(root)
    if ack is not None and (ack.get("model_name"), ack.get("registry"), ack.get("replaces")) == (
        model_name,
        uri,
        _claims_dicts(claims),
    ):
        return ack
    said = "; ".join(c.describe() for c in claims)
    stale = (
        f" ({root / paths.NEW_REGISTRY} acknowledges other records or another registry: run the command again.)"
        if ack is not None
        else ""
    )
    raise RegistryError(
        f"the registry does not know this project's champion. The project's records say: {said}. "
        f"The registry at {uri} {'; '.join(problems)}. Taking this for a first cycle would register a new "
        f"version on the floor gates alone, so nothing was written. If the registry was lost or its URI is "
        f"wrong, restore it or point MLFLOW_TRACKING_URI / tracking.uri (and MLFLOW_REGISTRY_URI) at the one "
        f"that holds the champion. To start a new registry at {uri} on purpose, run `{COMMAND}`, then "
        f"`dvc repro`.{stale}"
    )


def acknowledge(
    workspace: Path, root: Path, model_name: str, alias: str, reason: str, actor: str | None = None
) -> tuple[dict[str, Any] | None, str]:
    """Record the intent to start a new registry at the current URI (``driftloop new-registry``).

    Returns
    -------
    tuple
        ``(acknowledgement, message)``: the acknowledgement written to
        ``.driftloop/new-registry.json``, or None when there is nothing to acknowledge (no records
        of a champion, or the registry knows it), with what to tell the user.

    Raises
    ------
    RegistryError
        When ``reason`` is empty, or the registry cannot be read.
    """
    from driftloop.promote.alias_history import default_actor, now

    if not reason.strip():
        raise RegistryError("--reason must say why a new registry is started (it is recorded in decision.json).")
    uri = registry_uri()
    claims = project_claims(workspace, model_name)
    if not claims:
        return None, f"The project's records name no champion of {model_name!r}: the next cycle is a first cycle."
    if not registry_problems(claims, model_name, alias):
        return None, f"The registry at {uri} holds the champion the project's records name: nothing to do."
    ack = {
        "model_name": model_name,
        "registry": uri,
        "replaces": _claims_dicts(claims),
        "reason": reason,
        "actor": actor or default_actor(),
        "at": now(),
    }
    path = root / paths.NEW_REGISTRY
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(ack, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    said = "; ".join(c.describe() for c in claims)
    return ack, (
        f"Wrote {path}: the next cycle starts a new registry at {uri} for {model_name!r} as a first cycle "
        f"(promoted on the floor gates alone), setting aside {said}. Run `dvc repro`."
    )
