"""Lineage tags of registered model versions: building and parsing their values.

The tag names themselves are defined once, in :mod:`driftloop.tags`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from driftloop.tags import (  # noqa: F401  (the names live in driftloop.tags; re-exported here)
    LINEAGE_TAGS,
    TAG_ALIAS_MOVE_PREFIX,
    TAG_CYCLE_RUN_ID,
    TAG_DECISION,
    TAG_DRIFT_SUMMARY,
    TAG_GIT_COMMIT,
    TAG_HOLDOUT_MD5,
    TAG_HOLDOUT_PATH,
    TAG_LAST_DECISION,
    TAG_TRAIN_MD5,
    TAG_TRAIN_PATH,
    read_tag,
)

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
        (TAG_GIT_COMMIT, git_commit),
        (TAG_TRAIN_MD5, training_data_md5),
        (TAG_TRAIN_PATH, training_data_path),
        (TAG_HOLDOUT_MD5, holdout_data_md5),
        (TAG_HOLDOUT_PATH, holdout_data_path),
        (TAG_CYCLE_RUN_ID, cycle_run_id),
        (TAG_DRIFT_SUMMARY, drift_summary),
    )
    return {k: tag_value(v) for k, v in pairs if v is not None}


def parse_lineage(tags: Mapping[str, str]) -> dict[str, Any]:
    """The lineage tags present in ``tags``; JSON-valued ones decoded (left as text if not JSON)."""
    out: dict[str, Any] = {}
    for key in LINEAGE_TAGS:
        value = read_tag(tags, key)  # also under a tag's old name (driftloop.tags.LEGACY_TAGS)
        if value is None:
            continue
        if key in (TAG_DRIFT_SUMMARY, TAG_DECISION):
            with contextlib.suppress(ValueError):  # a hand-written or truncated tag: show the text as it is
                value = json.loads(value)
        out[key] = value
    return out
