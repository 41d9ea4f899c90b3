"""A model config cannot run code: ``_target_`` names an estimator or transformer class, never a
function, and is checked (resolved, never called) before anything is instantiated.

Every public callable of driftloop and a list of dangerous ones reachable under ``sklearn.``,
``os``, ``subprocess``, ``builtins`` and ``pickle`` are refused, with the default allow-list and
with one that lists their module, and a sentinel proves none of them ran: Hydra's ``instantiate``
fails the test if reached, a profiler records any call into the target, and the targets that would
write a file are given one to write.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import textwrap
import types
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import driftloop
from driftloop.errors import ConfigError
from driftloop.train.model import DEFAULT_ALLOWED_TARGETS, MODEL, build_model, check_targets

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
PERMISSIVE = ["sklearn.", "driftloop.", "os", "subprocess", "builtins", "pickle", "shutil", "importlib"]

# Reachable under sklearn. through its own module-level imports (sklearn/__init__.py imports os and
# random, sklearn.utils.estimator_checks imports pickle, sklearn.utils.parallel joblib, sklearn.base
# platform), sklearn functions, and the standard library's shell, file and code-running entry points.
DANGEROUS = [
    "sklearn.os.system",
    "sklearn.os.popen",
    "sklearn.os.remove",
    "sklearn.random.seed",
    "sklearn.base.platform.system",
    "sklearn.utils.estimator_checks.pickle.loads",
    "sklearn.utils.parallel.joblib.Parallel",
    "sklearn.utils.parallel.joblib.dump",
    "sklearn.utils._testing.assert_run_python_script_without_output",
    "sklearn._config.set_config",
    "sklearn.base.clone",
    "sklearn.utils.estimator_html_repr",
    "sklearn.utils.discovery.all_estimators",
    "sklearn.datasets.fetch_openml",
    "sklearn.base.BaseEstimator",
    "os.system",
    "os.popen",
    "os.execv",
    "subprocess.run",
    "subprocess.Popen",
    "subprocess.check_output",
    "builtins.eval",
    "builtins.exec",
    "builtins.open",
    "builtins.compile",
    "builtins.__import__",
    "pickle.loads",
    "shutil.rmtree",
    "importlib.import_module",
]


def _driftloop_callables() -> list[str]:
    """``driftloop.<module>.<name>`` for every public callable of every module of the installed package."""
    names = []
    for info in pkgutil.walk_packages(driftloop.__path__, "driftloop."):
        if info.name.rsplit(".", 1)[-1].startswith("_"):
            continue  # __main__ and private modules: a _target_ with a private segment is refused anyway
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.startswith("_") and callable(value) and not isinstance(value, types.ModuleType):
                names.append(f"{info.name}.{name}")
    return sorted(names)


def _locate(target: str) -> Any:
    """The object a dotted name stands for, found the way Hydra finds it (for the sentinel only)."""
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            continue
        for attr in parts[n:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(target)


def _codes(obj: Any) -> set[types.CodeType]:
    """The code objects that run when ``obj`` is called: its own, or its class's methods."""
    if inspect.isclass(obj):
        root = (obj.__module__ or "").split(".")[0]
        return {
            f.__code__
            for cls in obj.__mro__
            if (cls.__module__ or "").split(".")[0] == root and cls.__module__ != "builtins"
            for f in vars(cls).values()
            if inspect.isfunction(f)
        }
    code = getattr(obj, "__code__", None)
    return {code} if isinstance(code, types.CodeType) else set()


def _calls_into(target: str, run: Any) -> Counter[str]:
    """The calls into ``target`` (its Python code, or the builtin itself) while ``run()`` runs."""
    try:
        obj = _locate(target)
    except (LookupError, AttributeError):
        obj = None
    codes = _codes(obj) if obj is not None else set()
    calls: Counter[str] = Counter()

    def profile(frame: types.FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            calls[frame.f_code.co_qualname] += 1
        elif event == "c_call" and obj is not None and arg is obj:
            calls[target] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(previous)
    return calls


def _refused_uncalled(schema: Any, spec: dict, allowed: list[str] | None = None) -> str:
    """The message refusing ``spec``; fails if building it called its target (beyond what refusing a
    target that does not exist calls: driftloop's own config checks run either way)."""
    messages: list[str] = []
    target = spec["_target_"]
    attack = _calls_into(target, lambda: messages.append(_refused(schema, spec, allowed)))
    baseline = _calls_into(
        target, lambda: _refused(schema, {**spec, "_target_": "sklearn.linear_model.NoSuchEstimator"}, allowed)
    )
    assert not attack - baseline, f"{target} was called: {dict(attack - baseline)}"
    return messages[0]


@pytest.fixture(autouse=True)
def no_instantiate(monkeypatch):
    """Hydra is never asked to instantiate a refused spec: reaching it fails the test."""
    import hydra.utils
    from hydra._internal.instantiate import _instantiate2

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"Hydra was asked to call something: {args} {kwargs}")

    monkeypatch.setattr(hydra.utils, "instantiate", refuse)
    monkeypatch.setattr(_instantiate2, "_call_target", refuse)


