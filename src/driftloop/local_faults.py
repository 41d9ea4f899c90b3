"""Local faults turned into named errors, and runs a killed stage left behind (issue 13).

* :func:`check_sqlite_store`: a ``sqlite:`` tracking store that is not a database, or a damaged
  one, is refused naming its path (:class:`~driftloop.errors.RegistryError`, exit 5) before
  MLflow opens it (MLflow would fail with SQLAlchemy's traceback).
* :func:`storage_error`: an ``OSError`` from the file system (full disk, read-only or unwritable
  folder, a file where a folder should be) as :class:`~driftloop.errors.StorageError` naming the
  path; called only by the stage runner (:func:`driftloop.stages.run_stage`).
* :func:`process_tags` / :func:`close_dead_runs`: every stage run carries the pid and host of
  the process that opened it; the next stage to start closes as ``KILLED`` each run of the
  experiment still ``RUNNING`` whose process, on this host, is gone (SIGKILL, OOM killer, power),
  and marks as ``FAILED`` the logged models such a run left ``PENDING``.
* :func:`pid_alive` also tells :func:`driftloop.cycle_run.abandoned_cycle` whether the snapshot
  that opened a cycle run is gone, so that its rerun takes that run over.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from pathlib import Path

from driftloop.errors import RegistryError, StorageError
from driftloop.tags import TAG_CLOSED_REASON, TAG_HOST, TAG_KIND, TAG_PID

#: errnos that are a file-system condition, not a bug, even without a file name attached.
_FS_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


def check_sqlite_store(uri: str) -> None:
    """Refuse a ``sqlite:///<path>`` store whose file exists but is not a sound SQLite database.

    A missing file is left alone (MLflow creates it; a lost registry is checked elsewhere:
    :mod:`driftloop.promote.lost_registry`). Other URIs pass.

    Raises
    ------
    RegistryError
        Naming the path and what SQLite said.
    """
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return
    path = Path(uri[len(prefix) :].split("?", 1)[0])
    if not path.is_file():
        return
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("PRAGMA quick_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    else:
        problem = "" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])
    if problem:
        raise RegistryError(
            f"the MLflow store {path} is not a sound SQLite database ({problem}): restore it from a "
            "backup, or move it aside and start a new registry on purpose (driftloop new-registry)."
        )


def storage_error(exc: OSError) -> StorageError | None:
    """``exc`` as a :class:`StorageError` naming its path, or None when it is not a file-system
    condition (no file name and not a disk/permission errno: a bug or a network error)."""
    if exc.filename is None and exc.errno not in _FS_ERRNOS:
        return None
    name = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    what = exc.strerror or str(exc)
    where = f" {exc.filename}" if exc.filename is not None else ""
    if exc.filename2 is not None:
        where += f" -> {exc.filename2}"
    hint = {
        "ENOSPC": "free disk space",
        "EDQUOT": "free disk space (quota)",
        "EROFS": "make the folder writable",
        "EACCES": "make the folder writable (permissions)",
        "EPERM": "make the folder writable (permissions)",
    }.get(name, "fix the path")
    code = f" [{name}]" if name else ""
    return StorageError(
        f"cannot write or read{where}: {what}{code}. Earlier outputs are unchanged; {hint}, then rerun."
    )


def process_tags() -> dict[str, str]:
    """Tags naming the process that opens a run: its pid and host."""
    return {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname()}


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def close_dead_runs(experiment_id: str) -> list[str]:
    """Close as ``KILLED`` every ``RUNNING`` run of ``experiment_id`` opened on this host by a
    process that is gone, with a tag saying why; mark ``FAILED`` the logged models those runs left
    ``PENDING``. Runs of other hosts, of live processes, or without a pid tag are left alone.
    Returns the closed run ids."""
    import mlflow
    from mlflow.entities import LoggedModelStatus, RunStatus

    client = mlflow.MlflowClient()
    host = socket.gethostname()
    running = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000)
    closed: list[str] = []
    for run in running:
        tags = run.data.tags
        pid = tags.get(TAG_PID, "")
        # A cycle's parent run outlives the snapshot process that opened it: its stages end it.
        if tags.get(TAG_KIND) == "cycle" or tags.get(TAG_HOST) != host or not pid.isdigit() or pid_alive(int(pid)):
            continue
        client.set_tag(
            run.info.run_id,
            TAG_CLOSED_REASON,
            f"closed as KILLED by a later stage (pid {os.getpid()}): process {pid} on {host} was gone "
            "while the run was still RUNNING",
        )
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
        closed.append(run.info.run_id)
    if closed:
        token: str | None = None
        while True:  # every page: the status filter is not relied on across stores
            page = client.search_logged_models([experiment_id], page_token=token)
            for model in page:
                if model.source_run_id in closed and model.status == LoggedModelStatus.PENDING:
                    client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
            token = page.token
            if not token:
                break
    return closed
