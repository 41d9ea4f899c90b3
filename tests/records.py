"""What a failed stage must leave as it was, read for before/after comparisons (issue 13's fault
and bad-input tests): the registry's models, versions and aliases, and a workspace's snapshot files."""

from __future__ import annotations

from pathlib import Path

from driftloop import paths


def registry_state(uri: str) -> dict:
    """Every registered model at ``uri``: its aliases, tags and versions (number, run, status, tags)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    state: dict = {}
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        state[model.name] = {
            "aliases": dict(client.get_registered_model(model.name).aliases),
            "tags": dict(client.get_registered_model(model.name).tags),
            "versions": sorted((v.version, v.run_id, v.status, tuple(sorted(v.tags.items()))) for v in versions),
        }
    return state


def snapshot_bytes(ws: Path) -> dict[str, bytes]:
    """The snapshot's files, the reference summary and decision.json of workspace ``ws``, by path."""
    files = [*sorted((ws / paths.SNAPSHOT_DIR).iterdir()), *sorted((ws / paths.SUMMARY_DIR).iterdir())]
    files += [ws / paths.DECISION_JSON]
    return {str(p.relative_to(ws)): p.read_bytes() for p in files}
