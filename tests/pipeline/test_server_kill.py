"""A real `mlflow server` SIGKILLed in the middle of a cycle's stage (issue 13).

Cycle 1 runs normally against the server (champion v1); drifted weeks arrive and `dvc repro`
runs cycle 2, during which the server is killed twice: while the retrain stage logs its model
(the logged model's artifacts are written, it is still PENDING and its run RUNNING), and in the
promote stage just after the server created the new model version but before the client heard
back (the worst moment for a duplicate). Each time the failing stage exits 5 with one line naming
the server, no traceback, and the stages before it keep their outputs and dvc.lock entries. With
the server back on the same store and port, the rerun finishes: one model version per source
run, the champion alias on it, no run left RUNNING, one FINISHED run per stage of the cycle and
one cycle parent run.

The moment of each kill is chosen exactly, not by polling: the project's tracking URI is a
small TCP proxy in front of the server, which SIGKILLs the server's process group when it sees
the chosen request and stops listening at once, so the in-flight request gets no answer and every
later connection is refused, as with a dead server.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env, run, scaffold
from driftloop.lineage import file_md5
from driftloop.tags import TAG_CLOSED_REASON, TAG_CYCLE_RUN_ID, TAG_KIND, TAG_STAGE
from tests.conftest import _free_port, start_mlflow_server, stop_mlflow_server

from .project import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.server]

ROWS = 600
RETRY_MAX_SECONDS = 2
REPRO_TIMEOUT_S = 900
#: Where cycle 2 is killed: (stage, the first request of MLflow 3's REST API that kills the
#: server, whether the server first does the work and answers, the answer then lost).
KILLS = (
    # The cycle's parent run exists and the snapshot's run is open, logging the windows.
    ("snapshot", b"POST /api/2.0/mlflow/runs/log-inputs", False),
    # The model's artifacts are written; finalizing the logged model is the request that dies.
    ("retrain", b"PATCH /api/2.0/mlflow/logged-models/", False),
    # The server creates version 2, then dies before the client hears of it.
    ("promote", b"POST /api/2.0/mlflow/model-versions/create", True),
)


class KillSwitchProxy:
    """Forwards 127.0.0.1:``port`` to the server on ``upstream``; once armed, the first request
    starting with ``trigger`` calls ``kill`` and the proxy stops listening. ``after_response``:
    the request reaches the server, which answers, and the answer is dropped (the server did the
    work; the client never learns it)."""

    def __init__(self, port: int, upstream: int) -> None:
        self.port, self.upstream = port, upstream
        self.fired = threading.Event()
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._trigger: bytes | None = None
        self._after_response = False
        self._kill: Callable[[], None] = lambda: None
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def arm(self, trigger: bytes, kill: Callable[[], None], *, after_response: bool = False) -> None:
        self._trigger, self._kill, self._after_response = trigger, kill, after_response
        self.fired.clear()

    def open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Stop listening and drop every connection (what the kernel does for a killed server)."""
        with self._lock:
            for sock in [*self._sockets, *([self._listener] if self._listener else [])]:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()
            self._listener = None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()

    def _fire(self) -> None:
        if not self.fired.is_set():
            self._kill()
            self.fired.set()
            self._trigger = None
        self.close()

    def _requests(self, src: socket.socket, dst: socket.socket) -> None:
        answered = threading.Event()  # set: the trigger went through; fire on the server's answer
        threading.Thread(target=self._responses, args=(dst, src, answered), daemon=True).start()
        while chunk := self._recv(src):
            head = chunk.split(b"\r\n", 1)[0]
            if head.split(b" ", 1)[0] in (b"GET", b"POST", b"PATCH", b"PUT", b"DELETE"):
                self.requests.append(head)
                if self._trigger is not None and chunk.startswith(self._trigger):
                    if not self._after_response:
                        self._fire()
                        return
                    answered.set()
            with contextlib.suppress(OSError):
                dst.sendall(chunk)
        self._shutdown(dst)

    def _responses(self, src: socket.socket, dst: socket.socket, answered: threading.Event) -> None:
        while chunk := self._recv(src):
            if answered.is_set():
                self._fire()
                return
            with contextlib.suppress(OSError):
                dst.sendall(chunk)
        self._shutdown(dst)

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)


def _repro(project: Path, env: dict[str, str], log: str) -> subprocess.CompletedProcess:
    """`dvc repro`, its output also kept next to the project (``log``) for a failure's post-mortem."""
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=REPRO_TIMEOUT_S,
    )
    (project.parent / log).write_text(out.stdout + out.stderr)
    return out


def _lock_entry(project: Path, stage: str) -> dict:
    import yaml

    return yaml.safe_load((project / "dvc.lock").read_text())["stages"].get(stage) or {}


def _configure_tracking(project: Path, uri: str) -> None:
    """Point the project at ``uri`` through its config (tracking=server), with a short retry
    budget, and recompose params.yaml as a user would."""
    (project / "conf" / "tracking" / "server.yaml").write_text(
        f"uri: {uri}\nartifact_root: null\nexperiment: driftloop\nretry:\n  max_seconds: {RETRY_MAX_SECONDS}\n"
    )
    run([sys.executable, "-m", "driftloop.cli", "params", "tracking=server"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "track on the server"], project)


