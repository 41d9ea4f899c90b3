"""Credentials never reach output, params.yaml, MLflow or reports (issue 13, security).

A URI holding credentials is refused wherever driftloop reads one (config, params.yaml,
``MLFLOW_TRACKING_URI``/``MLFLOW_REGISTRY_URI``), naming the key, masking the secret and pointing
to MLflow's environment variables; every error driftloop prints is redacted. The end-to-end test
plants secrets in a URI, in the environment and in the config, runs a real cycle through
``driftloop params`` and ``run_stage`` (what ``dvc repro`` runs), and scans everything it left.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from driftloop import cli
from driftloop.errors import ConfigError, DataError
from driftloop.redact import credentials_in, redact, refuse_credentials, refuse_credentials_in
from driftloop.stages import STAGES, run_stage
from driftloop.tracking import TrackingConfig

ROOT = Path(__file__).resolve().parents[1]
ENV_ADVICE = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")

URI_SECRET = "uri-planted-Q7x9"  # the password of a URI tried in the config and the environment
ENV_PASSWORD = "env-password-planted-K2m8"  # MLFLOW_TRACKING_PASSWORD during the cycle
ENV_TOKEN = "env-token-planted-Z5v1"  # a token variable during the cycle
PLANTED = (URI_SECRET, ENV_PASSWORD, ENV_TOKEN)
BAD_URI = f"http://alice:{URI_SECRET}@mlflow.example:5000"


# -- redact ---------------------------------------------------------------------------------


def test_redact_masks_a_uri_password_keeping_the_rest():
    text = f"MLflow at {BAD_URI} refused experiment 'x'"
    assert redact(text, environ={}) == "MLflow at http://alice:***@mlflow.example:5000 refused experiment 'x'"


def test_redact_masks_userinfo_without_password_and_secret_query_parameters():
    assert redact("https://ghp_tok3n@git.example/r.git", environ={}) == "https://***@git.example/r.git"
    assert redact("s3://b/k?token=abc123&x=1", environ={}) == "s3://b/k?token=***&x=1"


def test_redact_masks_the_values_of_secret_named_environment_variables():
    env = {
        "MLFLOW_TRACKING_PASSWORD": ENV_PASSWORD,
        "MY_API_TOKEN": ENV_TOKEN,
        "AWS_SECRET_ACCESS_KEY": "aws-s3cr3t-value",
        "PATH": "/usr/bin",
        "SOME_KEY": "1",  # too short to mask: it would mask every "1"
    }
    text = f"failed with {ENV_PASSWORD}, {ENV_TOKEN} and aws-s3cr3t-value in /usr/bin, try 1"
    assert redact(text, environ=env) == "failed with ***, *** and *** in /usr/bin, try 1"


def test_redact_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", ENV_TOKEN)
    assert redact(f"token {ENV_TOKEN}") == "token ***"


def test_redact_leaves_ordinary_uris_and_paths_alone():
    text = "sqlite:///tmp/mlflow.db http://127.0.0.1:5000 models:/m@champion file:///a/b runs:/abc/model"
    assert redact(text, environ={}) == text


# -- refusal --------------------------------------------------------------------------------


def assert_refusal(message: str, key: str, masked: str = "http://alice:***@mlflow.example:5000") -> None:
    """The refusal names ``key``, shows the URI masked, points to MLflow's variables, and holds no secret."""
    assert f"{key} holds credentials ({masked})" in message
    assert all(name in message for name in ENV_ADVICE)
    assert not any(secret in message for secret in PLANTED)


@pytest.mark.parametrize("uri", [BAD_URI, f"https://{URI_SECRET}@mlflow.example", f"s3://b/m?token={URI_SECRET}"])
def test_refuse_credentials_names_the_key_and_never_the_secret(uri):
    with pytest.raises(ConfigError, match=r"^tracking\.uri holds credentials") as err:
        refuse_credentials(uri, "tracking.uri")
    assert URI_SECRET not in str(err.value)
    assert all(name in str(err.value) for name in ENV_ADVICE)


def test_refuse_credentials_in_names_every_key_holding_a_uri_with_credentials():
    cfg = {
        "tracking": {"uri": BAD_URI, "artifact_root": f"s3://ak:{URI_SECRET}@bucket/a", "experiment": "x"},
        "data": {"path": "data/incoming", "extra": ["ok", BAD_URI]},
    }
    assert credentials_in(cfg) == ["tracking.uri", "tracking.artifact_root", "data.extra[1]"]
    with pytest.raises(ConfigError) as err:
        refuse_credentials_in(cfg)
    for key in credentials_in(cfg):
        assert f"{key} holds credentials" in str(err.value)
    assert_refusal(str(err.value), "tracking.uri")


