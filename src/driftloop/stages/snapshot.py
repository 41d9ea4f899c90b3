"""Stage 1 — snapshot: turn the incoming batches into a reference and a current window.

* **Reference** is the data the current champion was trained on, found through the
  registry's lineage tags (DVC md5) and read back from the DVC cache/remote. On the
  first cycle (no champion) it is the first ``initial_reference_days`` of data.
* **Current** is what arrived after the reference ends, at most the newest
  ``current_max_days``.

It writes both windows, a manifest, and the reference's drift summary (so later
stages never rescan the reference), starts the cycle's parent MLflow run, and logs
both windows as dataset inputs with their digests and sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

import pandas as pd

from driftloop import paths
from driftloop.batches import check_classes, coerce, read_batches, source_config, table_fingerprint, window_summary
from driftloop.config import project_root, reject_unknown, section, workspace
from driftloop.errors import DataError
from driftloop.io import StagedOutputs, write_json, write_parquet
from driftloop.lineage import fetch_by_md5, file_md5
from driftloop.schema import Schema


@dataclass(frozen=True)
class Windows:
    reference: pd.DataFrame
    current: pd.DataFrame
    reference_source: str


def select_windows(
    data: pd.DataFrame,
    schema: Schema,
    *,
    initial_reference_days: float,
    current_max_days: float,
    champion_reference: pd.DataFrame | None = None,
    champion_label: str = "",
) -> Windows:
    """Pure window selection (see the module docstring).

    Raises
    ------
    DataError
        When the current window would be empty.
    """
    ts = schema.timestamp
    if champion_reference is not None:
        reference = champion_reference
        source = f"training data of {champion_label}"
    else:
        # Whole days: windows start at midnight, so a batch is never split by its first row's time.
        cutoff = data[ts].min().normalize() + pd.Timedelta(days=initial_reference_days)
        reference = data[data[ts] < cutoff]
        source = f"initial window: the first {initial_reference_days:g} days of data"
    ref_end = reference[ts].max()
    newer = data[data[ts] > ref_end]
    if newer.empty:
        raise DataError(
            f"no data newer than the reference (which ends {ref_end}); add batches to data.source.path "
            "and rerun."
        )
    end_of_last_day = newer[ts].max().normalize() + pd.Timedelta(days=1)
    current = newer[newer[ts] >= end_of_last_day - pd.Timedelta(days=current_max_days)]
    return Windows(reference.reset_index(drop=True), current.reset_index(drop=True), source)


def _windows_config(cfg: Mapping[str, Any]) -> tuple[float, float]:
    reject_unknown(cfg, {"initial_reference_days", "current_max_days"}, "data.windows")
    try:
        initial = float(cfg.get("initial_reference_days", 21))
        current = float(cfg.get("current_max_days", 28))
    except (TypeError, ValueError) as exc:
        raise DataError(f"data.windows values must be numbers of days: {exc}") from exc
    return initial, current


def _champion_reference(model_name: str, alias: str, schema: Schema) -> tuple[pd.DataFrame | None, str, dict[str, Any]]:
    """The champion's training data via its lineage tags, or None on the first cycle."""
    from driftloop.champion import find_champion
    from driftloop.promote.lineage_tags import TAG_TRAIN_MD5

    champion = find_champion(model_name, alias)
    if champion is None:
        return None, "", {}
    md5 = champion.tags.get(TAG_TRAIN_MD5)
    if not md5:
        raise DataError(
            f"champion {model_name} v{champion.version} has no {TAG_TRAIN_MD5!r} tag: its training data "
            "cannot be found. Tag it, or roll back to a version registered by driftloop."
        )
    path = fetch_by_md5(project_root(), md5, what=f"training data of {model_name} v{champion.version}")
    frame = pd.read_parquet(path)
    frame = coerce(frame, schema, where=f"training data of {model_name} v{champion.version} ({md5})")
    lineage = {"model_name": model_name, "version": champion.version, "training_data_md5": md5}
    return frame, f"{model_name} v{champion.version}", lineage