def _assert_failed_cleanly(out: subprocess.CompletedProcess, stage: str, uri: str, trigger: bytes) -> None:
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-4000:]
    lines = [line for line in text.splitlines() if line.startswith(f"driftloop {stage}: error:")]
    assert len(lines) == 1, text[-4000:]
    assert f"the MLflow tracking server at {uri} is unreachable" in lines[0], lines[0]
    # The call that failed, not the closing of the stage's run, which then failed too.
    assert f"API request to {uri}{trigger.split()[1].decode()}" in lines[0], lines[0]
    assert "rerun" in lines[0], lines[0]
    assert "exited with 5" in text or "exit code 5" in text or "return code 5" in text, text[-4000:]
    assert "Traceback" not in text, text[-4000:]


def _assert_lock_matches_files(project: Path) -> None:
    """Every file output dvc.lock records is on disk as recorded (folders are not checked)."""
    import yaml

    for stage, entry in yaml.safe_load((project / "dvc.lock").read_text())["stages"].items():
        for out in entry.get("outs", []):
            if not out["md5"].endswith(".dir"):
                assert file_md5(project / out["path"]) == out["md5"], (stage, out["path"])


def test_server_killed_mid_stage_exit_5_then_rerun_without_duplicates(tmp_path, server_store):
    from mlflow.tracking import MlflowClient

    port, upstream = _free_port(), _free_port()
    uri = f"http://127.0.0.1:{port}"
    project = scaffold(ROOT, tmp_path / "project", remote=tmp_path / "dvcstore")
    _configure_tracking(project, uri)
    env = clean_env()
    server = start_mlflow_server(server_store, upstream)
    proxy = KillSwitchProxy(port, upstream)
    proxy.open()
    try:
        write_weeks(project / "data" / "incoming", range(1, 7), rows=ROWS)
        run([sys.executable, "-m", "dvc", "repro"], project, env=env)
        first = json.loads((project / "reports" / "decision.json").read_text())
        assert first["promoted"] and str(first["version"]) == "1", first
        decision_md5 = file_md5(project / "reports" / "decision.json")
        write_weeks(project / "data" / "incoming", range(7, 11), rows=ROWS)

        for n, (stage, trigger, after_response) in enumerate(KILLS):
            if n:  # back on the same store, behind the same address
                server = start_mlflow_server(server_store, upstream)
                proxy.open()
            locked = _lock_entry(project, stage)
            proxy.arm(trigger, functools.partial(stop_mlflow_server, server, kill=True), after_response=after_response)
            out = _repro(project, env, f"killed-in-{stage}.log")
            assert proxy.fired.is_set(), (stage, proxy.requests[-20:], out.stderr[-4000:])
            _assert_failed_cleanly(out, stage, uri, trigger)
            assert _lock_entry(project, stage) == locked, stage  # dvc.lock moves only on success
            _assert_lock_matches_files(project)  # the stages before it: cycle 2's outputs, intact
            assert file_md5(project / "reports" / "decision.json") == decision_md5
        cycle2 = json.loads((project / "data" / "snapshot" / "manifest.json").read_text())["cycle_run_id"]

        # The server back on the same store and the same port, no proxy: the rerun finishes.
        server = start_mlflow_server(server_store, port)
        out = _repro(project, env, "rerun.log")
        assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
        assert "Traceback" not in out.stdout + out.stderr
        status = run([sys.executable, "-m", "dvc", "status"], project, env=env)
        assert "changed" not in status.stdout, status.stdout

        decision = json.loads((project / "reports" / "decision.json").read_text())
        train = json.loads((project / "reports" / "train.json").read_text())
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        name = decision["model_name"]
        versions = client.search_model_versions(f"name = '{name}'")
        run_ids = [v.run_id for v in versions]
        assert len(run_ids) == len(set(run_ids)), [(v.version, v.run_id) for v in versions]
        champion = str(client.get_registered_model(name).aliases["champion"])
        if decision["promoted"]:
            assert sorted(v.version for v in versions) == ["1", "2"]
            assert champion == str(decision["version"]) == "2"
            assert client.get_model_version(name, "2").run_id == train["run_id"]
        else:
            assert sorted(v.version for v in versions) == ["1", "2"] or [v.version for v in versions] == ["1"]
            assert champion == "1"

        experiment = client.get_experiment_by_name("driftloop")
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        assert [r.info.run_id for r in runs if r.info.status == "RUNNING"] == []
        assert len([r for r in runs if r.data.tags.get(TAG_KIND) == "cycle"]) == 2
        stage_runs = [r for r in runs if r.data.tags.get(TAG_CYCLE_RUN_ID) == cycle2 and r.data.tags.get(TAG_STAGE)]
        finished: dict[str, int] = {}
        killed: dict[str, int] = {}
        for r in stage_runs:
            stage = r.data.tags[TAG_STAGE]
            if r.info.status == "FINISHED":
                finished[stage] = finished.get(stage, 0) + 1
            else:
                assert r.info.status in ("KILLED", "FAILED"), r.info
                assert TAG_CLOSED_REASON in r.data.tags or r.info.status == "FAILED", r.data.tags
                killed[stage] = killed.get(stage, 0) + 1
        assert finished == dict.fromkeys(("snapshot", "drift", "retrain", "compare", "promote"), 1), finished
        assert killed == {"snapshot": 1, "retrain": 1, "promote": 1}, killed
        pending = [
            m.model_id
            for m in client.search_logged_models([experiment.experiment_id])
            if str(m.status).endswith("PENDING")
        ]
        assert pending == []
    finally:
        proxy.close()
        stop_mlflow_server(server, kill=True)
