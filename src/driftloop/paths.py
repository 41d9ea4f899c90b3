"""Where each stage reads and writes, relative to the workspace (mirrors dvc.yaml), and the one
check that every path a config names stays inside the project (:func:`refuse_paths_outside`)."""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from driftloop.errors import ConfigError
from driftloop.validation import Key, check, check_value

SNAPSHOT_DIR = Path("data/snapshot")
REFERENCE = SNAPSHOT_DIR / "reference.parquet"
CURRENT = SNAPSHOT_DIR / "current.parquet"
MANIFEST = SNAPSHOT_DIR / "manifest.json"
# The champion the snapshot was taken against (driftloop.promote.cycle_champion): promote rewrites it
# when it finds the cycle's decision stale, so that the next `dvc repro` reruns the cycle from the snapshot.
CYCLE_CHAMPION = SNAPSHOT_DIR / "champion.json"
SUMMARY_DIR = Path("data/summary")
REFERENCE_SUMMARY = SUMMARY_DIR / "reference_summary.npz"
LEGACY_REFERENCE_SUMMARY = SUMMARY_DIR / "reference_summary.json"  # format 1, written before 2026-11-26

REPORTS = Path("reports")
DRIFT_JSON = REPORTS / "drift.json"
DRIFT_HTML = REPORTS / "drift.html"
DRIFT_METRICS = REPORTS / "drift_metrics.json"
DRIFT_COLUMNS = REPORTS / "drift_columns.csv"
REVIEW_QUEUE = REPORTS / "review_queue.csv"  # driftloop.review: rows for people to label

TRAIN_DIR = Path("data/train")
TRAINING = TRAIN_DIR / "training.parquet"
HOLDOUT = TRAIN_DIR / "holdout.parquet"
TRAIN_JSON = REPORTS / "train.json"
TRAIN_METRICS = REPORTS / "train_metrics.json"

COMPARE_JSON = REPORTS / "compare.json"
COMPARE_METRICS = REPORTS / "compare_metrics.json"
PLOTS_DIR = REPORTS / "plots"
PREDICTIONS = Path("data/compare/predictions.parquet")

DECISION_JSON = REPORTS / "decision.json"
PROMOTE_LOCK = Path(".driftloop/promote.lock")
NEW_REGISTRY = Path(".driftloop/new-registry.json")  # `driftloop new-registry`: a new registry started on purpose


# -- configured paths stay inside the project ------------------------------------------------------

#: Every config key that names a file or folder driftloop (or DVC, through ``dvc.yaml``) reads or
#: writes. Each must resolve, symlinks followed, inside the project unless ``paths.allowed_outside``
#: lists it (:func:`refuse_paths_outside`). Reports, snapshots and summaries are not configurable:
#: they are the fixed paths above.
PATH_KEYS: dict[str, Key] = {
    "data.source.path": Key("path", None, nullable=True, doc="the folder of incoming batches (a DVC dependency)"),
    "data.source.reviewed_labels": Key("path", None, nullable=True, doc="the folder of reviewed-label CSV files"),
    "promote.lock_path": Key("path", None, nullable=True, doc="the file lock serialising promotions"),
    "tracking.artifact_root": Key(
        "path", None, nullable=True, doc="artifacts of a local MLflow store (a URI other than file: is not checked)"
    ),
}
#: The keys whose value may be a URI: only a ``file:`` one names a local path.
_URI_KEYS = frozenset({"tracking.artifact_root"})

#: ``conf/paths/``: the opt-in for paths outside the project.
TABLE: dict[str, Key] = {
    "allowed_outside": Key(
        "names",
        (),
        doc="absolute paths outside the project that configured paths may name (each one or anything below it)",
    ),
}
_ABSENT = object()


def allowed_outside(cfg: Mapping[str, Any]) -> tuple[Path, ...]:
    """The checked, resolved ``paths.allowed_outside`` of a composed config (empty by default).

    Raises
    ------
    ConfigError
        For an unknown key under ``paths``, or an entry that is not an absolute path.
    """
    listed = check(cfg.get("paths"), TABLE, "paths")["allowed_outside"]
    out = []
    for i, entry in enumerate(listed):
        if not entry or not Path(entry).is_absolute():
            raise ConfigError(
                f"paths.allowed_outside[{i}] must be an absolute path (a folder or file outside the "
                f"project, listed exactly). Got {entry!r} instead."
            )
        out.append(Path(entry).resolve())
    return tuple(out)


def _lookup(cfg: Mapping[str, Any], dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _local(key: str, value: str) -> Path | None:
    """The local path ``value`` names (None for a URI of another scheme, such as ``s3://``)."""
    if key in _URI_KEYS and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        if not value.startswith("file:"):
            return None
        return Path(unquote(urlparse(value).path))
    return Path(value)


def refuse_paths_outside(cfg: Mapping[str, Any], root: Path, base: Path | None = None) -> None:
    """Raise unless every configured path (:data:`PATH_KEYS`) stays inside the project.

    A relative path is taken from ``base`` (the workspace, where stages resolve it; ``root`` by
    default), an absolute one as it is; both are resolved, following symlinks, and must then be
    ``root`` or below it -- or one of ``paths.allowed_outside`` or below it.

    Raises
    ------
    ConfigError
        Naming each key, its value as given, where it resolves, the project and the opt-in.
    """
    allowed = allowed_outside(cfg)
    root = root.resolve()
    base = (base or root).resolve()
    refused = []
    for key, spec in PATH_KEYS.items():
        value = _lookup(cfg, key)
        if value is _ABSENT or value is None:
            continue
        local = _local(key, check_value(value, spec, key))
        if local is None:
            continue
        resolved = (base / local).resolve()
        if resolved.is_relative_to(root) or any(resolved.is_relative_to(a) for a in allowed):
            continue
        refused.append(f"{key} is {value!r}, which resolves to {resolved}")
    if refused:
        listed = [str(a) for a in allowed]
        raise ConfigError(
            f"{'; '.join(refused)}: outside the project {root}. Configured data, review, lock and artifact "
            "paths must stay inside the project, so that a config cannot make driftloop or DVC read, hash or "
            f"write elsewhere. To use one on purpose, list it (or a folder above it) in paths.allowed_outside "
            f"(conf/paths/default.yaml; now {listed}), e.g. `driftloop params 'paths.allowed_outside=[/mnt/data]'`."
        )
