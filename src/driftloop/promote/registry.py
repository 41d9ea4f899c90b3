"""The MLflow Model Registry edge: champion by alias, idempotent registration, alias moves.

The one module that talks to the registry (:mod:`driftloop.champion` reads through
:func:`version_by_alias` and :func:`model_version`). Every alias move is also written as a
registered-model tag (:mod:`driftloop.promote.alias_history` is the record and its tag
form). The ``champion`` alias is moved by exactly one ``set_registered_model_alias``
call; the ``previous`` alias is set *before* it, so a crash in between leaves the
old champion serving (a rerun completes the move), and a crash after it but before
the history tag is healed by the next :meth:`ChampionRegistry.move_champion` for
the same version.

Every move and every recorded decision also rewrites the registry's markdown, as
:mod:`driftloop.promote.changelog` renders it: the registered model's description (the last
decision and the alias history as a table) and the description of each version whose status the
move changed (its first line and its moves section). Those writes come after the alias and the
history tag and never undo or block them: when one fails, a warning is logged and the text stays
stale until the next move or decision rewrites it (both are rendered from the tags, which hold
the truth), or :meth:`ChampionRegistry.refresh_changelog` is called.

``previous`` always names the version the last move replaced: a promotion, a manual
move (:meth:`ChampionRegistry.promote_version`) or a rollback can each be undone by a
rollback, and any older version is reached with a manual move.

Callers must serialise writers with :func:`driftloop.promote.promotion.promotion_guard` (the
host's file lock plus the registry-wide lease of :mod:`driftloop.promote.lease`, a registered
model ``<model>.promotion-lock`` that is not a model: this adapter refuses that name);
MLflow has no compare-and-swap on aliases.

``mlflow`` is imported lazily: it costs seconds and the gate logic needs none of it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from driftloop.errors import RegistryError
from driftloop.promote.alias_history import (
    AliasMove,
    MoveAction,
    default_actor,
    history_from_tags,
    history_tag,
)
from driftloop.promote.alias_history import now as _now
from driftloop.promote.lease import LEASE_SUFFIX, is_lease
from driftloop.promote.lineage_tags import parse_lineage, tag_value
from driftloop.tags import TAG_LAST_DECISION, TAG_ROLLED_BACK

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelVersionInfo:
    """What driftloop needs to know about one registered model version."""

    name: str
    version: str
    run_id: str | None
    source: str
    description: str
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def lineage(self) -> dict[str, Any]:
        """The driftloop lineage tags of this version (JSON ones decoded)."""
        return parse_lineage(self.tags)


def version_by_alias(model_name: str, alias: str) -> Any | None:
    """The MLflow model version ``alias`` points at, or None when the model or the alias does not exist.

    Raises
    ------
    RegistryError
        When the registry cannot be reached (anything but "does not exist").
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version_by_alias(model_name, alias)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of registered model {model_name!r}: {exc}") from exc