@pytest.mark.parametrize(
    ("cfg", "advice"),
    [
        ({"engine": {"address": f"tcp://alice:{URI_SECRET}@scheduler:8786"}}, "DASK_DISTRIBUTED__COMM__TLS"),
        ({"data": {"source": {"path": f"s3://ak:{URI_SECRET}@bucket/events"}}}, "AWS_ACCESS_KEY_ID"),
        ({"tracking": {"artifact_root": f"s3://ak:{URI_SECRET}@bucket/a"}}, "AWS_ACCESS_KEY_ID"),
    ],
    ids=["dask-scheduler", "data-on-object-storage", "artifact-store"],
)
def test_a_refusal_says_where_that_keys_credentials_come_from_instead(cfg, advice):
    """MLflow's variables are the advice for MLflow's URIs only: a scheduler or a bucket has its own."""
    with pytest.raises(ConfigError) as err:
        refuse_credentials_in(cfg)
    assert advice in str(err.value) and URI_SECRET not in str(err.value)
    assert "MLFLOW_TRACKING_USERNAME" not in str(err.value)


@pytest.mark.parametrize("key", ["uri", "artifact_root"])
def test_tracking_config_refuses_credentials_in_its_uris(key):
    with pytest.raises(ConfigError) as err:
        TrackingConfig.from_dict({"uri": "sqlite:///mlflow.db", key: BAD_URI})
    assert_refusal(str(err.value), f"tracking.{key}")


