"""The registry-wide promotion lease: a mutex that holds across hosts sharing one MLflow registry.

The promotion lock (:func:`driftloop.promote.promotion.promotion_lock`) is an OS file lock: it
serialises the promoters of one host. Two projects on two hosts sharing a tracking server have two
lock files, so both could read ``champion=v1``, both pass the stale-decision check and both move
the alias. MLflow has no compare-and-set on aliases; what its registry stores do make atomic is the
creation of a registered model: the name is unique (a database constraint on the sqlite/SQL store
behind a server too), so a second ``create_registered_model`` of one name fails with
``RESOURCE_ALREADY_EXISTS``. The lease is such a registered model, ``<model>.promotion-lock``:

- acquired by creating it, with tags naming its holder (a random token, pid, host, when, until
  when) and a description saying what it is;
- released by deleting it, in ``finally``;
- held by another: polled with a short backoff until ``timeout_s``, then :class:`LockError`
  (exit 7) naming the lease, its holder and what to do;
- left behind by a holder that died (SIGKILL, power loss): taken over at once when the holder's
  host is this host and its pid is gone; otherwise once ``expires_at`` has passed. A lease expires
  ``timeout_s`` after it was taken (``promote.lock_timeout_s``, which bounds the critical section:
  a few registry calls), and never sooner than :data:`MIN_LIFETIME_S`: a short wait (even 0: do
  not wait) must not let another host in while this promotion still runs.

What it does not guarantee, and why it is enough here: a takeover is read-check-delete, not
atomic, so two hosts taking over the same dead lease in the same few milliseconds could both
succeed; and expiry compares clocks of two hosts (keep them in NTP sync). Both need a holder that
died or overran its lease, not two healthy promotions.

``mlflow`` is imported lazily.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from driftloop.errors import LockError, RegistryError
from driftloop.tags import (
    TAG_ACQUIRED_AT,
    TAG_EXPIRES_AT,
    TAG_HOLDER,
    TAG_LEASE_HOST,
    TAG_LEASE_PID,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

#: The lease of model ``m`` is the registered model ``m + LEASE_SUFFIX``.
LEASE_SUFFIX = ".promotion-lock"
#: The shortest lease lifetime, whatever the wait: a critical section's few calls fit well inside.
MIN_LIFETIME_S = 30.0
#: Poll delays while another holds the lease: short first (a promotion takes about a second).
FIRST_POLL_S, MAX_POLL_S = 0.05, 1.0


def lease_name(model_name: str) -> str:
    """The registered model name of ``model_name``'s promotion lease.

    >>> lease_name("sentiment")
    'sentiment.promotion-lock'
    """
    return model_name + LEASE_SUFFIX


def is_lease(name: str) -> bool:
    """Whether a registered model name is a promotion lease, not a model.

    >>> is_lease("sentiment.promotion-lock"), is_lease("sentiment")
    (True, False)
    """
    return name.endswith(LEASE_SUFFIX)


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, as its tags say (fields are None when a tag is missing or unreadable)."""

    token: str | None
    pid: int | None
    host: str | None
    acquired_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def from_tags(cls, tags: dict[str, str]) -> LeaseHolder:
        pid = tags.get(TAG_LEASE_PID, "")
        return cls(
            token=tags.get(TAG_HOLDER),
            pid=int(pid) if pid.isdigit() else None,
            host=tags.get(TAG_LEASE_HOST),
            acquired_at=_parse_time(tags.get(TAG_ACQUIRED_AT)),
            expires_at=_parse_time(tags.get(TAG_EXPIRES_AT)),
        )

    def describe(self) -> str:
        since = self.acquired_at.isoformat(timespec="seconds") if self.acquired_at else "an unknown time"
        until = self.expires_at.isoformat(timespec="seconds") if self.expires_at else "never (no expires_at tag)"
        return f"pid {self.pid} on host {self.host} since {since}, expiring {until}"

    def why_stale(self, now: datetime) -> str | None:
        """Why the lease can be taken over now (its holder is gone, or it expired), or None."""
        from driftloop.local_faults import pid_alive

        if self.host == socket.gethostname() and self.pid is not None and not pid_alive(self.pid):
            return f"its holder, pid {self.pid} on this host, is gone"
        if self.expires_at is not None and self.expires_at <= now:
            return f"it expired at {self.expires_at.isoformat(timespec='seconds')}"
        return None


def _parse_time(text: str | None) -> datetime | None:
    try:
        value = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


def _read(client: MlflowClient, name: str) -> LeaseHolder | None:
    """The lease's holder, or None when there is no lease (an idempotent read: retried)."""
    from mlflow.exceptions import MlflowException

    from driftloop.tracking import retrying

    try:
        model = retrying(client.get_registered_model, name)
    except MlflowException as exc:
        if _code(exc) in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            return None
        raise RegistryError(f"Cannot read the promotion lease {name!r}: {exc.message}") from exc
    return LeaseHolder.from_tags(dict(model.tags or {}))