def _refused(schema: Any, estimator: dict, allowed: list[str] | None = None) -> str:
    cfg: dict[str, Any] = {"task": "classification", "estimator": estimator}
    if allowed is not None:
        cfg["allowed_targets"] = allowed
    with pytest.raises(ConfigError) as info:
        build_model(cfg, schema)
    return str(info.value)


def test_every_public_driftloop_callable_is_refused_uncalled(schema):
    targets = _driftloop_callables()
    assert len(targets) > 200, targets  # the walk found the package's modules
    problems = []
    for target in targets:
        for allowed in (None, PERMISSIVE):
            try:
                message = _refused_uncalled(schema, {"_target_": target}, allowed)
            except BaseException as exc:  # pytest.fail's Failed too: report them all at once
                problems.append(f"{target} (allowed {allowed}): {type(exc).__name__}: {exc}")
                continue
            if "model.estimator._target_" not in message or repr(target) not in message:
                problems.append(f"{target}: the message names neither the key nor the target: {message}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("allowed", [None, PERMISSIVE], ids=["default", "permissive"])
@pytest.mark.parametrize("target", DANGEROUS)
def test_dangerous_targets_are_refused_uncalled(target, allowed, schema, tmp_path):
    sentinel = tmp_path / "pwned"
    spec = {
        "_target_": target,
        # whatever the target, a call that would leave the sentinel file behind
        "command": f"touch {sentinel}",
        "args": ["touch", str(sentinel)],
    }
    if target.endswith("open"):
        spec = {"_target_": target, "file": str(sentinel), "mode": "w"}
    message = _refused_uncalled(schema, spec, allowed)
    assert not sentinel.exists()
    assert message.startswith("model.estimator._target_ ") and repr(target) in message
    if allowed is None and not target.startswith("sklearn."):
        assert "not allowed" in message and "['sklearn.']" in message and "model.allowed_targets" in message


@pytest.mark.parametrize(
    "estimator, where",
    [
        (
            {
                "_target_": "sklearn.pipeline.Pipeline",
                "steps": [
                    ["scale", {"_target_": "sklearn.preprocessing.MaxAbsScaler"}],
                    ["clf", {"_target_": "sklearn.os.system", "command": "touch {sentinel}"}],
                ],
            },
            "model.estimator.steps[1][1]._target_",
        ),
        (
            {
                "_target_": "sklearn.ensemble.StackingClassifier",
                "estimators": [["lr", {"_target_": "sklearn.linear_model.LogisticRegression"}]],
                "final_estimator": {"_target_": "builtins.open", "file": "{sentinel}", "mode": "w"},
            },
            "model.estimator.final_estimator._target_",
        ),
        (
            {
                "_target_": "sklearn.ensemble.VotingClassifier",
                "estimators": [
                    [
                        "a",
                        {
                            "_target_": "sklearn.tree.DecisionTreeClassifier",
                            "criterion": {"_target_": "subprocess.run", "args": ["touch", "{sentinel}"]},
                        },
                    ]
                ],
            },
            "model.estimator.estimators[0][1].criterion._target_",
        ),
        (
            {"_target_": "sklearn.linear_model.LogisticRegression", "_args_": [{"_target_": "sklearn.base.clone"}]},
            "model.estimator._args_[0]._target_",
        ),
        # The two places above again with a function inside the allowed package: a prefix check
        # (before issue 13) refused builtins.open and subprocess.run at any depth, not these.
        (
            {
                "_target_": "sklearn.ensemble.StackingClassifier",
                "estimators": [["lr", {"_target_": "sklearn.linear_model.LogisticRegression"}]],
                "final_estimator": {
                    "_target_": "sklearn.utils.parallel.joblib.dump",
                    "value": 1,
                    "filename": "{sentinel}",
                },
            },
            "model.estimator.final_estimator._target_",
        ),
        (
            {
                "_target_": "sklearn.ensemble.VotingClassifier",
                "estimators": [
                    [
                        "a",
                        {
                            "_target_": "sklearn.tree.DecisionTreeClassifier",
                            "criterion": {"_target_": "sklearn.os.system", "command": "touch {sentinel}"},
                        },
                    ]
                ],
            },
            "model.estimator.estimators[0][1].criterion._target_",
        ),
    ],
    ids=[
        "pipeline-step",
        "stacking-final",
        "deep-in-a-list",
        "in-args",
        "stacking-final-allowed-package",
        "deep-in-a-list-allowed-package",
    ],
)
def test_nested_targets_are_checked_before_anything_is_built(estimator, where, schema, tmp_path):
    sentinel = tmp_path / "pwned"
    spec = yaml.safe_load(yaml.safe_dump(estimator).replace("{sentinel}", str(sentinel)))
    message = _refused(schema, spec)
    assert message.startswith(where + " "), message
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "estimator, expected",
    [
        ({"_partial_": True}, "model.estimator._partial_ is not allowed"),
        ({"_recursive_": False}, "model.estimator._recursive_ is not allowed"),
        ({"_convert_": "none"}, "model.estimator._convert_ is not allowed"),
        ({"class_weight": {"_partial_": True}}, "model.estimator.class_weight._partial_ is not allowed"),
        ({"solver": "${oc.env:HOME}"}, "model.estimator.solver must be a plain value, not an interpolation"),
        ({"_target_": ["sklearn.linear_model.LogisticRegression"]}, "model.estimator._target_ must be a dotted"),
    ],
    ids=["partial", "recursive", "convert", "nested-partial", "interpolation", "not-a-string"],
)
def test_hydra_keys_that_could_call_something_else_are_refused(estimator, expected, schema):
    spec = {"_target_": "sklearn.linear_model.LogisticRegression", **estimator}
    assert expected in _refused(schema, spec)


