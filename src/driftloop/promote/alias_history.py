"""The champion alias's history: one record per move, kept as registered-model tags.

MLflow keeps no alias history, so every alias move is also written as one
registered-model tag ``driftloop.alias_move.<seq>`` (JSON: who, when, why, from,
to). This module is the record and its tag form, and imports no MLflow; the
registry I/O that reads and writes the tags is :mod:`driftloop.promote.registry`.
"""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from driftloop.errors import RegistryError
from driftloop.promote.lineage_tags import tag_value
from driftloop.tags import TAG_ALIAS_MOVE_PREFIX

MoveAction = Literal["promote", "manual", "rollback", "recorded"]


def default_actor() -> str:
    """``user@host`` of this process: who moved an alias when nobody says otherwise."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AliasMove:
    """One recorded move of the champion alias.

    Parameters
    ----------
    seq : int
        1-based position in the model's alias history.
    alias : str
    from_version, to_version : str or None
        Champion before and after (``from_version`` None on the first promotion).
    action : {"promote", "manual", "rollback", "recorded"}
        ``promote``: a cycle's decision; ``manual``: ``driftloop promote --version``;
        ``recorded``: the move had happened but its record was lost in a crash.
    actor, reason, at : str
        Who, why and when (ISO 8601, UTC).
    run_id : str or None
        The challenger's run for promotions.
    """

    seq: int
    alias: str
    from_version: str | None
    to_version: str | None
    action: MoveAction
    actor: str
    reason: str
    at: str
    run_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seq": self.seq,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "action": self.action,
            "actor": self.actor,
            "reason": self.reason,
            "at": self.at,
            "run_id": self.run_id,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AliasMove:
        """Inverse of :meth:`to_dict`."""
        return cls(
            seq=int(d["seq"]),
            alias=str(d["alias"]),
            from_version=None if d.get("from_version") is None else str(d["from_version"]),
            to_version=None if d.get("to_version") is None else str(d["to_version"]),
            action=d.get("action", "promote"),
            actor=str(d.get("actor", "")),
            reason=str(d.get("reason", "")),
            at=str(d.get("at", "")),
            run_id=d.get("run_id"),
        )


def history_tag(move: AliasMove) -> tuple[str, str]:
    """The registered-model tag (name, JSON value) that records ``move``; names sort by ``seq``."""
    return f"{TAG_ALIAS_MOVE_PREFIX}{move.seq:06d}", tag_value(move.to_dict())


def history_from_tags(model_name: str, tags: Mapping[str, str]) -> list[AliasMove]:
    """Every alias move recorded in a registered model's ``tags``, oldest first.

    Raises
    ------
    RegistryError
        When a history tag is not a readable move (naming the model and the tag).

    Examples
    --------
    >>> move = AliasMove(1, "champion", None, "1", "promote", "a@h", "first", "2026-01-01T00:00:00Z")
    >>> [m.to_version for m in history_from_tags("m", dict([history_tag(move)]))]
    ['1']
    """
    moves = []
    for key, value in tags.items():
        if key.startswith(TAG_ALIAS_MOVE_PREFIX):
            try:
                moves.append(AliasMove.from_dict(json.loads(value)))
            except (ValueError, KeyError, TypeError) as exc:
                raise RegistryError(
                    f"Registered model {model_name!r} has an unreadable history tag {key!r}: {exc}"
                ) from exc
    return sorted(moves, key=lambda m: m.seq)
