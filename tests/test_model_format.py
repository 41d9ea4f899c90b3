"""Models are saved as skops and loaded with driftloop's own trusted types; pickles only on request (issue 13).

A crafted ``model.pkl`` whose ``__reduce__`` writes a sentinel file is refused, before it is
unpickled, by ``driftloop compare --challenger <folder>`` and by the champion-loading path the
drift stage uses (a registered version downloaded from MLflow); ``compare.allow_pickle_models``
loads it. A skops file naming a type outside the allow-list is refused too.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from driftloop.compare.model_format import DEFAULT_MODEL_PREFIXES, load_options, trusted_types
from driftloop.compare.predict import load_model, predict_outputs
from driftloop.errors import ModelError

from .synthetic import frames, schema  # noqa: F401

CONF = Path(__file__).resolve().parents[1] / "conf" / "model"


class _Payload:
    """Unpickling this runs ``exec``: it writes ``path`` (the sentinel)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (exec, (f"open({str(self.path)!r}, 'w').write('pickle ran')",))


def _crafted_folder(root: Path, sentinel: Path) -> Path:
    """An MLflow sklearn model folder whose MLmodel says pickle and whose model.pkl runs code."""
    import pickle

    folder = root / "crafted-model"
    folder.mkdir(parents=True)
    mlmodel = {
        "artifact_path": "model",
        "flavors": {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl", "python_version": "3.11"},
            "sklearn": {"pickled_model": "model.pkl", "serialization_format": "pickle", "sklearn_version": "1.5.0"},
        },
        "mlflow_version": "3.17.0",
    }
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(sentinel)))
    return folder


@pytest.fixture
def fitted(frames, schema):  # noqa: F811
    from driftloop.train.model import build_model, fit_model
    from driftloop.train.windows import WindowConfig, select_training_window

    ref, cur = frames
    window = select_training_window(ref, cur, schema, WindowConfig.from_dict({"policy": "expanding"}))
    cfg = yaml.safe_load((CONF / "hgb.yaml").read_text())
    return window, fit_model(build_model(cfg, schema), window, schema)


def test_default_prefixes_follow_the_model_allow_list():
    from driftloop.train.model import DEFAULT_ALLOWED_TARGETS

    assert DEFAULT_MODEL_PREFIXES == DEFAULT_ALLOWED_TARGETS


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_retrained_model_is_skops_and_loads_back_identically(mlflow_uri, tmp_path, fitted, schema):  # noqa: F811
    import mlflow

    from driftloop.contracts import TrainResult
    from driftloop.train.challenger import fit_and_log

    window, fit = fitted
    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    record = TrainResult(trained=False, trigger="drift", model="hgb", window="w", rows={})
    seen = _Records()  # the "mlflow" logger does not propagate to pytest's caplog
    logging.getLogger("mlflow").addHandler(seen)
    try:
        with mlflow.start_run(experiment_id=exp) as run:
            result = fit_and_log(fit.model, window, schema, record, run_id=run.info.run_id, training_uri="file:///t")
        # MLflow's "pickle or cloudpickle format requires exercising caution" warning is gone ...
        assert not [m for m in seen.messages if "pickle" in m.lower()], seen.messages
        mlflow.sklearn.save_model(fit.model, str(tmp_path / "legacy"), serialization_format="cloudpickle")
        assert [m for m in seen.messages if "pickle" in m.lower()]  # ... and would be seen here
    finally:
        logging.getLogger("mlflow").removeHandler(seen)
    folder = Path(mlflow.artifacts.download_artifacts(result.model_uri, dst_path=str(tmp_path / "dl")))
    flavor = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops" and (folder / flavor["pickled_model"]).suffix == ".skops"
    assert not list(folder.rglob("*.pkl"))
    for uri in (result.model_uri, str(folder)):
        loaded = load_model(uri)
        X = window.holdout[list(schema.features)]
        pred = predict_outputs(loaded, window.holdout, schema)
        assert np.array_equal(pred.pred, fit.model.predict(X))
        assert np.array_equal(pred.proba, fit.model.predict_proba(X))


def _holdout_csv(tmp_path: Path, frames) -> Path:  # noqa: F811
    path = tmp_path / "holdout.csv"
    frames[1].head(50).to_csv(path, index=False)
    return path