def test_tracking_uri_from_the_environment_with_credentials_is_refused(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", BAD_URI)
    with pytest.raises(ConfigError) as err:
        TrackingConfig.from_dict({}).resolved_uri()
    assert_refusal(str(err.value), "MLFLOW_TRACKING_URI (environment)")


def test_run_stage_prints_errors_redacted(monkeypatch, capfd):
    """A deliberate error that happens to carry a secret (an MLflow message echoing a URI, a
    value read from the environment) is printed masked."""
    import driftloop.config
    import driftloop.stages

    monkeypatch.setenv("MY_API_TOKEN", ENV_TOKEN)

    def fail(name, cfg):
        raise DataError(f"cannot reach {BAD_URI} with {ENV_TOKEN}")

    monkeypatch.setattr(driftloop.config, "load_stage_config", lambda argv: {})
    monkeypatch.setattr(driftloop.stages, "run_configured", fail)
    assert run_stage("snapshot") == DataError.exit_code
    out = capfd.readouterr()
    assert "cannot reach http://alice:***@mlflow.example:5000 with ***" in out.err
    assert not any(secret in out.out + out.err for secret in PLANTED)


def test_cli_prints_errors_redacted(monkeypatch, capfd, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", BAD_URI)
    assert cli.main(["status"]) == ConfigError.exit_code
    out = capfd.readouterr()
    assert_refusal(out.err, "MLFLOW_TRACKING_URI (environment)")


# -- a whole cycle --------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_uri: str, mlflow_template_db: Path) -> Path:
    """A project of its own: the repository's conf/, the demo's weekly batches, a DVC repository,
    and MLflow on the project's default ``sqlite:///mlflow.db`` (artifacts in ``mlartifacts/``),
    so that everything a cycle writes lands inside the project folder."""
    from dvc.repo import Repo

    from driftloop.demo.feedback import write_weeks

    ws = tmp_path / "project"
    shutil.copytree(ROOT / "conf", ws / "conf")
    shutil.copy(mlflow_template_db, ws / "mlflow.db")
    monkeypatch.chdir(ws)
    for name in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)
    Repo.init(str(ws), no_scm=True).close()
    write_weeks(ws / "data" / "incoming", range(1, 7), rows=150)
    return ws


def scan_files(folder: Path) -> list[str]:
    """``path: secret`` for every file under ``folder`` holding a planted secret (bytes, any file)."""
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits += [f"{path.relative_to(folder)}: {s}" for s in PLANTED if s.encode() in data]
    return hits


def scan_mlflow(uri: str, download_to: Path) -> tuple[list[str], int]:
    """``where: secret`` for every MLflow record holding a planted secret: each run's params (keys
    and values), tags, metric keys, inputs and artifacts (downloaded), each registered model's
    and version's tags, description and source; and how many runs were scanned."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    records: list[tuple[str, str]] = []
    runs = []
    for exp in client.search_experiments(view_type=ViewType.ALL):
        records.append((f"experiment {exp.name}", f"{exp.name} {exp.artifact_location} {exp.tags}"))
        runs += client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    for run in runs:
        rid = run.info.run_id
        records.append((f"run {rid} info", f"{run.info.run_name} {run.info.artifact_uri}"))
        records += [(f"run {rid} param {k}", f"{k}={v}") for k, v in run.data.params.items()]
        records += [(f"run {rid} tag {k}", f"{k}={v}") for k, v in run.data.tags.items()]
        records += [(f"run {rid} metric", k) for k in run.data.metrics]
        if run.inputs:
            records += [(f"run {rid} input", str(d.dataset)) for d in run.inputs.dataset_inputs]
        folder = download_to / rid
        folder.mkdir(parents=True)
        if client.list_artifacts(rid):
            client.download_artifacts(rid, "", str(folder))
        records += [(f"run {rid} artifact", hit) for hit in scan_files(folder)]
    for model in client.search_registered_models():
        records.append((f"model {model.name}", f"{model.name} {model.description} {model.tags} {model.aliases}"))
        for mv in client.search_model_versions(f"name = '{model.name}'"):
            records.append((f"model {model.name} v{mv.version}", f"{mv.tags} {mv.description} {mv.source}"))
    hits = [f"{where}: {s}" for where, text in records for s in PLANTED if s in text]
    return hits, len(runs)


def test_a_whole_cycle_leaks_no_planted_secret(project: Path, monkeypatch, capfd, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ENV_PASSWORD)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    monkeypatch.setenv("DRIFTLOOP_TEST_API_TOKEN", ENV_TOKEN)
    conf_before = (project / "conf" / "config.yaml").read_bytes()

    # The URI with a password, tried in the config (an override of `driftloop params`, a conf/
    # file, a hand-edited params.yaml) and in the environment: each refused, naming its key.
    assert cli.main(["params", f"tracking.uri={BAD_URI}"]) == ConfigError.exit_code
    assert (project / "conf" / "config.yaml").read_bytes() == conf_before
    assert not (project / "params.yaml").exists()
    assert_refusal(capfd.readouterr().err, "tracking.uri")

    tracking = project / "conf" / "tracking" / "local.yaml"
    good = tracking.read_text()
    tracking.write_text(good.replace("artifact_root: mlartifacts", f"artifact_root: s3://ak:{URI_SECRET}@bucket/a"))
    assert cli.main(["params"]) == ConfigError.exit_code
    assert not (project / "params.yaml").exists()
    err = capfd.readouterr().err  # a bucket: the storage's own credentials, not MLflow's
    assert "tracking.artifact_root holds credentials (s3://ak:***@bucket/a)" in err and "AWS_ACCESS_KEY_ID" in err
    tracking.write_text(good)

    assert cli.main(["params", "compare.n_bootstrap=200"]) == 0
    params = project / "params.yaml"
    clean = params.read_text()
    params.write_text(clean.replace("uri: sqlite:///mlflow.db", f"uri: {BAD_URI}"))
    assert run_stage("snapshot") == ConfigError.exit_code
    assert_refusal(capfd.readouterr().err, "tracking.uri")
    params.write_text(clean)

    monkeypatch.setenv("MLFLOW_TRACKING_URI", BAD_URI)
    assert run_stage("snapshot") == ConfigError.exit_code
    assert_refusal(capfd.readouterr().err, "MLFLOW_TRACKING_URI (environment)")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")

    # A real cycle, as `dvc repro` runs it, with the password and the token in the environment.
    for stage in STAGES:
        assert run_stage(stage) == 0, capfd.readouterr().err
    cli.main(["status"])
    out = capfd.readouterr()
    assert "champion" in out.out

    leaks = [f"stdout/stderr: {s}" for s in PLANTED if s in out.out + out.err]
    leaks += scan_files(project)  # params.yaml, conf/, data/, reports, .dvc/, mlflow.db, mlartifacts/
    hits, n_runs = scan_mlflow(f"sqlite:///{project / 'mlflow.db'}", tmp_path / "downloaded")
    assert n_runs >= 1 + len(STAGES)  # the cycle's run and one per stage: the scan saw them
    assert (project / "mlartifacts").is_dir() and (project / "reports").is_dir()
    assert {"output and files": leaks, "mlflow": hits} == {"output and files": [], "mlflow": []}
