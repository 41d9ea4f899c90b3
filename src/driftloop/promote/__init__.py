"""Promotion: gates, drift-resolution evidence, the registry edge and the CLI commands.

Importing this package does not import MLflow (it costs seconds); the registry
edge imports it when first used.
"""

from driftloop.promote.config import MetricRule, PromoteConfig, ResolutionConfig
from driftloop.promote.gates import Decision, Gate, evaluate_gates
from driftloop.promote.promotion import PromotionOutcome, promote, promotion_guard, promotion_lock, write_decision
from driftloop.promote.registry import AliasMove, ChampionRegistry, ModelVersionInfo
from driftloop.promote.resolution import DriftResolution, ResolutionCheck, ResolutionInputs, assess_drift_resolution

__all__ = [
    "AliasMove",
    "ChampionRegistry",
    "Decision",
    "DriftResolution",
    "Gate",
    "MetricRule",
    "ModelVersionInfo",
    "PromoteConfig",
    "PromotionOutcome",
    "ResolutionCheck",
    "ResolutionConfig",
    "ResolutionInputs",
    "assess_drift_resolution",
    "evaluate_gates",
    "promote",
    "promotion_guard",
    "promotion_lock",
    "write_decision",
]
