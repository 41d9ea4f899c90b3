"""Fixtures for promotion tests: real sklearn challengers in MLflow and decisions.

The real ``mlflow server`` fixture (``mlflow_server``) lives in tests/conftest.py, shared with
the pipeline tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftloop.promote.config import PromoteConfig
from driftloop.promote.gates import Decision, evaluate_gates
from driftloop.promote.resolution import DriftResolution, ResolutionCheck


@dataclass(frozen=True)
class Challenger:
    model_uri: str
    run_id: str


def log_challenger(client, experiment_id: str, seed: int = 0) -> Challenger:
    """Log a small real LogisticRegression in a new run; return its model URI and run id."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] + 0.1 * rng.normal(size=40) > 0).astype(int)
    run = client.create_run(experiment_id)
    # The fluent API logs into the run we created with the client (same tracking URI).
    with mlflow.start_run(run_id=run.info.run_id):
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="model", pip_requirements=["scikit-learn"])
    return Challenger(model_uri=info.model_uri, run_id=run.info.run_id)


def make_experiment(client, root: Path, name: str = "driftloop-tests") -> str:
    """An experiment whose artifacts live under ``root`` (never in the cwd)."""
    (root / "mlartifacts").mkdir(parents=True, exist_ok=True)
    return client.create_experiment(name, artifact_location=(root / "mlartifacts").as_uri())


RESOLVED = DriftResolution(
    checks=(
        ResolutionCheck("training_data", True, "closer to the holdout than the champion's on ['stars']"),
        ResolutionCheck("output_labels", True, "predicted class shares match"),
        ResolutionCheck("validation_gap", True, "drop 0.01 within 10 %"),
    )
)
UNRESOLVED = DriftResolution(
    checks=(
        ResolutionCheck(
            "training_data", False, "the challenger's training data is not closer to the holdout on ['stars']"
        ),
        *RESOLVED.checks[1:],
    )
)

#: The demo's rules: a 0.01 gain in f1_macro, per-class recall guard, absolute floor 0.6.
RULES = PromoteConfig.from_dict(
    {
        "rules": [
            {"metric": "f1_macro", "min_gain": 0.01},
            {"metric": "recall_*", "max_regression": 0.05},
            {"metric": "f1_macro", "threshold": 0.6},
        ]
    }
)


def comparison(
    champion: float | None,
    challenger: float,
    *,
    ci_low: float | None = 0.02,
    recall_neg: tuple[float | None, float] = (0.7, 0.72),
) -> dict:
    """A compare.json dict for f1_macro plus one per-class recall."""

    def entry(c, x, lo=None, hi=None, p=None):
        return {
            "champion": c,
            "challenger": x,
            "delta": None if c is None else x - c,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": p,
            "greater_is_better": True,
        }

    return {
        "n_holdout": 300,
        "confidence": 0.95,
        "metrics": {
            "f1_macro": entry(champion, challenger, ci_low, None if ci_low is None else ci_low + 0.1),
            "recall_negative": entry(*recall_neg),
        },
    }


def decide(
    champion: float | None,
    challenger: float,
    resolution: DriftResolution | None = RESOLVED,
    cfg: PromoteConfig | None = None,
    **kw,
) -> Decision:
    return evaluate_gates(
        comparison(champion, challenger, **kw), resolution, cfg or RULES, first_cycle=champion is None
    )


@pytest.fixture
def client(mlflow_uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)


@pytest.fixture
def challenger_factory(client, tmp_path) -> Callable[[int], Challenger]:
    exp = make_experiment(client, tmp_path)
    return lambda seed=0: log_challenger(client, exp, seed)


# -- a real `mlflow server` -----------------------------------------------------------------------


@pytest.fixture
def server_uri(mlflow_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MLflow (env + fluent API) at the session's server for one test."""
    import mlflow

    for key in list(os.environ):
        if key.startswith("MLFLOW_") and key != "MLFLOW_DISABLE_TELEMETRY":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", mlflow_server.uri)
    mlflow.set_tracking_uri(mlflow_server.uri)
    mlflow.set_registry_uri(mlflow_server.uri)
    import mlflow.tracking.fluent as fluent

    fluent._active_experiment_id = None  # an experiment id of an earlier test's sqlite DB
    yield mlflow_server.uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.set_registry_uri(None)


@pytest.fixture
def lock(tmp_path):
    """A promotion lock file of the test's own (its folder is created by the lock)."""
    return tmp_path / "locks" / "promote.lock"
