"""Acting on a decision: lock, register, move the alias, write ``reports/decision.json``.

The lock is :func:`promotion_guard`: this host's file lock plus the registry-wide lease, so that
promoters on two hosts sharing a registry never both act on the same champion.

Order inside the lock, chosen so that every step before the alias move can crash
and be rerun without harm while the old champion keeps serving:

1. register the challenger (unless rejected with ``on_reject="skip"``),
   idempotently per run id (a rerun reuses the version);
2. only when promoted: move ``previous`` then ``champion`` (one call) and append
   the history tag;
3. record the decision on the registered model (``driftloop.last_decision``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.contracts import DecisionRecord
from driftloop.errors import LockError, RegistryError
from driftloop.promote import changelog
from driftloop.promote.config import TOP, OnReject
from driftloop.promote.gates import Decision
from driftloop.promote.lease import promotion_lease
from driftloop.promote.lineage_tags import tag_value
from driftloop.tags import TAG_DECISION
from driftloop.validation import check_value

if TYPE_CHECKING:
    from driftloop.promote.registry import AliasMove, ChampionRegistry

#: Sentinel for "do not check which version is champion" (None means "no champion").
ANY_CHAMPION = object()


class StaleDecision(RegistryError):
    """The champion moved since the comparison was made (another cycle promoted, or a rollback):
    nothing was registered or moved. A :class:`~driftloop.errors.RegistryError` (exit 5).

    Attributes
    ----------
    model_name, alias : str
    expected : str or None
        The champion version the comparison was made against (None: there was none).
    serving : str or None
        The version the alias names now (None: no champion).
    advice : str
        How the message ends: what to do about it.
    """

    def __init__(self, model_name: str, alias: str, expected: str | None, serving: str | None, advice: str) -> None:
        self.model_name, self.alias, self.expected, self.serving = model_name, alias, expected, serving
        self.advice = advice
        super().__init__(
            f"The {alias!r} alias of {model_name!r} moved from version {expected} to {serving} since the "
            f"comparison was made; this decision is stale{advice}"
        )

    def with_advice(self, advice: str) -> StaleDecision:
        """The same refusal, ending with ``advice`` (what the caller did about it) instead."""
        return StaleDecision(self.model_name, self.alias, self.expected, self.serving, advice)


@dataclass(frozen=True)
class PromotionOutcome:
    """What :func:`promote` did.

    Parameters
    ----------
    version : str or None
        The challenger's registered version (None when rejected with ``on_reject="skip"``).
    previous_version : str or None
        The champion before this promotion; for a rejection, the champion that keeps serving.
    promoted : bool
        True when the champion alias now points at ``version``.
    move : AliasMove or None
        The recorded alias move, when promoted.
    note : str or None
        Set when the registry was left as it was although the decision says otherwise (a
        rerun that rejects a challenger which already serves); it replaces the summary in
        ``decision.json`` and the recorded last decision, and says why.
    """

    version: str | None
    previous_version: str | None
    promoted: bool
    move: AliasMove | None = None
    note: str | None = None


@contextmanager
def promotion_lock(lock_path: str | os.PathLike[str], timeout_s: float = 60.0) -> Iterator[Path]:
    """Hold the promotion lock (an OS file lock, released even if the process dies).

    Parameters
    ----------
    lock_path : path
        Lock file; its folder is created. All promoters and rollbacks of one model on one host
        must use the same path. The lock is per host: :func:`promotion_guard` adds the
        registry-wide lease that serialises hosts.
    timeout_s : float
        Seconds to wait.

    Raises
    ------
    LockError
        When another process holds the lock for longer than ``timeout_s``.
    """
    from filelock import FileLock, Timeout

    path = Path(lock_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=timeout_s)
    try:
        lock.acquire()
    except Timeout as exc:
        raise LockError(
            f"The promotion lock {path} is held by another process; gave up after {timeout_s} s. "
            "Another promotion or rollback is running: wait for it, or raise promote.lock_timeout_s."
        ) from exc
    try:
        yield path
    finally:
        lock.release()


@contextmanager
def promotion_guard(
    registry: ChampionRegistry, lock_path: str | os.PathLike[str], timeout_s: float = 60.0
) -> Iterator[Path]:
    """Hold the promotion lock of this host, then the registry-wide promotion lease of the model.

    Every write of the champion alias or of the recorded decision runs inside it (promotion,
    rollback, manual promotion). The file lock queues this host's promoters cheaply; the lease
    (:mod:`driftloop.promote.lease`, a registered model ``<model>.promotion-lock``) serialises
    promoters of every host sharing the registry, which two lock files cannot. Each waits at most
    ``timeout_s``; the lease expires ``timeout_s`` (at least 30 s) after it was taken.

    Raises
    ------
    LockError
        When the lock or the lease is held by another for longer than ``timeout_s``.
    RegistryError
        When the registry refuses to create or read the lease.
    """
    with promotion_lock(lock_path, timeout_s) as path, promotion_lease(registry.client, registry.model_name, timeout_s):
        yield path


def version_body(
    decision: Decision, tags: Mapping[str, str], run_id: str, compared_with: str | None, description: str | None
) -> str:
    """What a challenger's version description says about its registration: the decision in one
    sentence, the headline comparison (from the gates' evidence), one line per gate and the lineage
    (:func:`driftloop.promote.changelog.version_body`).

    ``description`` is the caller's text: what it adds to the decision's summary (the note of a
    ``dvc exp run``) is kept as a note; a text of its own is kept whole.
    """
    note = None
    if description and description.strip() != decision.summary.strip():
        extra = description[len(decision.summary) :] if description.startswith(decision.summary) else description
        note = extra.strip() or None
    return changelog.version_body(
        decision,
        changelog.Lineage.from_tags(tags, run_id, compared_with),
        changelog.Headline.from_gates(decision.gates),
        note,
    )


def promote(
    registry: ChampionRegistry,
    decision: Decision,
    model_uri: str,
    run_id: str,
    tags: Mapping[str, Any],
    description: str | None,
    lock_path: str | os.PathLike[str],
    on_reject: OnReject = "skip",
    *,
    actor: str | None = None,
    lock_timeout_s: float = 60.0,
    expected_champion: str | object | None = ANY_CHAMPION,
) -> PromotionOutcome:
    """Register the challenger and move the champion alias, as ``decision`` says.

    Parameters
    ----------
    registry : ChampionRegistry
    decision : Decision
        From :func:`~driftloop.promote.gates.evaluate_gates`.
    model_uri : str
        The challenger (``models:/m-...`` or ``runs:/<run_id>/model``).
    run_id : str
        The run that logged the challenger (idempotency key: a rerun registers nothing new).
    tags : mapping
        Lineage tags (:func:`~driftloop.promote.lineage_tags.build_lineage_tags`);
        ``driftloop.decision`` is added here.
    description : str or None
        The caller's words on the decision: None or the decision's summary add nothing; text
        after the summary (or a text of its own) becomes a note in the version's description.
        The description itself is :func:`version_body`'s markdown, under a status line.
    lock_path : path
        See :func:`promotion_lock`; the registry-wide lease is taken too (:func:`promotion_guard`).
    on_reject : {"skip", "register_without_alias"}
        A rejected challenger is not registered, or registered without any alias.
    actor : str, optional
        Who promotes (default ``user@host``).
    lock_timeout_s : float
    expected_champion : str or None, optional
        The champion version the comparison was made against (None: there was none).
        When given and the champion has moved since (another cycle promoted while
        this one computed), nothing is registered or moved and RegistryError is
        raised: the decision is stale. Omitted: no check. Not checked when this
        ``run_id``'s version is the champion: the champion moved because of this run.
        Then a promoting rerun changes nothing, and a rejecting one moves nothing
        either and returns ``promoted=True`` with a ``note`` saying so (undoing a
        promotion is a rollback, not a side effect of a rerun).

    Returns
    -------
    PromotionOutcome

    Raises
    ------
    LockError
        Another promotion holds the lock or the registry-wide lease.
    RegistryError
        The registry refused a call; nothing after the failing call ran.
    StaleDecision
        A RegistryError: ``expected_champion`` is given and no longer the champion.
    ConfigError
        ``on_reject`` is not one of ``promote.on_reject``'s choices.
    """
    check_value(on_reject, TOP["on_reject"], "promote.on_reject")  # the config table's choices
    record = {**decision.to_dict(), "run_id": run_id}
    with promotion_guard(registry, lock_path, lock_timeout_s):
        aliases = registry.aliases()
        serving = aliases.get(registry.alias)
        already = registry.find_version_by_source_run(run_id)
        if decision.promoted and already is not None and str(already.version) == str(serving):
            # A rerun of the promotion that already happened (e.g. `dvc repro -f promote`): nothing
            # to do, and the comparison is not stale -- the champion moved because of this very run.
            # move_champion is idempotent and writes a history record a crash may have lost.
            move = registry.move_champion(already.version, reason=decision.summary, actor=actor, run_id=run_id)
            return PromotionOutcome(already.version, aliases.get(registry.previous_alias), True, move)
        if already is not None and str(already.version) == str(serving):
            # A rerun that now rejects the challenger this very run put in place (e.g. a compare setting
            # changed and `dvc repro` reran compare and promote). Undoing a promotion is a rollback, an
            # explicit act: move nothing, keep the version's tags, and record that it serves.
            outcome = _already_serving(registry, decision, already.version, aliases.get(registry.previous_alias))
            registry.record_decision({**record, "summary": outcome.note, "version": outcome.version, "promoted": True})
            return outcome
        if expected_champion is not ANY_CHAMPION and serving != expected_champion:
            expected = None if expected_champion is None else str(expected_champion)
            advice = ". Rerun the cycle to compare against the current champion."
            raise StaleDecision(registry.model_name, registry.alias, expected, serving, advice)
        if not decision.promoted and on_reject == "skip":
            outcome = PromotionOutcome(version=None, previous_version=serving, promoted=False)
        else:
            all_tags = {**{k: tag_value(v) for k, v in tags.items()}, TAG_DECISION: tag_value(decision.to_dict())}
            body = version_body(decision, all_tags, run_id, serving, description)
            info = registry.register(model_uri, run_id, all_tags, body)
            if decision.promoted:
                move = registry.move_champion(info.version, reason=decision.summary, actor=actor, run_id=run_id)
                outcome = PromotionOutcome(info.version, move.from_version, True, move)
            else:
                outcome = PromotionOutcome(info.version, serving, False)
        # Recorded last, so that "last decision" never claims a move that a crash prevented.
        registry.record_decision({**record, "version": outcome.version, "promoted": outcome.promoted})
        return outcome


def _already_serving(
    registry: ChampionRegistry, decision: Decision, version: str, previous: str | None
) -> PromotionOutcome:
    """The outcome of a rejecting rerun whose challenger (``version``) already serves."""
    moves = [m for m in registry.history() if m.to_version == str(version) and m.action != "rollback"]
    m = moves[-1] if moves else None
    if m is None:
        how = "it was promoted earlier"
    elif m.action == "manual":
        how = f"it was promoted by hand by {m.actor} at {m.at} (from version {m.from_version}: {m.reason})"
    else:
        how = f"this cycle promoted it at {m.at} (from version {m.from_version})"
    note = (
        f"Version {version}, this cycle's challenger, already serves as {registry.alias!r}: {how}. "
        "This rerun's decision differs and was not acted on: no alias moved. To undo the promotion, run "
        f"`driftloop rollback --reason ...`. The rerun's decision: {decision.summary}"
    )
    return PromotionOutcome(str(version), previous, True, m, note)


def decision_record(
    decision: Decision,
    outcome: PromotionOutcome | None,
    model_name: str,
    *,
    run_id: str | None = None,
    registry: str | None = None,
    new_registry: Mapping[str, Any] | None = None,
) -> DecisionRecord:
    """The ``reports/decision.json`` record (``run_id``: the run the outcome's version came from)."""
    return DecisionRecord(
        promoted=outcome.promoted if outcome is not None else decision.promoted,
        first_cycle=decision.first_cycle,
        model_name=model_name,
        version=None if outcome is None else outcome.version,
        previous_version=None if outcome is None else outcome.previous_version,
        gates=decision.gates,
        summary=outcome.note if outcome is not None and outcome.note else decision.summary,
        run_id=run_id if outcome is not None and outcome.version is not None else None,
        registry=registry,
        new_registry=new_registry,
    )


def write_decision(
    path: str | os.PathLike[str],
    decision: Decision,
    outcome: PromotionOutcome | None,
    model_name: str,
    **fields: Any,
) -> dict[str, Any]:
    """Write ``reports/decision.json`` atomically and return what was written.

    The layout is :class:`driftloop.contracts.DecisionRecord`'s (``format, promoted, first_cycle,
    model_name, version, previous_version, gates, summary``). ``outcome`` None (decision without a
    registry step) writes ``version``/``previous_version`` as null. ``fields`` are the keyword
    arguments of :func:`decision_record` (``run_id``, ``registry``, ``new_registry``).

    Examples
    --------
    >>> from driftloop.promote.gates import Gate
    >>> d = Decision(False, True, (Gate("floor.f1_macro", False, "0.5 < 0.6"),), "Rejected.")
    >>> import tempfile, pathlib
    >>> write_decision(pathlib.Path(tempfile.mkdtemp()) / "d.json", d, None, "m")["promoted"]
    False
    """
    record = decision_record(decision, outcome, model_name, **fields).to_dict()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename: a crash never leaves a half-written metrics file for DVC to read.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600 files; a report should be readable like any file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return record