def test_compare_cli_refuses_a_pickled_challenger_folder(tmp_path, frames):  # noqa: F811
    sentinel = tmp_path / "SENTINEL"
    folder = _crafted_folder(tmp_path, sentinel)
    holdout = _holdout_csv(tmp_path, frames)
    cmd = [str(Path(sys.executable).parent / "driftloop"), "compare", str(holdout), "--challenger", str(folder)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": (tmp_path / "mlruns").as_uri()}
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == ModelError.exit_code == 6, proc.stderr
    assert str(folder) in proc.stderr and "'pickle'" in proc.stderr
    assert "compare.allow_pickle_models" in proc.stderr and "older" in proc.stderr
    assert not sentinel.exists()
    assert not (tmp_path / "out" / "compare.json").exists()


def test_compare_opt_in_loads_the_pickle(tmp_path, frames):  # noqa: F811
    from driftloop.compare.cli import compare_command

    sentinel = tmp_path / "SENTINEL"
    folder = _crafted_folder(tmp_path, sentinel)
    holdout = _holdout_csv(tmp_path, frames)
    code = compare_command(holdout, None, str(folder), tmp_path / "out", [])
    assert code == 6 and not sentinel.exists()
    with contextlib.suppress(Exception):  # the payload is no model: what matters is that it was loaded
        compare_command(holdout, None, str(folder), tmp_path / "out", ["compare.allow_pickle_models=true"])
    assert sentinel.read_text() == "pickle ran"  # the user asked for it: MLflow unpickled it


def test_real_pickled_model_needs_the_opt_in(tmp_path, fitted, schema):  # noqa: F811
    import mlflow

    window, fit = fitted
    folder = tmp_path / "legacy"
    mlflow.sklearn.save_model(fit.model, str(folder), serialization_format="cloudpickle")
    with pytest.raises(ModelError, match=r"saved as 'cloudpickle'.*compare\.allow_pickle_models") as info:
        load_model(str(folder))
    assert str(folder) in str(info.value)
    loaded = load_model(str(folder), allow_pickle=True)
    X = window.holdout[list(schema.features)]
    assert np.array_equal(predict_outputs(loaded, window.holdout, schema).pred, fit.model.predict(X))


def test_a_pkl_beside_a_skops_model_is_refused(tmp_path, fitted):
    import mlflow

    _, fit = fitted
    folder = tmp_path / "m"
    import skops.io

    mlflow.sklearn.save_model(
        fit.model,
        str(folder),
        serialization_format="skops",
        skops_trusted_types=trusted_types(skops.io.get_untrusted_types(data=skops.io.dumps(fit.model))),
    )
    load_model(str(folder))  # a clean skops folder loads
    (folder / "extra.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(ModelError, match=r"pickle file\(s\) \['extra.pkl'\]"):
        load_model(str(folder))


def test_champion_loading_path_refuses_a_pickled_champion(mlflow_uri, tmp_path, schema):  # noqa: F811
    """The drift stage's champion path: a registered version, downloaded from the registry."""
    import mlflow

    from driftloop.champion import ChampionRef
    from driftloop.drift_files import champion_outputs

    sentinel = tmp_path / "SENTINEL"
    folder = _crafted_folder(tmp_path / "src", sentinel)
    exp = mlflow.create_experiment("c", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp) as run:
        mlflow.log_artifacts(str(folder), "model")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", "feedback")
    champion = ChampionRef(name="feedback", version=str(mv.version), run_id=run.info.run_id)
    with pytest.raises(ModelError) as info:
        champion_outputs(champion, schema, root=tmp_path, ws=tmp_path, load_options=load_options({}))
    message = str(info.value)
    assert champion.uri in message and "'pickle'" in message and "compare.allow_pickle_models" in message
    assert info.value.exit_code == 6 and not sentinel.exists()
    # the same refusal from the stages' config, and the opt-in runs it
    with pytest.raises(ModelError):
        load_model(champion.uri, **load_options({"compare": {"allow_pickle_models": False}}))
    assert not sentinel.exists()
    with contextlib.suppress(Exception):  # the payload is no model: what matters is that it was loaded
        load_model(champion.uri, **load_options({"compare": {"allow_pickle_models": True}}))
    assert sentinel.exists()


def test_allow_pickle_models_is_validated_as_data():
    from driftloop.compare.config import CompareConfig
    from driftloop.errors import ConfigError

    assert CompareConfig.from_dict({}).allow_pickle_models is False
    with pytest.raises(ConfigError, match=r"compare\.allow_pickle_models must be"):
        load_options({"compare": {"allow_pickle_models": "yes please"}})
    with pytest.raises(ConfigError, match=r"compare\.allow_pickle_models must be"):
        CompareConfig.from_dict({"allow_pickle_models": 3})


def _rewrite_skops(src: Path, dst: Path, edit) -> None:
    """Copy skops file ``src`` to ``dst`` with its schema.json edited by ``edit(schema)``."""
    with zipfile.ZipFile(src) as zin:
        files = {n: zin.read(n) for n in zin.namelist()}
    doc = json.loads(files["schema.json"])
    edit(doc)
    files["schema.json"] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for n, b in files.items():
            zout.writestr(n, b)
    dst.write_bytes(buf.getvalue())


@pytest.mark.parametrize(
    "module, name",
    [
        ("builtins", "eval"),  # a function outside the fixed list
        ("sklearn.utils._testing", "assert_allclose"),  # a function under sklearn.
        ("collections", "OrderedDict"),  # a class outside the allow-list
    ],
)
def test_skops_file_with_an_untrusted_type_is_refused(tmp_path, module, name):
    import mlflow
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    model = FunctionTransformer(np.ravel)
    folder = tmp_path / "m"
    mlflow.sklearn.save_model(model, str(folder), serialization_format="skops", skops_trusted_types=["numpy.ravel"])
    data = folder / "model.skops"

    def swap(doc):  # point the transformer's func at another object
        func = doc["content"]["content"]["func"]
        func["__module__"], func["__class__"] = module, name
        func["content"] = f"{module}.{name}"

    _rewrite_skops(data, data, swap)
    assert f"{module}.{name}" in skops.io.get_untrusted_types(file=data)
    with pytest.raises(ModelError) as info:
        load_model(str(folder))
    assert str(folder) in str(info.value) and f"{module}.{name}" in str(info.value)


def test_trusted_types_admit_classes_under_the_allow_list_only():
    assert trusted_types(["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"])
    with pytest.raises(ModelError, match=r"collections\.OrderedDict"):
        trusted_types(["collections.OrderedDict"])
    assert trusted_types(["collections.OrderedDict"], ["sklearn.", "collections"]) == ["collections.OrderedDict"]
    with pytest.raises(ModelError, match=r"sklearn\.os\.system"):
        trusted_types(["sklearn.os.system"])  # a re-exported name, not a class defined under sklearn.
