"""A cycle's parent run in MLflow: opened by the snapshot, continued by the stages, ended by promote.

The parent run tells the cycle's story in the MLflow UI:

- it is ``RUNNING`` while its stages run, ``FINISHED`` once promote has decided, and ``FAILED``
  (with the error and the failing stage as tags) when a stage fails; the ``dvc repro`` that
  retries the failed stage resumes it;
- it carries the composed config as params, the git commit and the windows' DVC md5s as tags,
  a markdown description (the decision, drifted columns, metrics, gates:
  :mod:`driftloop.cycle_story`) and a small fixed set of headline metrics;
- an experiment, a rerun of a finished cycle and a stage run by hand write under a parent run of
  their own (:mod:`driftloop.cycle_origin`), never into a production cycle's.

Stage code reaches it through the stage context (:func:`resolve_parent`) and
:func:`driftloop.stages.run_configured` (:func:`record_failure`, :func:`finish`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from driftloop.cycle_origin import Origin, derived_tags, may_continue, may_reuse_derived, parent_run_name, run_origin
from driftloop.redact import redact, redactor
from driftloop.tags import (
    TAG_BASED_ON,
    TAG_ERROR,
    TAG_EXP_NAME,
    TAG_FAILED_STAGE,
    TAG_GIT_COMMIT,
    TAG_HOST,
    TAG_KIND,
    TAG_ORIGIN,
    TAG_PID,
    TAG_STAGE,
    TAG_WORKSPACE,
)
from driftloop.tracking import flatten, git_commit, retrying, unreachable_error

#: MLflow's tag for a run's description (what the UI's "Description" box edits).
NOTE_TAG = "mlflow.note.content"
#: The parent run this process opened or continued (what :func:`record_failure` marks).
_current: dict[str, str | None] = {"run_id": None}


def current_parent() -> str | None:
    """The parent run this stage process opened or continued, if any."""
    return _current["run_id"]


def forget_parent() -> None:
    """Forget the current parent run (a new stage in the same process, e.g. a test)."""
    _current["run_id"] = None


def _adopt(run_id: str) -> str:
    """Make ``run_id`` this process's parent run (what :func:`record_failure` marks).

    Only parent runs carry ``driftloop.origin``: the UI's ``tags.driftloop.origin = 'production'``
    filter then lists the cycles alone, ready to tick two and compare (a ticked parent whose stage
    runs are listed too would bring them into the comparison)."""
    _current["run_id"] = run_id
    return run_id


def _now_slug() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def _params(cfg: Mapping[str, Any] | None) -> list[Any]:
    """The composed config as MLflow params (flattened keys, values cut to MLflow's 6,000 characters,
    credentials masked: a config holding one is refused earlier, this is the last guard)."""
    from mlflow.entities import Param

    mask = redactor()
    return [Param(k, mask(str(v))[:6000]) for k, v in sorted(flatten(cfg or {}).items())]


def _log_params(run_id: str, cfg: Mapping[str, Any] | None) -> None:
    import mlflow

    params = _params(cfg)
    client = mlflow.MlflowClient()
    for i in range(0, len(params), 100):  # MLflow caps a batch at 100 params
        client.log_batch(run_id, params=params[i : i + 100])


def _newest(client: Any, experiment_id: str, filter_string: str, max_results: int) -> list[Any]:
    """The newest runs of ``experiment_id`` matching ``filter_string`` (a search is idempotent: retried)."""
    return list(
        retrying(
            client.search_runs,
            [experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=max_results,
        )
    )


def abandoned_cycle(experiment_id: str, workspace: str, origin: Origin) -> str | None:
    """The cycle run the last snapshot of ``workspace`` opened on this host and never completed:
    its process is gone and no snapshot run under it finished (so no manifest names it). None
    when the workspace's latest cycle run is complete, was opened elsewhere, by a live process or
    another way (an experiment's is not taken over by a production snapshot), or carries no
    workspace tag (opened before the tag existed).

    Only the latest cycle run of the workspace is considered: an older one was superseded.
    ``dvc repro`` lets one cycle run in a workspace at a time, and a ``dvc exp run`` copy is a
    workspace of its own, so two snapshots never take over the same run.
    """
    import socket

    import mlflow

    from driftloop.local_faults import pid_alive

    if "'" in workspace:  # it goes into a search filter; such a workspace just gets a new run
        return None
    client = mlflow.MlflowClient()
    latest = _newest(
        client, experiment_id, f"tags.`{TAG_KIND}` = 'cycle' and tags.`{TAG_WORKSPACE}` = '{workspace}'", 1
    )
    if not latest:
        return None
    run = latest[0]
    tags = run.data.tags
    pid = tags.get(TAG_PID, "")
    if tags.get(TAG_HOST) != socket.gethostname() or not pid.isdigit() or pid_alive(int(pid)):
        return None
    if run_origin(tags) != origin.kind or tags.get(TAG_EXP_NAME) != origin.exp_name:
        return None
    finished = _newest(
        client,
        experiment_id,
        f"tags.`mlflow.parentRunId` = '{run.info.run_id}' and tags.`{TAG_STAGE}` = 'snapshot' "
        "and attributes.status = 'FINISHED'",
        1,
    )
    return None if finished else run.info.run_id


def start_cycle(
    experiment_id: str,
    tags: Mapping[str, str] | None = None,
    *,
    origin: Origin | None = None,
    cfg: Mapping[str, Any] | None = None,
) -> str:
    """Open the parent run of a new cycle (``RUNNING``) and return its id; stage runs attach to it.

    The cycle run an earlier snapshot of this workspace opened and never completed (killed, or
    failed after opening it: :func:`abandoned_cycle`) is taken over instead, its tags refreshed
    and its error cleared, so that a snapshot rerun after a crash leaves one cycle run, not two.
    ``cfg`` (the composed config) is logged as params on a new run.
    """
    import mlflow
    from mlflow.entities import RunTag

    from driftloop.config import workspace
    from driftloop.local_faults import process_tags

    origin = origin or Origin.from_env(os.environ)
    client = mlflow.MlflowClient()
    ws = str(workspace().resolve())
    all_tags = {
        **origin.tags(),
        TAG_GIT_COMMIT: git_commit(),
        TAG_WORKSPACE: ws,
        **process_tags(),
        **(tags or {}),
    }
    abandoned = abandoned_cycle(experiment_id, ws, origin)
    if abandoned is not None:
        # Setting tags is idempotent, so retried like the other tag writes.
        retrying(client.log_batch, abandoned, tags=[RunTag(k, str(v)) for k, v in all_tags.items()])
        _resume(client, abandoned)
        return _adopt(abandoned)
    name = parent_run_name(origin.kind, _now_slug(), origin.exp_name)
    run = client.create_run(experiment_id, run_name=name, tags=all_tags)
    _adopt(run.info.run_id)
    _log_params(run.info.run_id, cfg)
    return str(run.info.run_id)


def _resume(client: Any, run_id: str) -> None:
    """A FAILED (or KILLED) parent run that a stage retries is RUNNING again, its error cleared."""
    run = retrying(client.get_run, run_id)
    for tag in (TAG_ERROR, TAG_FAILED_STAGE):
        if tag in run.data.tags:
            retrying(client.delete_tag, run_id, tag)
    if run.info.status != "RUNNING":
        retrying(client.update_run, run_id, status="RUNNING")


def resolve_parent(
    experiment_id: str, cycle_run_id: str | None, cfg: Mapping[str, Any] | None, origin: Origin | None = None
) -> str | None:
    """The parent run a stage after snapshot writes under: the manifest's cycle run when this stage
    may continue it (:func:`driftloop.cycle_origin.may_continue`), else an open derived parent run
    of the same origin on that cycle, else a new one (``exp-<name>-…``, ``rerun-…``, ``manual-…``)
    with the composed config as params. None when the manifest names no cycle run.
    """
    import mlflow

    from driftloop.local_faults import process_tags

    if not cycle_run_id:
        return None
    origin = origin or Origin.from_env(os.environ)
    client = mlflow.MlflowClient()
    cycle = retrying(client.get_run, cycle_run_id)
    if may_continue(origin, cycle.info.status, cycle.data.tags):
        if cycle.info.status != "RUNNING":
            _resume(client, cycle_run_id)
        return _adopt(cycle_run_id)
    derived = _newest(client, experiment_id, f"tags.`{TAG_BASED_ON}` = '{cycle_run_id}'", 50)
    for run in derived:
        if may_reuse_derived(origin, cycle_run_id, run.info.status, run.data.tags):
            if run.info.status != "RUNNING":
                _resume(client, run.info.run_id)
            return _adopt(str(run.info.run_id))
    tags = {**derived_tags(origin, cycle_run_id), TAG_GIT_COMMIT: git_commit(), **process_tags()}
    name = parent_run_name(tags[TAG_ORIGIN], _now_slug(), origin.exp_name)
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    _adopt(str(run.info.run_id))
    _log_params(run.info.run_id, cfg)
    return str(run.info.run_id)


def record_failure(stage: str, error: BaseException, experiment_id: str | None) -> None:
    """Mark this process's parent run ``FAILED``, with the (redacted) error and the stage as tags
    and the description saying so. When the stage failed before any parent run existed (a
    snapshot refusing its input), a ``FAILED`` cycle run is opened for it, so that the failure
    shows in the UI. Best effort: a tracking store that is down (likely why the stage failed)
    is not waited for, and nothing here replaces the stage's own error.
    """
    from driftloop.cycle_story import failure_note

    if unreachable_error(error.__cause__ or error) is not None:
        return
    run_id = current_parent()
    if run_id is None and (stage != "snapshot" or experiment_id is None):
        return  # no cycle to mark: the config or the store was refused before one existed
    try:
        import mlflow
        from mlflow.entities import RunTag

        client = mlflow.MlflowClient()
        if run_id is None:
            run_id = start_cycle(str(experiment_id))
        message = redact(str(error))[:5000]
        tags = {TAG_ERROR: message, TAG_FAILED_STAGE: stage, NOTE_TAG: failure_note(stage, message)}
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        client.set_terminated(run_id, "FAILED")
    except Exception as exc:
        print(redact(f"driftloop {stage}: warning: could not mark the cycle run FAILED: {exc}"), file=sys.stderr)


def finish(run_id: str | None, *, note: str | None, metrics: Mapping[str, float]) -> None:
    """End the parent run ``FINISHED`` with its description and headline metrics (promote's last step)."""
    import mlflow

    from driftloop.tracking import log_cycle_metrics

    if not run_id:
        return
    # MLflow caps a tag at 8,000 characters; a description never carries a credential.
    log_cycle_metrics(run_id, metrics, tags={NOTE_TAG: redact(note)[:8000]} if note else None)
    retrying(mlflow.MlflowClient().set_terminated, run_id, "FINISHED")
