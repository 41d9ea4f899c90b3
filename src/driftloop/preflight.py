"""Check a composed config against the table it will run on, before any work is done.

A config that names a column, a metric or a class that the data or the task does not have
would otherwise fail one stage at a time, after training already ran (a slice column in
compare, a ``recall_<class>`` rule in promote). The snapshot stage runs this first, with the
classes it found in the data, so such a config is refused before a model is trained, naming
the key and what exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from driftloop.errors import ConfigError
from driftloop.schema import Schema


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _trigger_names(trigger: Any) -> set[str]:
    """The trigger names a raw ``train.trigger`` mentions, at any depth (``on_drift``,
    ``[on_drift, {performance_drop: {...}}]``, ``{any: [...]}``); its validation is the retrain
    stage's (:func:`driftloop.train.trigger.parse_trigger`), which this stage does not import.

    >>> sorted(_trigger_names({"any": ["on_drift", {"all": [{"performance_drop": {"min_drop": 0.1}}]}]}))
    ['on_drift', 'performance_drop']
    """
    if isinstance(trigger, str):
        return {trigger}
    if isinstance(trigger, (list, tuple)):
        return set().union(set(), *(_trigger_names(t) for t in trigger))
    if isinstance(trigger, Mapping):
        return set().union(set(), *(_trigger_names(v) if k in ("any", "all") else {str(k)} for k, v in trigger.items()))
    return set()


def config_problems(cfg: Mapping[str, Any], schema: Schema, classes: Iterable[str] = ()) -> list[str]:
    """Every reference in ``cfg`` to a column, metric or class that ``schema`` (and the observed
    ``classes``) do not have, one sentence each; empty when the config fits the table.

    Parameters
    ----------
    cfg : mapping
        The composed config (``params.yaml``): its ``compare``, ``promote`` and ``model`` sections.
    schema : Schema
    classes : iterable of str
        The label values seen in the data (classification); unioned with ``schema.classes``.

    Examples
    --------
    >>> s = Schema(id="id", timestamp="t", label="y", numeric=("x",), task="regression")
    >>> config_problems({"promote": {"rules": [{"metric": "f1_macro", "min_gain": 0}]}}, s)[0][:37]
    "promote.rules[0].metric is 'f1_macro'"
    """
    from driftloop.compare.metrics import metric_names

    problems: list[str] = []
    known_classes = list(dict.fromkeys([*schema.classes, *(str(c) for c in classes)]))
    metrics = metric_names(schema.task, known_classes)
    for i, rule in enumerate((cfg.get("promote") or {}).get("rules") or []):
        name = rule.get("metric") if isinstance(rule, Mapping) else None
        if not isinstance(name, str):
            continue  # PromoteConfig.from_dict names a malformed rule
        hit = [m for m in metrics if fnmatchcase(m, name)] if _is_glob(name) else [m for m in metrics if m == name]
        per_class = name.split("_", 1)
        is_per_class = (
            schema.task == "classification"
            and len(per_class) == 2
            and per_class[0] in ("precision", "recall", "f1")
            and per_class[1] != "macro"
        )
        if not hit and is_per_class and not known_classes:
            continue  # classes neither configured nor seen yet: the snapshot stage checks with the data's
        if not hit:
            what = (
                f"a class this table does not have (classes: {known_classes})"
                if is_per_class
                else f"not a {schema.task} metric"
            )
            problems.append(f"promote.rules[{i}].metric is {name!r}: {what}")
    columns = set(schema.features)
    for column in (cfg.get("compare") or {}).get("slices") or []:
        if column not in columns:
            problems.append(
                f"compare.slices names column {column!r}, which is not a feature of data.schema "
                f"(features: {list(schema.features)})"
            )
    trigger = (cfg.get("train") or {}).get("trigger")
    if schema.task == "regression" and trigger is not None and "performance_drop" in _trigger_names(trigger):
        problems.append(
            "train.trigger uses performance_drop, which compares a classifier's accuracy or f1_macro "
            "(measured on current labels, or estimated from its probabilities): a regression champion "
            "has neither, so it could never fire; use on_drift, champion_age or new_rows"
        )
    incremental = (cfg.get("train") or {}).get("strategy") == "incremental"  # sklearn imported only then
    if incremental and (no_partial_fit := _without_partial_fit(cfg.get("model") or {})):
        problems.append(
            f"train.strategy is 'incremental' but model.estimator {no_partial_fit} has no partial_fit: choose an "
            "estimator that learns chunk by chunk (SGDClassifier, SGDRegressor, MultinomialNB, ...) or 'sample'"
        )
    model_task = (cfg.get("model") or {}).get("task")
    if model_task is not None and model_task != schema.task:
        problems.append(f"model.task is {model_task!r} but data.schema.task is {schema.task!r}")
    return problems


def _without_partial_fit(model: Mapping[str, Any]) -> str | None:
    """The class ``model.estimator`` names when it has no ``partial_fit``; None when it has, or when it
    is not a public class under ``model.allowed_targets`` (build_model refuses that, naming it). Only an
    allowed module is imported, as build_model would, and nothing is called (the train package's
    check, kept out of the first stage's imports)."""
    import importlib

    target = (model.get("estimator") or {}).get("_target_") if isinstance(model.get("estimator"), Mapping) else None
    allowed = [str(p).rstrip(".") + "." for p in (model.get("allowed_targets") or ["sklearn."])]
    if not isinstance(target, str) or not any(target.startswith(p) for p in allowed):
        return None
    module, _, name = target.rpartition(".")
    if any(not part.isidentifier() or part.startswith("_") for part in target.split(".")):
        return None
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return None if hasattr(found, "partial_fit") else name


def check_config(cfg: Mapping[str, Any], schema: Schema, classes: Iterable[str] = ()) -> None:
    """Parse the compare and promote sections, then raise :class:`ConfigError` listing every problem
    :func:`config_problems` finds.

    The message says how to select the task's shipped defaults, the usual cure for a config
    inherited from another task (``compare=regression promote=regression`` or, in the data
    config's defaults list, ``- override /promote@_global_.promote: regression``).
    """
    from driftloop.compare.config import CompareConfig
    from driftloop.compare.metrics import metric_names

    # Parse both sections first: a key of an earlier version is named with its replacement here,
    # at the first stage, rather than in compare or promote after training.
    from driftloop.drift.config import DriftConfig
    from driftloop.promote.config import PromoteConfig

    CompareConfig.from_dict(cfg.get("compare") or {})
    PromoteConfig.from_dict(cfg.get("promote") or {})
    if "drift" in cfg:
        DriftConfig.from_dict(cfg["drift"])
    check_engine(cfg.get("engine"))
    problems = config_problems(cfg, schema, classes)
    if problems:
        task = schema.task
        metrics = metric_names(task, list(dict.fromkeys([*schema.classes, *(str(c) for c in classes)])))
        raise ConfigError(
            "the config does not fit this table: " + "; ".join(problems) + f". {task.capitalize()} metrics "
            f"are {list(metrics)}. "
            f"For the shipped {task} defaults, run `driftloop params compare={task} promote={task}` or add "
            f"`- override /compare@_global_.compare: {task}` and `- override /promote@_global_.promote: {task}` "
            "to your data config's defaults list."
        )


def check_engine(engine: Any) -> None:
    """Parse the ``engine`` group (:class:`driftloop.engine.EngineConfig`: a key it lacks or a bad
    value named, an address with credentials refused) and, for ``dask``, find its package: so the
    first stage refuses what the drift and compare stages would only find when they open the engine.

    >>> check_engine({"kind": "spark"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: engine.kind must be one of ...
    """
    import importlib.util

    from driftloop.engine import EngineConfig

    if EngineConfig.from_dict(engine).kind == "dask" and importlib.util.find_spec("distributed") is None:
        raise ConfigError("engine.kind is dask but distributed is not installed: pip install 'driftloop[dask]'.")
