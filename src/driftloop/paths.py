"""Where each stage reads and writes, relative to the workspace (mirrors dvc.yaml)."""

from pathlib import Path

SNAPSHOT_DIR = Path("data/snapshot")
REFERENCE = SNAPSHOT_DIR / "reference.parquet"
CURRENT = SNAPSHOT_DIR / "current.parquet"
MANIFEST = SNAPSHOT_DIR / "manifest.json"
SUMMARY_DIR = Path("data/summary")
REFERENCE_SUMMARY = SUMMARY_DIR / "reference_summary.npz"
LEGACY_REFERENCE_SUMMARY = SUMMARY_DIR / "reference_summary.json"  # format 1, written before 2026-11-26

REPORTS = Path("reports")
DRIFT_JSON = REPORTS / "drift.json"
DRIFT_HTML = REPORTS / "drift.html"
DRIFT_METRICS = REPORTS / "drift_metrics.json"
DRIFT_COLUMNS = REPORTS / "drift_columns.csv"

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
