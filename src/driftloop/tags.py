"""Every MLflow tag name driftloop writes or reads, defined once.

These names are a contract: the next cycle finds its reference data through the champion's
``TAG_TRAIN_MD5`` / ``TAG_TRAIN_PATH``; ``driftloop status`` and ``driftloop history`` read the
rest. Change a name only with a migration: readers of a renamed tag that may exist on
already-registered model versions accept the old name too (see ``LEGACY_TAGS``).

A leaf module: it imports nothing, so every part of the package may use it.
"""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "driftloop."

# -- per model version (lineage), written when a challenger is registered -------------------------
TAG_GIT_COMMIT = "driftloop.git_commit"  # also on every cycle and stage run
TAG_TRAIN_MD5 = "driftloop.training_data_md5"  # also on the retrain run
TAG_TRAIN_PATH = "driftloop.training_data_path"
TAG_HOLDOUT_MD5 = "driftloop.holdout_data_md5"  # also on the retrain run (was driftloop.holdout_md5 there)
TAG_HOLDOUT_PATH = "driftloop.holdout_data_path"
TAG_CYCLE_RUN_ID = "driftloop.cycle_run_id"  # also on every stage run: its cycle's parent run
TAG_DRIFT_SUMMARY = "driftloop.drift_summary"  # JSON
TAG_DECISION = "driftloop.decision"  # JSON: Decision.to_dict() on a version; the summary text on a run
TAG_ROLLED_BACK = "driftloop.rolled_back"  # JSON, on a version a rollback demoted

#: Lineage tags in display order.
LINEAGE_TAGS: tuple[str, ...] = (
    TAG_GIT_COMMIT,
    TAG_TRAIN_MD5,
    TAG_TRAIN_PATH,
    TAG_HOLDOUT_MD5,
    TAG_HOLDOUT_PATH,
    TAG_CYCLE_RUN_ID,
    TAG_DRIFT_SUMMARY,
    TAG_DECISION,
)

#: Old name -> current name, for tags renamed after versions carrying them were registered or
#: logged. Readers go through :func:`read_tag`, so an old version or run still reads.
LEGACY_TAGS: Mapping[str, str] = {
    # The retrain run tagged its holdout md5 ``driftloop.holdout_md5`` while registered versions
    # used ``driftloop.holdout_data_md5``; one name now, the old one still read.
    "driftloop.holdout_md5": TAG_HOLDOUT_MD5,
}

# -- per registered model -------------------------------------------------------------------------
#: One tag per alias move, ``driftloop.alias_move.000001`` ...: MLflow keeps no alias
#: history, and one tag per move (rather than one growing JSON list) never hits the tag
#: size limit and never rewrites an earlier entry.
TAG_ALIAS_MOVE_PREFIX = "driftloop.alias_move."
#: The latest promotion decision for this model, promoted or not (JSON).
TAG_LAST_DECISION = "driftloop.last_decision"

# -- per run --------------------------------------------------------------------------------------
TAG_KIND = "driftloop.kind"  # "cycle" on a cycle's parent run
TAG_STAGE = "driftloop.stage"  # the stage of a stage run (and of compare's nested model runs)
TAG_CYCLE_REFERENCE = "driftloop.reference"  # cycle run: where the reference window came from
TAG_REFERENCE_SOURCE = "driftloop.reference.source"  # snapshot run: the same


def window_md5_tag(window: str) -> str:
    """Snapshot run: the DVC md5 of the ``reference`` or ``current`` window."""
    return f"driftloop.{window}.dvc_md5"


def window_fingerprint_tag(window: str) -> str:
    """Snapshot run: the content fingerprint of the ``reference`` or ``current`` window."""
    return f"driftloop.{window}.fingerprint"


TAG_DRIFT_DRIFTED = "driftloop.drift.drifted"  # drift run: "true" / "false"
TAG_DRIFT_COLUMNS = "driftloop.drift.columns"  # drift run: comma-separated, "-" for none
TAG_RETRAIN_SKIPPED = "driftloop.retrain.skipped"  # retrain run: why no challenger
TAG_RUN_TRAIN_MD5 = TAG_TRAIN_MD5  # retrain run: the same names as on the registered version
TAG_RUN_HOLDOUT_MD5 = TAG_HOLDOUT_MD5
TAG_COMPARE_SKIPPED = "driftloop.compare.skipped"  # compare run: why nothing was compared
TAG_ROLE = "driftloop.role"  # compare's nested model runs: challenger / champion
TAG_MODEL_URI = "driftloop.model_uri"  # compare's nested model runs
TAG_RUN_DECISION = TAG_DECISION  # promote run and cycle run: the decision's summary
TAG_PID = "driftloop.pid"  # every stage run (and compare's nested runs): the process that opened it
TAG_HOST = "driftloop.host"  # ... and its host, so a later stage can close it if that process is gone
TAG_WORKSPACE = "driftloop.workspace"  # cycle run: the workspace whose snapshot opened it
# A cycle's parent run: how its stages were started (driftloop.cycle_origin), so that an experiment,
# a rerun of a finished cycle or a hand-run stage never writes into a production cycle's run.
TAG_ORIGIN = "driftloop.origin"  # "production", "experiment", "rerun" or "manual"
TAG_EXP_NAME = "driftloop.dvc_exp_name"  # the DVC experiment's name (DVC_EXP_NAME)
TAG_EXP_BASELINE = "driftloop.dvc_exp_baseline"  # ... and its baseline commit (DVC_EXP_BASELINE_REV)
TAG_BASED_ON = "driftloop.based_on_cycle"  # a derived parent run: the cycle whose snapshot it reused
TAG_ERROR = "driftloop.error"  # a FAILED cycle run: the failing stage's error message (redacted)
TAG_FAILED_STAGE = "driftloop.failed_stage"  # ... and that stage
TAG_CLOSED_REASON = "driftloop.closed_reason"  # a run a later stage closed as KILLED: why
# The promotion lease, the registered model '<model>.promotion-lock' (driftloop.promote.lease):
TAG_HOLDER = "driftloop.lease.holder"  # the holder's unique token
TAG_LEASE_PID = "driftloop.lease.pid"  # ... its process and host (a dead holder's lease is taken over)
TAG_LEASE_HOST = "driftloop.lease.host"
TAG_ACQUIRED_AT = "driftloop.lease.acquired_at"  # ISO 8601 UTC
TAG_EXPIRES_AT = "driftloop.lease.expires_at"  # ... after which another host takes it over
TAG_GATE_PREFIX = "driftloop.gate."  # promote run: ``driftloop.gate.<gate>`` for non-enforced gates


def read_tag(tags: Mapping[str, str], name: str) -> str | None:
    """Tag ``name`` from ``tags``, or its value under an old name (``LEGACY_TAGS``)."""
    if name in tags:
        return tags[name]
    for old, new in LEGACY_TAGS.items():
        if new == name and old in tags:
            return tags[old]
    return None
