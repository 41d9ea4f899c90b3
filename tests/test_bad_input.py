"""Bad data is refused by the snapshot stage, before any model is trained (issue 13, bad-input matrix).

Each case adds one bad file to a project whose first cycle promoted champion v1 (the next weeks
have arrived), runs the snapshot stage through the stage runner (``run_stage``, as ``dvc repro``
does) and asserts three outcomes:

* a message naming the file and the column, row (line of a CSV) or id, and what was expected;
* exit 4 (:class:`driftloop.errors.DataError`, README "Exit codes");
* the registry (versions, tags, the ``champion`` alias), the tracking runs and the existing
  snapshot files byte for byte unchanged; the one run added is the refused cycle's own parent
  run, ``FAILED``, its error tag naming the file (issue 15: a failed cycle is visible in the UI).

Two inputs are not refused, by choice, and are reported instead: an id a later batch gives again
(a later batch corrects an earlier one: its row wins, and the snapshot says which ids and files),
and a batch dated entirely inside the champion's training period (late rows: counted in the
manifest, and a warning names the file).

Real parts: MLflow on a sqlite file, DVC's cache for the champion's lineage, real models; the
promoted project is built once for the module and every case removes the file it added.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop import paths
from driftloop.config import compose
from driftloop.demo.feedback import Scenario, generate_week
from driftloop.errors import ConfigError, DataError
from driftloop.stages import run_stage
from tests.records import registry_state, snapshot_bytes
from tests.stages.conftest import add_weeks
from tests.stages.helpers import ROOT, cache_training_data, run_cycle

NAME_ROWS = 40  # rows of the bad batch (week 9, after the promoted cycle's weeks 1-6 and weeks 7-8)


@dataclass(frozen=True)
class Project:
    ws: Path
    cfg: dict
    uri: str


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mlflow_template_db: Path) -> Iterator[Project]:
    """A first cycle that promoted champion v1, its training data in the DVC cache, weeks 7-8 arrived."""
    import mlflow
    import mlflow.tracking.fluent as fluent
    from dvc.repo import Repo

    root = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("MLFLOW_") and key != "MLFLOW_DISABLE_TELEMETRY":
                mp.delenv(key)
        for key in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT"):
            mp.delenv(key, raising=False)
        shutil.copy(mlflow_template_db, root / "mlflow.db")
        uri = f"sqlite:///{root / 'mlflow.db'}"
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_REGISTRY_URI", uri)
        (root / "mlartifacts").mkdir()
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        ws = root / "ws"
        ws.mkdir()
        mp.chdir(ws)
        Repo.init(str(ws), no_scm=True).close()
        cfg = compose([], conf_dir=ROOT / "conf")
        cfg["compare"]["n_bootstrap"] = 200
        add_weeks(ws, range(1, 7))
        decision = run_cycle(cfg)["promote"]
        assert (decision["promoted"], decision["version"]) == (True, "1")
        cache_training_data(ws)
        add_weeks(ws, range(7, 9))
        try:
            yield Project(ws, cfg, uri)
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(None)
            fluent._active_experiment_id = None


def champion_of(project: Project) -> tuple[str, str]:
    from mlflow.tracking import MlflowClient

    mv = MlflowClient().get_model_version_by_alias(project.cfg["registry"]["model_name"], "champion")
    return str(mv.version), mv.run_id


def runs_state() -> list[tuple[str, str]]:
    import mlflow

    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    return sorted((r.info.run_id, r.info.status) for r in runs)


def failed_cycle(run_id: str):
    import mlflow

    run = mlflow.get_run(run_id)
    assert run.data.tags["driftloop.kind"] == "cycle", run.data.tags
    return run


@dataclass
class Snapshot:
    code: int
    err: str


@pytest.fixture
def snapshot(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[[], Snapshot]]:
    """Run the snapshot stage through ``run_stage`` in the project; files the test adds under data/
    are removed afterwards."""
    monkeypatch.chdir(project.ws)
    monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: copy.deepcopy(project.cfg))
    data = project.ws / "data"
    before = {p for p in data.rglob("*") if p.is_file()}

    def run() -> Snapshot:
        capsys.readouterr()
        code = run_stage("snapshot", [])
        return Snapshot(code, capsys.readouterr().err)

    yield run
    for path in {p for p in data.rglob("*") if p.is_file()} - before:
        path.unlink()


# ---------------------------------------------------------------- the bad files ---------------------


def week9() -> pd.DataFrame:
    return generate_week(9, rows=NAME_ROWS, seed=7, start="2026-01-05", scenario=Scenario())


def incoming(ws: Path, name: str) -> Path:
    return ws / "data" / "incoming" / name


def bad_cell(ws: Path, name: str, column: str, row: int, value: object, dtype: str | None = None) -> None:
    """Week 9 as ``name`` (.parquet or .csv) in the incoming folder, with one cell replaced (the
    column cast to ``dtype`` first, when given, so that it can hold the value)."""
    df = week9() if dtype is None else week9().astype({column: dtype})
    df.loc[row, column] = value
    if name.endswith(".csv"):
        df.to_csv(incoming(ws, name), index=False)
    else:
        df.to_parquet(incoming(ws, name), index=False)


def csv_invalid_utf8(ws: Path) -> list[str]:
    path = incoming(ws, "week_09.csv")
    week9().to_csv(path, index=False)
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    lines[5] = lines[5].replace(b"w09-00004,", b"w09-00004,caf\xe9 ", 1)  # latin-1, data row 4
    path.write_bytes(b"\n".join(lines))
    offset = len(b"\n".join(lines[:5])) + 1 + lines[5].index(b"\xe9")
    return ["week_09.csv", "not valid UTF-8", f"byte offset {offset}", "line 6", "expected UTF-8"]


def duplicate_id_in_a_batch(ws: Path) -> list[str]:
    df = week9()
    df.loc[6, "id"] = df.loc[2, "id"]
    df.to_parquet(incoming(ws, "week_09.parquet"), index=False)
    return ["week_09.parquet", "'w09-00002'", "rows 3, 7", "Expected each 'id' once per batch"]


def positive_inf(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.parquet", "stars", 3, np.inf, "float64")
    return ["week_09.parquet", "numeric column 'stars'", "infinite", "row 4", "expected finite"]


def negative_inf_in_csv(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.csv", "comment_length", 10, "-inf", "object")
    return ["week_09.csv", "numeric column 'comment_length'", "-inf", "line 12", "expected finite"]


def one_row_in_the_future(ws: Path) -> list[str]:
    when = (pd.Timestamp.now() + pd.Timedelta(days=400)).floor("s")
    bad_cell(ws, "week_09.parquet", "timestamp", 7, when)
    return ["week_09.parquet", "'w09-00007'", when.isoformat(), "column 'timestamp'", "max_future_days"]


def label_outside_the_classes(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.parquet", "label", 5, "angry")
    return ["week_09.parquet", "column 'label'", "'angry'", "data.schema.classes", "row 6"]


def timestamp_that_does_not_parse(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.csv", "timestamp", 8, "next tuesday", "object")
    return ["week_09.csv", "column 'timestamp'", "'next tuesday'", "line 10", "expected ISO 8601"]


def missing_timestamp(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.parquet", "timestamp", 0, None, "object")
    return ["week_09.parquet", "column 'timestamp'", "missing timestamp", "row 1", "expected a timestamp"]


def empty_file(ws: Path) -> list[str]:
    incoming(ws, "week_09.csv").write_bytes(b"")
    return ["week_09.csv", "is empty", "expected a header line", "'comment_length'"]


def header_only_file(ws: Path) -> list[str]:
    week9().head(0).to_csv(incoming(ws, "week_09.csv"), index=False)
    return ["week_09.csv", "holds no rows", "expected at least one row"]


def missing_feature_column(ws: Path) -> list[str]:
    week9().drop(columns=["channel"]).to_parquet(incoming(ws, "week_09.parquet"), index=False)
    return ["week_09.parquet", "missing column(s) ['channel']", "expects"]


def text_in_a_numeric_column(ws: Path) -> list[str]:
    bad_cell(ws, "week_09.csv", "stars", 4, "five", "object")
    return ["week_09.csv", "numeric column 'stars'", "'five'", "line 6"]


def not_a_parquet_file(ws: Path) -> list[str]:
    incoming(ws, "week_09.parquet").write_bytes(b"id,timestamp\nw09-1,2026-03-02\n")
    return ["week_09.parquet", "cannot read batch"]


CASES = [
    csv_invalid_utf8,
    duplicate_id_in_a_batch,
    positive_inf,
    negative_inf_in_csv,
    one_row_in_the_future,
    label_outside_the_classes,
    timestamp_that_does_not_parse,
    missing_timestamp,
    empty_file,
    header_only_file,
    missing_feature_column,
    text_in_a_numeric_column,
    not_a_parquet_file,
]


@pytest.mark.parametrize("make_bad", CASES, ids=[c.__name__.replace("_", "-") for c in CASES])
def test_bad_input_is_refused_by_the_snapshot_and_changes_nothing(
    project: Project, snapshot: Callable[[], Snapshot], make_bad: Callable[[Path], list[str]]
) -> None:
    registry, champion, runs = registry_state(project.uri), champion_of(project), runs_state()
    files = snapshot_bytes(project.ws)
    expected = make_bad(project.ws)

    result = snapshot()

    assert result.code == DataError.exit_code == 4, result.err
    message = result.err.strip()
    assert message.startswith("driftloop snapshot: error: ") and len(message.splitlines()) == 1, message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert champion_of(project) == champion == ("1", champion[1])
    assert registry_state(project.uri) == registry
    after = runs_state()
    assert set(runs) <= set(after), "the snapshot changed an existing tracking run"
    added = [run_id for run_id, _ in set(after) - set(runs)]
    assert len(added) == 1, f"expected one FAILED cycle run, got {added}"
    failed = failed_cycle(added[0])
    assert failed.info.status == "FAILED" and failed.data.tags["driftloop.failed_stage"] == "snapshot"
    for part in expected:
        assert part in failed.data.tags["driftloop.error"]
    assert snapshot_bytes(project.ws) == files


def test_the_good_batches_alone_pass(project: Project, snapshot: Callable[[], Snapshot]) -> None:
    """The control: without a bad file the same snapshot succeeds (so each case above fails on its file)."""
    week9().to_parquet(incoming(project.ws, "week_09.parquet"), index=False)
    registry = registry_state(project.uri)
    result = snapshot()
    assert result.code == 0, result.err
    assert "warning" not in result.err
    assert registry_state(project.uri) == registry and champion_of(project)[0] == "1"


def test_an_id_a_later_batch_gives_again_replaces_the_earlier_row_and_is_reported(
    project: Project, snapshot: Callable[[], Snapshot]
) -> None:
    """Kept on purpose (tests/test_batches.py): a later batch corrects an earlier one. No longer silent."""
    df = week9()
    again = pd.read_parquet(incoming(project.ws, "week_08.parquet")).head(3).assign(label="positive")
    pd.concat([df, again], ignore_index=True).to_parquet(incoming(project.ws, "week_09.parquet"), index=False)
    registry = registry_state(project.uri)
    result = snapshot()
    assert result.code == 0, result.err
    line = next(x for x in result.err.splitlines() if "gives 3 id(s) again" in x)
    assert "week_09.parquet" in line and "week_08.parquet" in line and repr(again["id"].iloc[0]) in line
    assert "replace the earlier ones" in line
    current = pd.read_parquet(project.ws / paths.CURRENT)
    assert (current.set_index("id").loc[again["id"], "label"] == "positive").all()
    assert registry_state(project.uri) == registry


def test_a_batch_dated_inside_the_champions_training_period_is_named_in_a_warning(
    project: Project, snapshot: Callable[[], Snapshot]
) -> None:
    """Not refused: late arrivals are legitimate data, and refusing would stop every later cycle until
    someone deletes the file. Counted as `late` in the manifest, and now named on stderr."""
    late = generate_week(4, rows=NAME_ROWS, seed=99, start="2026-01-05", scenario=Scenario())  # Jan 26 - Feb 1
    late["id"] = late["id"].str.replace("w04", "late04")
    late.to_parquet(incoming(project.ws, "late_04.parquet"), index=False)
    registry = registry_state(project.uri)
    result = snapshot()
    assert result.code == 0, result.err
    warnings = [x for x in result.err.splitlines() if "warning" in x]
    assert len(warnings) == 1 and "late_04.parquet" in warnings[0], result.err
    assert f"all {NAME_ROWS} rows are dated inside the reference" in warnings[0]
    manifest = json.loads((project.ws / paths.MANIFEST).read_text())
    assert manifest["late"]["rows"] >= NAME_ROWS
    assert registry_state(project.uri) == registry and champion_of(project)[0] == "1"


@pytest.mark.parametrize("value", ["soon", 0, -1, True], ids=["text", "zero", "negative", "bool"])
def test_a_bad_max_future_days_is_refused_naming_the_key(
    project: Project, snapshot: Callable[[], Snapshot], monkeypatch: pytest.MonkeyPatch, value: object
) -> None:
    cfg = copy.deepcopy(project.cfg)
    cfg["data"]["windows"]["max_future_days"] = value
    monkeypatch.setattr("driftloop.config.load_stage_config", lambda argv: copy.deepcopy(cfg))
    files, registry = snapshot_bytes(project.ws), registry_state(project.uri)
    result = snapshot()
    assert result.code == ConfigError.exit_code == 3, result.err
    assert "data.windows.max_future_days must be a number of days > 0 (or null" in result.err
    assert snapshot_bytes(project.ws) == files and registry_state(project.uri) == registry
