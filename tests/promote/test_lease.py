"""The registry-wide promotion lease (issue 13) on a real MLflow sqlite registry: a lease left by a
SIGKILLed holder, a live one of another host, an expired one, and the lease is never a model."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from driftloop.errors import LockError, RegistryError
from driftloop.promote.lease import (
    TAG_ACQUIRED_AT,
    TAG_EXPIRES_AT,
    TAG_HOLDER,
    TAG_LEASE_HOST,
    TAG_LEASE_PID,
    lease_name,
    promotion_lease,
)
from driftloop.promote.lost_registry import Claim, registry_problems
from driftloop.promote.promotion import promote
from driftloop.promote.registry import ChampionRegistry

from .conftest import decide

NAME = "leased"
LEASE = lease_name(NAME)


@pytest.fixture
def registry(client):
    return ChampionRegistry(NAME, client=client)


def plant_lease(client, host: str, pid: int, expires_in_s: float) -> None:
    """A lease as another promoter leaves it (its tags as :func:`acquire` writes them)."""
    now = datetime.now(timezone.utc)
    client.create_registered_model(
        LEASE,
        tags={
            TAG_HOLDER: f"{host}:{pid}:planted",
            TAG_LEASE_PID: str(pid),
            TAG_LEASE_HOST: host,
            TAG_ACQUIRED_AT: (now - timedelta(seconds=5)).isoformat(),
            TAG_EXPIRES_AT: (now + timedelta(seconds=expires_in_s)).isoformat(),
        },
    )


def names(client) -> list[str]:
    return sorted(m.name for m in client.search_registered_models())


def first_promotion(registry, challenger_factory, lock, **kw):
    ch = challenger_factory(0)
    return promote(registry, decide(None, 0.7), ch.model_uri, ch.run_id, {}, None, lock, **kw)


def test_lease_is_held_during_the_promotion_and_gone_after(registry, client, challenger_factory, lock):
    seen = []
    real = registry.move_champion

    def move(*args, **kwargs):
        seen.append(client.get_registered_model(LEASE).tags[TAG_LEASE_PID])
        return real(*args, **kwargs)

    registry.move_champion = move
    assert first_promotion(registry, challenger_factory, lock).promoted
    assert seen == [str(os.getpid())]
    assert names(client) == [NAME]


def test_lease_of_a_sigkilled_holder_on_this_host_is_taken_over_at_once(
    registry, client, mlflow_uri, challenger_factory, lock, caplog
):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from mlflow.tracking import MlflowClient\n"
            "from driftloop.promote.lease import acquire\n"
            f"acquire(MlflowClient({mlflow_uri!r}, {mlflow_uri!r}), {NAME!r}, 3600)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    tags = client.get_registered_model(LEASE).tags  # the killed holder left it, expiring in an hour
    assert (tags[TAG_LEASE_PID], tags[TAG_LEASE_HOST]) == (str(holder.pid), socket.gethostname())
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="driftloop.promote.lease"):
        out = first_promotion(registry, challenger_factory, lock, lock_timeout_s=30)
    assert out.promoted and out.version == "1"
    assert time.monotonic() - start < 10  # no waiting for the hour, nor for the timeout
    assert f"its holder, pid {holder.pid} on this host, is gone" in caplog.text
    assert names(client) == [NAME]


def test_live_lease_of_another_host_makes_the_promotion_wait_then_fail(registry, client, challenger_factory, lock):
    plant_lease(client, "build-host-2", 4242, expires_in_s=3600)
    start = time.monotonic()
    with pytest.raises(LockError) as info:
        first_promotion(registry, challenger_factory, lock, lock_timeout_s=1.0)
    assert time.monotonic() - start >= 1.0
    message = str(info.value)
    assert f"promotion lease {LEASE!r}" in message
    assert "pid 4242 on host build-host-2 since" in message
    assert "wait for it" in message and f"delete the registered model {LEASE!r}" in message
    assert info.value.exit_code == 7
    assert registry.champion() is None and registry.history() == []  # nothing registered or moved
    assert client.get_registered_model(LEASE).tags[TAG_LEASE_HOST] == "build-host-2"  # left to its holder


def test_expired_lease_of_another_host_is_taken_over(registry, client, challenger_factory, lock, caplog):
    plant_lease(client, "build-host-2", 4242, expires_in_s=-1)
    with caplog.at_level(logging.WARNING, logger="driftloop.promote.lease"):
        out = first_promotion(registry, challenger_factory, lock, lock_timeout_s=5)
    assert out.promoted
    assert "it expired at" in caplog.text and "build-host-2" in caplog.text
    assert names(client) == [NAME]


def test_a_failed_release_is_a_warning_not_the_error(client, caplog):
    def promotion_failing_after_the_lease_was_deleted_by_hand() -> None:
        with promotion_lease(client, NAME, 5):
            client.delete_registered_model(LEASE)
            raise ValueError("the real error")

    caplog.set_level(logging.WARNING, logger="driftloop.promote.lease")
    with pytest.raises(ValueError, match="real"):
        promotion_failing_after_the_lease_was_deleted_by_hand()
    assert "was gone before its release" in caplog.text


def test_the_lease_is_not_a_model(client, registry, challenger_factory, lock):
    with pytest.raises(RegistryError, match="is a promotion lease"):
        ChampionRegistry(LEASE, client=client)
    # A lease of a model whose registry lost it does not pass for the model (lost-registry check).
    plant_lease(client, "build-host-2", 4242, expires_in_s=3600)
    claim = Claim("reports/decision.json", NAME, "1")
    assert registry_problems([claim], NAME, "champion") == [f"holds no registered model {NAME!r}"]
    assert registry.champion() is None and registry.history() == [] and registry.status()["champion"] is None