def _delete(client: MlflowClient, name: str) -> None:
    """Delete the lease; one already gone is fine (deleting is idempotent: retried)."""
    from mlflow.exceptions import MlflowException

    from driftloop.tracking import retrying

    try:
        retrying(client.delete_registered_model, name)
    except MlflowException as exc:
        if _code(exc) not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise RegistryError(f"Cannot delete the promotion lease {name!r}: {exc.message}") from exc


def _create(client: MlflowClient, name: str, tags: dict[str, str], description: str) -> bool:
    """Try to create the lease: True when created, False when it already exists.

    Creation is not idempotent, yet it is retried on a transient error: when the first attempt
    reached the store before the connection broke, the retry sees RESOURCE_ALREADY_EXISTS, and
    the caller then finds its own token in the holder tag (:func:`acquire` checks it).
    """
    from mlflow.exceptions import MlflowException

    from driftloop.tracking import retrying

    try:
        retrying(client.create_registered_model, name, tags=tags, description=description)
    except MlflowException as exc:
        if _code(exc) in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            return False
        raise RegistryError(f"Cannot create the promotion lease {name!r}: {exc.message}") from exc
    return True


@dataclass(frozen=True)
class Lease:
    """A held lease: the registered model ``name``, created with ``token`` as its holder."""

    name: str
    token: str


def acquire(client: MlflowClient, model_name: str, timeout_s: float) -> Lease:
    """Take the promotion lease of ``model_name``, waiting at most ``timeout_s`` for another holder.

    Raises
    ------
    LockError
        When a live holder kept it for ``timeout_s`` (the message names the lease and holder).
    RegistryError
        When the registry refuses anything else.
    """
    name = lease_name(model_name)
    host, pid = socket.gethostname(), os.getpid()
    token = f"{host}:{pid}:{uuid.uuid4().hex}"
    deadline = time.monotonic() + timeout_s
    delay = FIRST_POLL_S
    while True:
        acquired = _now()
        tags = {
            TAG_HOLDER: token,
            TAG_LEASE_PID: str(pid),
            TAG_LEASE_HOST: host,
            TAG_ACQUIRED_AT: acquired.isoformat(),
            TAG_EXPIRES_AT: (acquired + timedelta(seconds=max(timeout_s, MIN_LIFETIME_S))).isoformat(),
        }
        description = (
            f"driftloop promotion lease of {model_name!r}, not a model: held by pid {pid} on {host} "
            f"since {acquired.isoformat(timespec='seconds')}; deleted when the promotion ends."
        )
        if _create(client, name, tags, description):
            return Lease(name, token)
        holder = _read(client, name)
        if holder is None:
            continue  # released between our create and our read: try again at once
        if holder.token == token:
            return Lease(name, token)  # our create went through before a retried call saw it exist
        stale = holder.why_stale(_now())
        if stale is not None:
            # Re-read just before deleting, so that a lease someone else took over meanwhile survives.
            if _read(client, name) == holder:
                log.warning(
                    "Taking over the promotion lease %r (%s): it was held by %s.", name, stale, holder.describe()
                )
                _delete(client, name)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LockError(
                f"The promotion lease {name!r} (a registered model in the shared MLflow registry) is held by "
                f"{holder.describe()}; gave up after {timeout_s:g} s. Another promotion or rollback of "
                f"{model_name!r} is running, possibly from another host: wait for it and rerun (or raise "
                f"promote.lock_timeout_s). If that holder is known to be dead, delete the registered model "
                f"{name!r} (MLflow UI, or MlflowClient().delete_registered_model({name!r})); it is also taken "
                f"over once it expires."
            )
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_S)


def release(client: MlflowClient, lease: Lease) -> None:
    """Delete the lease if it is still ours (one taken over after it expired is left to its holder).

    Never raises: a lease that cannot be deleted is logged as a warning (it expires, and a holder
    gone from this host is taken over at once), so that it never hides the error of the promotion.
    """
    try:
        holder = _read(client, lease.name)
        if holder is None:
            log.warning("The promotion lease %r was gone before its release (deleted by hand?).", lease.name)
        elif holder.token != lease.token:
            log.warning(
                "The promotion lease %r was taken over (now held by %s) before this promotion ended: "
                "it outlived promote.lock_timeout_s; raise it.",
                lease.name,
                holder.describe(),
            )
        else:
            _delete(client, lease.name)
    except Exception as exc:  # a failed release must not replace the real outcome
        log.warning(
            "Could not release the promotion lease %r (%s); it expires, or delete that registered model.",
            lease.name,
            exc,
        )


@contextmanager
def promotion_lease(client: MlflowClient, model_name: str, timeout_s: float = 60.0) -> Iterator[Lease]:
    """Hold ``model_name``'s promotion lease for the block (see the module docstring)."""
    lease = acquire(client, model_name, timeout_s)
    try:
        yield lease
    finally:
        release(client, lease)