def test_messages_name_the_key_what_was_expected_and_what_was_got():
    with pytest.raises(ConfigError) as info:
        check_targets({"_target_": "sklearn.base.clone"}, "model.estimator")
    assert str(info.value) == (
        "model.estimator._target_ must name a scikit-learn estimator or transformer class (a subclass of "
        "sklearn.base.BaseEstimator with fit and predict or transform), never a function. "
        "Got 'sklearn.base.clone' (a function) instead."
    )
    with pytest.raises(ConfigError, match=r"'sklearn\.os' is the module 'os', outside \['sklearn\.'\]"):
        check_targets({"_target_": "sklearn.os.system"}, "model.estimator")
    with pytest.raises(ConfigError, match=r"'sklearn\.linear_model' has no attribute 'Logistic'"):
        check_targets({"_target_": "sklearn.linear_model.Logistic"}, "model.estimator")
    with pytest.raises(ConfigError, match=r"no segment starting with '_'"):
        check_targets({"_target_": "sklearn.linear_model._logistic.LogisticRegression"}, "model.estimator")


@pytest.fixture
def real_instantiate(monkeypatch):
    monkeypatch.undo()


@pytest.mark.usefixtures("real_instantiate")
@pytest.mark.parametrize("path", sorted(CONF.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_model_config_still_builds(path, make_schema_for):
    cfg = yaml.safe_load(path.read_text())
    assert "allowed_targets" not in cfg or cfg["allowed_targets"] == list(DEFAULT_ALLOWED_TARGETS)
    model = build_model(cfg, make_schema_for(cfg["task"]))
    assert type(model[-1]).__module__.startswith("sklearn.")


@pytest.mark.usefixtures("real_instantiate")
def test_a_pipeline_estimator_builds(schema):
    from sklearn.pipeline import Pipeline

    model = build_model(
        {
            "task": "classification",
            "estimator": {
                "_target_": "sklearn.pipeline.Pipeline",
                "steps": [
                    ["scale", {"_target_": "sklearn.preprocessing.MaxAbsScaler"}],
                    ["clf", {"_target_": "sklearn.linear_model.LogisticRegression", "C": 0.5}],
                ],
            },
        },
        schema,
    )
    assert isinstance(model[-1], Pipeline)


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    """An installed-looking package with a scikit-learn classifier class and a helper that writes a file."""
    package = tmp_path / "site" / "toy_models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            import numpy as np
            from sklearn.base import BaseEstimator, ClassifierMixin


            class MajorityClassifier(ClassifierMixin, BaseEstimator):
                def __init__(self, tie="first"):
                    self.tie = tie

                def fit(self, X, y):
                    self.classes_, counts = np.unique(y, return_counts=True)
                    self.majority_ = self.classes_[counts.argmax()]
                    return self

                def predict(self, X):
                    return np.full(X.shape[0], self.majority_)


            def helper(path):
                Path(path).write_text("pwned")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield tmp_path
    for name in [m for m in sys.modules if m == "toy_models" or m.startswith("toy_models.")]:
        del sys.modules[name]


def test_the_allow_list_is_configurable(toy_package, schema, monkeypatch):
    assert MODEL["allowed_targets"].default == DEFAULT_ALLOWED_TARGETS == ("sklearn.",)
    spec = {"_target_": "toy_models.MajorityClassifier", "tie": "last"}
    message = _refused(schema, spec)
    assert message == (
        "model.estimator._target_ is not allowed: it must name a scikit-learn estimator or transformer class "
        "(a subclass of sklearn.base.BaseEstimator with fit and predict or transform) under one of ['sklearn.'] "
        "(model.allowed_targets). Got 'toy_models.MajorityClassifier' instead."
    )
    assert "toy_models" not in sys.modules  # refused by name: not even imported

    # Listed: a function of the listed package is still refused, and never runs ...
    sentinel = toy_package / "pwned"
    message = _refused_uncalled(
        schema, {"_target_": "toy_models.helper", "path": str(sentinel)}, ["sklearn.", "toy_models"]
    )
    assert not sentinel.exists()
    assert "never a function" in message

    # ... and its estimator class builds.
    monkeypatch.undo()  # the real Hydra instantiate
    model = build_model(
        {"task": "classification", "estimator": spec, "allowed_targets": ["sklearn.", "toy_models"]}, schema
    )
    assert type(model[-1]).__name__ == "MajorityClassifier" and model[-1].tie == "last"
    # sklearn itself is refused once the list leaves it out
    with pytest.raises(ConfigError, match=r"under one of \['toy_models\.'\]"):
        build_model(
            {
                "task": "classification",
                "estimator": {"_target_": "sklearn.linear_model.LogisticRegression"},
                "allowed_targets": ["toy_models."],
            },
            schema,
        )


@pytest.mark.parametrize(
    "allowed, expected",
    [
        ("sklearn.", "model.allowed_targets must be a list of names"),
        (["sklearn/linear_model"], "model.allowed_targets[0] must be a module or package name"),
        (["sklearn.", ""], "model.allowed_targets[1] must be a module or package name"),
    ],
)
def test_the_allow_list_is_validated(allowed, expected, schema):
    message = _refused(schema, {"_target_": "sklearn.linear_model.LogisticRegression"}, allowed)
    assert message.startswith(expected), message


@pytest.mark.parametrize(
    ("estimator", "where", "got"),
    [
        (
            {
                "_target_": "sklearn.pipeline.Pipeline",
                "memory": "CACHE",
                "steps": [["clf", {"_target_": "sklearn.linear_model.LogisticRegression"}]],
            },
            "model.estimator.memory",
            "CACHE",
        ),
        (
            {
                "_target_": "sklearn.pipeline.Pipeline",
                "steps": [
                    ["agg", {"_target_": "sklearn.cluster.FeatureAgglomeration", "memory": "CACHE"}],
                    ["clf", {"_target_": "sklearn.linear_model.LogisticRegression"}],
                ],
            },
            "model.estimator.steps[0][1].memory",
            "CACHE",
        ),
        (
            {"_target_": "sklearn.feature_extraction.text.TfidfVectorizer", "input": "filename"},
            "model.estimator.input",
            "'filename'",
        ),
        (
            {"_target_": "sklearn.feature_extraction.text.CountVectorizer", "input": "file"},
            "model.estimator.input",
            "'file'",
        ),
    ],
)
def test_parameters_that_touch_files_are_refused(estimator, where, got, schema, tmp_path):
    """Pipeline(memory=...) caches (and loads back) pickles in a folder; a vectorizer's input='filename'
    opens every value as a file: both refused by the check, before anything is built (the autouse
    fixture fails the test if Hydra is reached)."""
    cache = tmp_path / "cache"
    spec = yaml.safe_load(yaml.safe_dump(estimator).replace("CACHE", str(cache)))
    message = _refused(schema, spec)
    assert message.startswith(f"{where} must be "), message
    assert f"Got {got.replace('CACHE', repr(str(cache)))} instead." in message
    assert not cache.exists()
    # The harmless values stay allowed.
    check_targets({"_target_": "sklearn.pipeline.Pipeline", "memory": None, "steps": []}, "model.estimator")
    check_targets({"_target_": "sklearn.feature_extraction.text.TfidfVectorizer", "input": "content"}, "m")