def model_version(model_name: str, version: str | int) -> Any:
    """The MLflow model version ``version`` of ``model_name`` (run id, tags, source).

    Raises
    ------
    RegistryError
        When the version cannot be read.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version(model_name, str(version))
    except MlflowException as exc:
        raise RegistryError(f"cannot read version {version} of registered model {model_name!r}: {exc}") from exc


class ChampionRegistry:
    """Champion/previous aliases, registration and alias history of one registered model.

    Parameters
    ----------
    model_name : str
        Registered model name.
    client : MlflowClient, optional
        Defaults to ``MlflowClient()``, which honours ``MLFLOW_TRACKING_URI`` and
        ``MLFLOW_REGISTRY_URI``.
    alias, previous_alias : str
        The serving alias and the alias kept on the champion it replaced.

    Raises
    ------
    RegistryError
        When ``model_name`` is empty or contains a quote (it goes into search filters).

    Examples
    --------
    Not run as a doctest: it needs an MLflow model registry holding the model.

    >>> reg = ChampionRegistry("sentiment")          # doctest: +SKIP
    >>> reg.champion().version                       # doctest: +SKIP
    '3'
    """

    def __init__(
        self,
        model_name: str,
        client: MlflowClient | None = None,
        alias: str = "champion",
        previous_alias: str = "previous",
    ) -> None:
        if not model_name or "'" in model_name or '"' in model_name:
            raise RegistryError(f"Registered model name must be non-empty and quote-free. Got {model_name!r}.")
        if is_lease(model_name):
            raise RegistryError(
                f"{model_name!r} is a promotion lease (held while a promotion runs, see driftloop.promote.lease), "
                f"not a model: use {model_name[: -len(LEASE_SUFFIX)]!r}."
            )
        if alias == previous_alias:
            raise RegistryError(f"alias and previous_alias must differ. Got {alias!r} for both.")
        if client is None:
            from mlflow.tracking import MlflowClient

            client = MlflowClient()
        self.model_name = model_name
        self.client = client
        self.alias = alias
        self.previous_alias = previous_alias

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one client call, turning MLflow's errors into RegistryError naming the model."""
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            raise RegistryError(
                f"MLflow registry refused to {what} for model {self.model_name!r} "
                f"(registry {getattr(self.client, '_registry_uri', '?')}): {exc.message}"
            ) from exc

    def _registered_model(self) -> Any | None:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

        try:
            return self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
                return None
            raise RegistryError(
                f"Cannot read registered model {self.model_name!r} "
                f"(registry {getattr(self.client, '_registry_uri', '?')}): {exc.message}"
            ) from exc

    def exists(self) -> bool:
        """Whether the registry holds this registered model."""
        return self._registered_model() is not None

    def other_models(self, limit: int = 20) -> list[str]:
        """Names of (up to ``limit``) registered models in the registry, leases left out: for a
        message that names what exists when the asked-for model does not."""
        found = self._call("list registered models", self.client.search_registered_models, max_results=limit + 10)
        return sorted(m.name for m in found if not is_lease(m.name))[:limit]

    def _ensure_registered_model(self) -> None:
        if self._registered_model() is None:
            from mlflow.exceptions import MlflowException
            from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

            try:
                self.client.create_registered_model(self.model_name)
            except MlflowException as exc:
                # Someone created it between our read and write (a second host): fine.
                if exc.error_code not in (ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)):
                    raise RegistryError(f"Cannot create registered model {self.model_name!r}: {exc.message}") from exc

    def aliases(self) -> dict[str, str]:
        """Alias -> version of the registered model ({} when it does not exist).

        Read from ``get_registered_model``: ``search_model_versions`` returns empty
        aliases in MLflow 3.17.
        """
        rm = self._registered_model()
        return {} if rm is None else {str(k): str(v) for k, v in (rm.aliases or {}).items()}

    def _info(self, mv: Any, aliases: Mapping[str, str] | None = None) -> ModelVersionInfo:
        version = str(mv.version)
        if aliases is None:
            aliases = self.aliases()
        return ModelVersionInfo(
            name=self.model_name,
            version=version,
            run_id=mv.run_id or None,
            source=str(mv.source),
            description=mv.description or "",
            tags=dict(mv.tags or {}),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
        )

    def get_version(self, version: str | int) -> ModelVersionInfo:
        """One version; RegistryError when it does not exist."""
        mv = self._call(f"get version {version}", self.client.get_model_version, self.model_name, str(version))
        return self._info(mv)

    # -- reads ----------------------------------------------------------------------------------

    def champion(self) -> ModelVersionInfo | None:
        """The version holding the champion alias, or None (first cycle)."""
        aliases = self.aliases()
        version = aliases.get(self.alias)
        if version is None:
            return None
        mv = self._call(f"get version {version}", self.client.get_model_version, self.model_name, version)
        return self._info(mv, aliases)

    def previous(self) -> ModelVersionInfo | None:
        """The version holding the previous alias, or None."""
        aliases = self.aliases()
        version = aliases.get(self.previous_alias)
        if version is None:
            return None
        return self._info(
            self._call(f"get version {version}", self.client.get_model_version, self.model_name, version), aliases
        )

    def find_version_by_source_run(self, run_id: str) -> ModelVersionInfo | None:
        """The earliest version registered from ``run_id`` (idempotency key), or None."""
        if self._registered_model() is None:
            return None
        if "'" in run_id:
            raise RegistryError(f"run_id must be quote-free. Got {run_id!r}.")
        found = self._call(
            f"search versions of run {run_id}",
            self.client.search_model_versions,
            f"name = '{self.model_name}' and run_id = '{run_id}'",
        )
        if not found:
            return None
        return self._info(min(found, key=lambda mv: int(mv.version)))

    def lineage(self, version: str | int) -> dict[str, Any]:
        """Lineage tags of ``version`` plus its run id and source (the next cycle's reference)."""
        info = self.get_version(version)
        return {"version": info.version, "run_id": info.run_id, "source": info.source, **info.lineage}

    def history(self) -> list[AliasMove]:
        """Every recorded alias move, oldest first."""
        rm = self._registered_model()
        return [] if rm is None else history_from_tags(self.model_name, rm.tags or {})

    def last_decision(self) -> dict[str, Any] | None:
        """The latest promotion decision recorded for this model (promoted or not)."""
        rm = self._registered_model()
        raw = None if rm is None else (rm.tags or {}).get(TAG_LAST_DECISION)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return {"summary": raw}  # truncated or hand-edited: still worth showing

    def status(self) -> dict[str, Any]:
        """Champion, its lineage, the previous version, the last decision and the last move."""
        champ = self.champion()
        prev = self.aliases().get(self.previous_alias)
        hist = self.history()
        return {
            "model_name": self.model_name,
            "champion": None
            if champ is None
            else {
                "version": champ.version,
                "run_id": champ.run_id,
                "source": champ.source,
                "description": champ.description,
                "lineage": champ.lineage,
            },
            "previous_version": prev,
            "last_decision": self.last_decision(),
            "last_move": hist[-1].to_dict() if hist else None,
        }

    # -- the changelog: markdown descriptions (driftloop.promote.changelog) -------------------------

    def _version_description(self, version: str, body: str) -> str:
        from driftloop.promote import changelog

        return changelog.version_description(
            version, body, self.history(), self.aliases(), self.alias, self.previous_alias
        )

    def _set_description(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """A description write: idempotent (the same text again), so retried while the registry is
        unreachable (:func:`driftloop.tracking.retrying`); a refusal is a RegistryError."""
        from driftloop.tracking import retrying

        self._call(what, retrying, fn, *args, **kwargs)

    def _describe(self, versions: tuple[str | None, ...]) -> None:
        """Rewrite the descriptions of ``versions`` (status line and moves; the registration-time
        body is kept) and of the registered model, where they changed."""
        from driftloop.promote import changelog

        aliases, moves = self.aliases(), self.history()
        for version in sorted({v for v in versions if v}, key=lambda v: (len(v), v)):
            mv = self._call(f"get version {version}", self.client.get_model_version, self.model_name, version)
            text = changelog.version_description(
                version, changelog.split_body(mv.description), moves, aliases, self.alias, self.previous_alias
            )
            if text != (mv.description or ""):
                self._set_description(
                    f"describe version {version}",
                    self.client.update_model_version,
                    self.model_name,
                    version,
                    description=text,
                )
        rm = self._registered_model()
        if rm is None:
            return
        text = changelog.model_description(
            changelog.ModelChangelog(
                self.model_name, self.alias, self.previous_alias, aliases, moves, self.last_decision()
            )
        )
        if text != (rm.description or ""):
            self._set_description(
                "describe the registered model", self.client.update_registered_model, self.model_name, text
            )

    def _refresh_changelog(self, versions: tuple[str | None, ...]) -> bool:
        """:meth:`_describe`, after the writes that matter (aliases, history, decision): a failure
        is logged and swallowed, never raised, so that it cannot undo or hide a move that happened.
        The texts are rendered from the tags, so the next move or decision (or
        :meth:`refresh_changelog`) repairs a stale one. Returns whether every write succeeded."""
        from driftloop.tracking import is_transient

        try:
            self._describe(versions)
        except Exception as exc:
            if not isinstance(exc, RegistryError) and not is_transient(exc):
                raise  # a bug, not the registry: let it be seen
            log.warning(
                "The markdown changelog of registered model %r was not updated (%s); the alias move and "
                "its history tag are recorded. The next move or decision rewrites it.",
                self.model_name,
                exc,
            )
            return False
        return True

    def refresh_changelog(self) -> bool:
        """Rewrite the registered model's description and that of every version an alias names
        or a move touched (e.g. after a failed description write). Callers hold the promotion lock.

        Returns
        -------
        bool
            Whether every description write succeeded (failures are logged, not raised).
        """
        touched = {v for m in self.history() for v in (m.from_version, m.to_version)}
        return self._refresh_changelog(tuple(touched | set(self.aliases().values())))

    # -- writes (callers hold the promotion lock) -------------------------------------------------

    def record_decision(self, decision: Mapping[str, Any], *, create: bool = True) -> bool:
        """Store ``decision`` as the model's last decision.

        Parameters
        ----------
        decision : mapping
        create : bool
            Create the registered model when it does not exist; False records nothing then.

        Returns
        -------
        bool
            Whether the decision was recorded.
        """
        if create:
            self._ensure_registered_model()
        elif self._registered_model() is None:
            return False
        self._call(
            "record the last decision",
            self.client.set_registered_model_tag,
            self.model_name,
            TAG_LAST_DECISION,
            tag_value(dict(decision)),
        )
        self._refresh_changelog(())  # the model's description shows the last decision
        return True

    def _resolve_source(self, model_uri: str, run_id: str) -> tuple[str, str | None]:
        """(source, logged-model id) for ``create_model_version``.

        MLflow 3 stores ``log_model`` output as a LoggedModel, not under the run's
        artifacts, so a ``runs:/<run>/<name>`` URI is resolved to ``models:/<id>``
        as ``mlflow.register_model`` does (which we cannot call: it ignores our client).
        """
        if model_uri.startswith("models:/m-"):
            return model_uri, model_uri[len("models:/") :].split("/")[0]
        if model_uri.startswith("runs:/"):
            rest = model_uri[len("runs:/") :].strip("/")
            uri_run, _, path = rest.partition("/")
            run = self._call(f"read run {uri_run}", self.client.get_run, uri_run)
            found = self._call(
                f"find logged model {path!r} of run {uri_run}",
                self.client.search_logged_models,
                experiment_ids=[run.info.experiment_id],
                filter_string=f"name = '{path}'",
            )
            mine = [m for m in found if m.source_run_id == uri_run]
            if mine:
                newest = max(mine, key=lambda m: m.creation_timestamp or 0)
                return f"models:/{newest.model_id}", newest.model_id
        return model_uri, None

    def register(self, model_uri: str, run_id: str, tags: Mapping[str, str], description: str) -> ModelVersionInfo:
        """Register the challenger once per ``run_id``; a rerun refreshes tags and description.

        Parameters
        ----------
        model_uri : str
            ``models:/m-...`` (``ModelInfo.model_uri``) or ``runs:/<run_id>/<name>``.
        run_id : str
            The run that logged the model: the idempotency key.
        tags : mapping
            Lineage tags (see :mod:`driftloop.promote.lineage_tags`).
        description : str
            What the version was registered with (:func:`driftloop.promote.changelog.version_body`,
            or any text). The version's description is this under a status line, followed by the
            alias moves that touched the version (:func:`~driftloop.promote.changelog.version_description`).

        Returns
        -------
        ModelVersionInfo
        """
        from driftloop.promote import changelog  # pure, but it imports the gates: only when writing

        clean = {str(k): tag_value(v) for k, v in tags.items()}
        body = changelog.split_body(description)
        existing = self.find_version_by_source_run(run_id)
        if existing is not None:
            for key, value in clean.items():
                if existing.tags.get(key) != value:
                    self._call(
                        f"tag version {existing.version}",
                        self.client.set_model_version_tag,
                        self.model_name,
                        existing.version,
                        key,
                        value,
                    )
            description = self._version_description(existing.version, body)
            if existing.description != description:
                self._call(
                    f"describe version {existing.version}",
                    self.client.update_model_version,
                    self.model_name,
                    existing.version,
                    description=description,
                )
            return self.get_version(existing.version)
        self._ensure_registered_model()
        source, model_id = self._resolve_source(model_uri, run_id)
        # A new version holds no alias and no move names it yet: its status line says so.
        description = changelog.version_description("", body, (), {}, self.alias, self.previous_alias)
        mv = self._call(
            f"create a version from {model_uri}",
            self.client.create_model_version,
            name=self.model_name,
            source=source,
            run_id=run_id,
            tags=clean,
            description=description,
            model_id=model_id,
        )
        return self._info(mv)

    def _append_history(self, move: AliasMove) -> AliasMove:
        seq = max((m.seq for m in self.history()), default=0) + 1
        move = AliasMove(**{**move.to_dict(), "seq": seq})
        self._call("record the alias move", self.client.set_registered_model_tag, self.model_name, *history_tag(move))
        return move

    def move_champion(
        self,
        version: str | int,
        reason: str,
        actor: str | None = None,
        run_id: str | None = None,
        action: MoveAction = "promote",
    ) -> AliasMove:
        """Make ``version`` the champion in one alias call; the old champion becomes ``previous``.

        Idempotent: when ``version`` already is the champion nothing moves, and a move
        whose history record was lost in a crash is recorded now (action ``recorded``).
        ``action`` ("promote" or "manual") is what the history records for a real move.

        Returns
        -------
        AliasMove
            The recorded move (the latest one for an idempotent call).
        """
        version = str(version)
        actor = actor or default_actor()
        self.get_version(version)  # fail before touching any alias when the version is unknown
        aliases = self.aliases()
        old = aliases.get(self.alias)
        if old == version:
            hist = self.history()
            if hist and hist[-1].to_version == version:
                # A rerun: rewrite the changelog too, in case a failed write left it stale.
                self._refresh_changelog((version, hist[-1].from_version, aliases.get(self.previous_alias)))
                return hist[-1]
            move = self._append_history(
                AliasMove(
                    0,
                    self.alias,
                    aliases.get(self.previous_alias),
                    version,
                    "recorded",
                    actor,
                    f"{reason} (alias had moved; its record was lost and is written now)",
                    _now(),
                    run_id,
                )
            )
            self._refresh_changelog((version, aliases.get(self.previous_alias)))
            return move
        if old is not None:
            # Set before the switch: a crash here leaves the old champion serving.
            self._call(
                f"set alias {self.previous_alias!r}",
                self.client.set_registered_model_alias,
                self.model_name,
                self.previous_alias,
                old,
            )
        # The one call that changes what serves.
        self._call(
            f"set alias {self.alias!r}", self.client.set_registered_model_alias, self.model_name, self.alias, version
        )
        move = self._append_history(AliasMove(0, self.alias, old, version, action, actor, reason, _now(), run_id))
        # The new champion, the one it replaced and the one that lost `previous` changed status.
        self._refresh_changelog((version, old, aliases.get(self.previous_alias)))
        return move

    def promote_version(self, version: str | int, reason: str, actor: str | None = None) -> AliasMove | None:
        """A manual, audited move of the champion alias to ``version`` (``driftloop promote --version``).

        The replaced champion becomes ``previous`` (a rollback undoes this move) and the
        move is recorded in the alias history with action ``manual``. Callers hold the
        promotion lock.

        Parameters
        ----------
        version : str or int
            An existing version of this registered model.
        reason : str
            Why; must not be empty.
        actor : str, optional
            Who (default ``user@host``).

        Returns
        -------
        AliasMove or None
            The recorded move; None when ``version`` already is the champion (nothing moves).

        Raises
        ------
        RegistryError
            When ``reason`` is empty, or the model or ``version`` does not exist (the
            message lists the versions there are).

        Examples
        --------
        Not run as a doctest: it needs an MLflow model registry and the promotion lock file.

        >>> reg.promote_version(2, reason="v3 misclassifies refunds", actor="alice")  # doctest: +SKIP
        """
        version = str(version).strip()
        if not reason or not reason.strip():
            raise RegistryError("A manual promotion needs a reason (--reason): it is recorded in the alias history.")
        if self._registered_model() is None:
            raise RegistryError(
                f"Registered model {self.model_name!r} does not exist: no version {version!r} to promote."
            )
        found = self._call("list versions", self.client.search_model_versions, f"name = '{self.model_name}'")
        known = sorted({str(mv.version) for mv in found}, key=lambda v: (len(v), v))
        if version not in known:
            raise RegistryError(
                f"Model {self.model_name!r} has no version {version!r}; its versions are {', '.join(known) or 'none'}."
            )
        if self.aliases().get(self.alias) == version:
            return None
        return self.move_champion(
            version, reason=reason, actor=actor, run_id=self.get_version(version).run_id, action="manual"
        )

    def rollback(self, reason: str, actor: str | None = None) -> AliasMove:
        """Move the champion back to the ``previous`` version in one alias call.

        ``previous`` then names the demoted version, so that a second rollback undoes
        the first; an older version is reached with :meth:`promote_version`.

        Raises
        ------
        RegistryError
            When there is no champion, no previous version, or both are the same.
        """
        actor = actor or default_actor()
        aliases = self.aliases()
        champ, prev = aliases.get(self.alias), aliases.get(self.previous_alias)
        if champ is None:
            raise RegistryError(f"Model {self.model_name!r} has no {self.alias!r} alias: nothing to roll back.")
        if prev is None or prev == champ:
            raise RegistryError(
                f"Model {self.model_name!r} has no {self.previous_alias!r} version distinct from "
                f"{self.alias!r} (version {champ}): nothing to roll back to."
            )
        # The one call that changes what serves; then keep the demoted version findable.
        self._call(
            f"set alias {self.alias!r}", self.client.set_registered_model_alias, self.model_name, self.alias, prev
        )
        self._call(
            f"set alias {self.previous_alias!r}",
            self.client.set_registered_model_alias,
            self.model_name,
            self.previous_alias,
            champ,
        )
        move = self._append_history(AliasMove(0, self.alias, champ, prev, "rollback", actor, reason, _now()))
        # Also on the demoted version itself, so its page in the UI says why it stopped serving.
        self._call(
            f"tag version {champ}",
            self.client.set_model_version_tag,
            self.model_name,
            champ,
            TAG_ROLLED_BACK,
            tag_value({"at": move.at, "actor": actor, "reason": reason, "restored_version": prev}),
        )
        self._refresh_changelog((champ, prev))
        return move
