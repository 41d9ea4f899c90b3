"""Against a real ``mlflow server`` process: the REST registry, and two racing promoter processes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftloop.promote.lineage_tags import TAG_TRAIN_MD5, build_lineage_tags
from driftloop.promote.promotion import promote
from driftloop.promote.registry import ChampionRegistry

from .conftest import UNRESOLVED, decide, log_challenger, make_experiment

pytestmark = pytest.mark.server
RACER = Path(__file__).with_name("racer.py")


@pytest.fixture
def server_client(server_uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=server_uri, registry_uri=server_uri)


def test_promote_reject_rerun_rollback_over_rest(server_client, tmp_path, request):
    name = f"server-{request.node.name[:20]}"
    exp = make_experiment(server_client, tmp_path, name=f"exp-{tmp_path.name}")
    reg = ChampionRegistry(name, client=server_client)
    lock = tmp_path / "promote.lock"
    chs = [log_challenger(server_client, exp, seed) for seed in range(3)]

    def run(ch, decision, **kw):
        tags = build_lineage_tags(git_commit="abc", training_data_md5=f"md5-{ch.run_id[:4]}")
        return promote(reg, decision, ch.model_uri, ch.run_id, tags, None, lock, **kw)

    assert run(chs[0], decide(None, 0.7)).version == "1"  # first cycle
    assert run(chs[1], decide(0.7, 0.78)).version == "2"  # improvement
    assert run(chs[1], decide(0.7, 0.78)).version == "2"  # rerun: no new version
    out = run(chs[2], decide(0.78, 0.85, resolution=UNRESOLVED), on_reject="register_without_alias")
    assert (out.promoted, out.version) == (False, "3")  # drift not resolved
    assert reg.aliases() == {"champion": "2", "previous": "1"}
    assert reg.lineage("2")[TAG_TRAIN_MD5] == f"md5-{chs[1].run_id[:4]}"
    reg.rollback("server rollback", actor="ops")
    assert reg.aliases() == {"champion": "1", "previous": "2"}  # the rollback itself can be undone
    assert [(m.action, m.to_version) for m in reg.history()] == [("promote", "1"), ("promote", "2"), ("rollback", "1")]
    assert len(server_client.search_model_versions(f"name='{name}'")) == 3


def _run_racers(
    server_uri: str,
    chs: list,
    tmp_path: Path,
    name: str,
    locks: list[Path],
    extra: tuple[str, ...] = (),
) -> list[tuple[int, dict | None, str]]:
    """Start one racer per challenger (each with its lock file), let them go together; per racer
    (exit code, its json or None, its output)."""
    work = tmp_path / "race"
    work.mkdir()
    procs = []
    for tag, ch, lock in zip("ab", chs, locks, strict=True):
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(RACER),
                    server_uri,
                    name,
                    str(lock),
                    ch.model_uri,
                    ch.run_id,
                    str(work),
                    tag,
                    *extra,
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 60
    while not all((work / f"{t}.ready").exists() for t in "ab"):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            for p in procs:
                p.kill()
            pytest.fail("racers did not start: " + " | ".join(p.communicate()[0].decode()[-800:] for p in procs))
        time.sleep(0.05)
    (work / "go").touch()
    results = []
    for tag, p in zip("ab", procs, strict=True):
        out, _ = p.communicate(timeout=150)
        found = work / f"{tag}.json"
        results.append((p.returncode, json.loads(found.read_text()) if found.exists() else None, out.decode()))
    return results


def _race(
    server_uri: str,
    client,
    tmp_path: Path,
    name: str,
    shared_lock: bool,
    allow_failure: bool = False,
    extra: tuple[str, ...] = (),
) -> list[dict]:
    exp = make_experiment(client, tmp_path, name=f"race-{tmp_path.name}")
    chs = [log_challenger(client, exp, seed) for seed in range(2)]
    locks = [tmp_path / ("shared.lock" if shared_lock else f"{tag}.lock") for tag in "ab"]
    results = _run_racers(server_uri, chs, tmp_path, name, locks, extra)
    for code, record, out in results:
        # The racer writes a driftloop error's message into its json, not to its output.
        said = out[-2000:] + ("" if record is None else str(record.get("message", "")))
        if allow_failure and code != 0:
            # Without the lock the race may also surface as the registry refusing the second
            # writer's history tag (a UNIQUE conflict): that, too, is the race the lock prevents.
            return [{"failed": said}]
        assert code == 0, said
    return sorted((r for _, r, _ in results if r is not None), key=lambda r: r["start"])


def test_concurrent_promotions_do_not_interleave(server_uri, server_client, tmp_path):
    name = "race-locked"
    first, second = _race(server_uri, server_client, tmp_path, name, shared_lock=True)
    # Critical sections are disjoint: the second starts only after the first moved the alias.
    assert first["end"] <= second["start"]
    # Each process moved the alias exactly once, and the second saw the first's result.
    assert first["from"] is None and second["from"] == first["version"]
    hist = ChampionRegistry(name, client=server_client).history()
    assert [(m.from_version, m.to_version) for m in hist] == [
        (None, first["version"]),
        (first["version"], second["version"]),
    ]
    assert {m.actor for m in hist} == {"racer-a", "racer-b"}
    assert ChampionRegistry(name, client=server_client).aliases() == {
        "champion": second["version"],
        "previous": first["version"],
    }


def test_two_hosts_never_both_promote_against_one_champion(server_uri, server_client, tmp_path):
    """Issue 13: two projects on two hosts (two lock files) share one registry, both compared against
    v1 and start together. The registry-wide lease serialises them: exactly one promotes, the other
    sees that the champion moved and refuses its stale decision (exit 5)."""
    name = "race-two-hosts"
    exp = make_experiment(server_client, tmp_path, name=f"race2-{tmp_path.name}")
    chs = [log_challenger(server_client, exp, seed) for seed in range(3)]
    reg = ChampionRegistry(name, client=server_client)
    assert (
        promote(reg, decide(None, 0.7), chs[0].model_uri, chs[0].run_id, {}, None, tmp_path / "v1.lock").version == "1"
    )
    locks = [tmp_path / "host-a" / "promote.lock", tmp_path / "host-b" / "promote.lock"]
    results = _run_racers(server_uri, chs[1:], tmp_path, name, locks, extra=("1",))
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 5], " | ".join(out[-1500:] for _, _, out in results)
    winner = next(r for code, r, _ in results if code == 0)
    loser = next(r for code, r, _ in results if code == 5)
    assert (winner["from"], winner["version"]) == ("1", "2")
    assert loser["error"] == "StaleDecision" and "moved from version 1 to 2" in loser["message"]
    assert "start" not in loser  # it registered nothing
    assert reg.aliases() == {"champion": "2", "previous": "1"}
    assert [(m.from_version, m.to_version) for m in reg.history()] == [(None, "1"), ("1", "2")]
    assert len(server_client.search_model_versions(f"name='{name}'")) == 2
    # The lease is gone once the promotions ended.
    assert [m.name for m in server_client.search_registered_models(f"name LIKE '{name}%'")] == [name]


@pytest.mark.slow  # ~10 s of two more mlflow imports; run with `pytest -m slow`
def test_race_without_shared_lock_interleaves(server_uri, server_client, tmp_path):
    """Negative control: the measurement above can see an interleaving when the lock is absent (two
    lock files, as on two hosts, and the registry-wide lease turned off)."""
    results = _race(
        server_uri,
        server_client,
        tmp_path,
        "race-unlocked",
        shared_lock=False,
        allow_failure=True,
        extra=("-", "no-lease"),
    )
    if len(results) == 1:
        assert "UNIQUE constraint failed" in results[0]["failed"] or "refused" in results[0]["failed"]
        return
    first, second = results
    assert second["start"] < first["end"]
