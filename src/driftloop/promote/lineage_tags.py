"""Tag names carried by registered model versions and the registered model.

These names are a contract: the next cycle finds its reference data through the
champion's ``TAG_TRAIN_MD5`` / ``TAG_TRAIN_PATH``; ``driftloop status`` and
``driftloop history`` read the rest. Change a name only with a migration.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

# -- per model version (lineage) ------------------------------------------------------------------
TAG_GIT_COMMIT = "driftloop.git_commit"
TAG_TRAIN_MD5 = "driftloop.training_data_md5"
TAG_TRAIN_PATH = "driftloop.training_data_path"
TAG_HOLDOUT_MD5 = "driftloop.holdout_data_md5"
TAG_HOLDOUT_PATH = "driftloop.holdout_data_path"
TAG_CYCLE_RUN_ID = "driftloop.cycle_run_id"
TAG_DRIFT_SUMMARY = "driftloop.drift_summary"  # JSON
TAG_DECISION = "driftloop.decision"  # JSON: Decision.to_dict()

#: Lineage tags in display order.
LINEAGE_TAGS: tuple[str, ...] = (
    TAG_GIT_COMMIT, TAG_TRAIN_MD5, TAG_TRAIN_PATH, TAG_HOLDOUT_MD5, TAG_HOLDOUT_PATH,
    TAG_CYCLE_RUN_ID, TAG_DRIFT_SUMMARY, TAG_DECISION,
)

# -- per registered model -------------------------------------------------------------------------
#: One tag per alias move, ``driftloop.alias_move.000001`` ...: MLflow keeps no alias
#: history, and one tag per move (rather than one growing JSON list) never hits the tag
#: size limit and never rewrites an earlier entry.
TAG_ALIAS_MOVE_PREFIX = "driftloop.alias_move."
#: The latest promotion decision for this model, promoted or not (JSON).
TAG_LAST_DECISION = "driftloop.last_decision"

# MLflow caps registry tag values at 100 000 characters; stay far below it.
MAX_TAG_VALUE = 20_000


def tag_value(value: Any) -> str:
    """A registry-safe tag string: mappings/lists as compact JSON, long values truncated."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_TAG_VALUE else text[: MAX_TAG_VALUE - 15] + "...[truncated]"


def build_lineage_tags(
    *,
    git_commit: str | None = None,
    training_data_md5: str | None = None,
    training_data_path: str | None = None,
    holdout_data_md5: str | None = None,
    holdout_data_path: str | None = None,
    cycle_run_id: str | None = None,
    drift_summary: Mapping[str, Any] | str | None = None,
) -> dict[str, str]:
    """The lineage tags of a challenger version, omitting the ones not given.

    ``TAG_DECISION`` is added by :func:`driftloop.promote.promotion.promote`.

    Examples
    --------
    >>> build_lineage_tags(git_commit="abc", training_data_md5="d41d8cd9")
    {'driftloop.git_commit': 'abc', 'driftloop.training_data_md5': 'd41d8cd9'}
    """
    pairs = (
        (TAG_GIT_COMMIT, git_commit), (TAG_TRAIN_MD5, training_data_md5), (TAG_TRAIN_PATH, training_data_path),
        (TAG_HOLDOUT_MD5, holdout_data_md5), (TAG_HOLDOUT_PATH, holdout_data_path),
        (TAG_CYCLE_RUN_ID, cycle_run_id), (TAG_DRIFT_SUMMARY, drift_summary),
    )
    return {k: tag_value(v) for k, v in pairs if v is not None}


def parse_lineage(tags: Mapping[str, str]) -> dict[str, Any]:
    """The lineage tags present in ``tags``; JSON-valued ones decoded (left as text if not JSON)."""
    out: dict[str, Any] = {}
    for key in LINEAGE_TAGS:
        if key not in tags:
            continue
        value = tags[key]
        if key in (TAG_DRIFT_SUMMARY, TAG_DECISION):
            try:
                value = json.loads(value)
            except ValueError:
                pass  # a hand-written or truncated tag: show the text as it is
        out[key] = value
    return out