def run_snapshot(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Run the snapshot stage; returns the manifest it wrote."""
    from driftloop.drift import DriftConfig, summarize_reference
    from driftloop.promote.config import PromoteConfig
    from driftloop.tracking import TrackingConfig, configure, start_cycle, stage_run

    data_cfg = section(cfg, "data")
    reject_unknown(data_cfg, {"source", "schema", "windows"}, "data")
    schema = Schema.from_config(data_cfg.get("schema") or {})
    source = source_config(data_cfg.get("source") or {})
    initial_days, current_days = _windows_config(data_cfg.get("windows") or {})
    drift_cfg = DriftConfig.from_dict(section(cfg, "drift"))
    promote_cfg = PromoteConfig.from_dict(section(cfg, "promote"))
    tracking = TrackingConfig.from_dict(section(cfg, "tracking"))

    ws = workspace()
    folder = ws / source["path"]
    data, files = read_batches(folder, schema, str(source.get("format", "auto")))
    check_classes(data, schema, where=str(folder))

    experiment_id = configure(tracking)
    ref_frame, champion_label, lineage = _champion_reference(promote_cfg.model_name, promote_cfg.alias, schema)
    windows = select_windows(
        data, schema, initial_reference_days=initial_days, current_max_days=current_days,
        champion_reference=ref_frame, champion_label=champion_label,
    )
    with StagedOutputs() as staged:  # every output moves into place only if all of this succeeds
        write_parquet(reference_path := staged.path(ws / paths.REFERENCE), windows.reference)
        write_parquet(current_path := staged.path(ws / paths.CURRENT), windows.current)
        summary = summarize_reference(windows.reference[list(schema.features)], schema.kinds, drift_cfg)
        summary.save(staged.path(ws / paths.REFERENCE_SUMMARY))

        cycle_run_id = start_cycle(experiment_id, tags={"driftloop.reference": windows.reference_source})
        manifest = {
            "cycle_run_id": cycle_run_id,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": {"path": str(source["path"]), "batches": [p.name for p in files], "rows": int(len(data))},
            "schema": {"columns": {c: str(windows.current[c].dtype) for c in schema.required}, **schema.kinds},
            "reference": {
                **window_summary(windows.reference, schema),
                "source": windows.reference_source,
                "md5": file_md5(reference_path),
                "champion": lineage or None,
            },
            "current": {**window_summary(windows.current, schema), "md5": file_md5(current_path)},
        }
        write_json(staged.path(ws / paths.MANIFEST), manifest)

        with stage_run("snapshot", cycle_run_id, params={"data": data_cfg}):
            _log_windows(windows, schema, manifest, str(folder))
    # the .npz has replaced it (and only now that every output is in place)
    (ws / paths.LEGACY_REFERENCE_SUMMARY).unlink(missing_ok=True)
    return manifest


def _log_windows(windows: Windows, schema: Schema, manifest: Mapping[str, Any], source: str) -> None:
    """Both windows as MLflow dataset inputs (digest + source file), DVC md5s as tags."""
    import warnings

    import mlflow

    from driftloop.tracking import log_metrics

    for name, frame in (("reference", windows.reference), ("current", windows.current)):
        with warnings.catch_warnings():
            # MLflow 3.17 registers its local-file source twice and warns about the ambiguity.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(
                frame, source=(workspace() / getattr(paths, name.upper())).resolve().as_uri(),
                name=f"{name}-window", targets=schema.label,
            )
        mlflow.log_input(dataset, context=name)
        mlflow.set_tag(f"driftloop.{name}.dvc_md5", manifest[name]["md5"])
        mlflow.set_tag(f"driftloop.{name}.fingerprint", table_fingerprint(frame))
    mlflow.set_tag("driftloop.reference.source", windows.reference_source)
    log_metrics({
        "snapshot.reference.rows": manifest["reference"]["rows"],
        "snapshot.current.rows": manifest["current"]["rows"],
        "snapshot.source.rows": manifest["source"]["rows"],
    })
    mlflow.log_dict(dict(manifest), "snapshot/manifest.json")
