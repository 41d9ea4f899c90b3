"""DVC's views of a cycle read at a glance (issue 15, item 4).

Fast: the metrics files built by :mod:`driftloop.dvc_metrics` from the stages' contracts hold a few
numbers each, and a p-value shows in a real `dvc metrics show` where the raw one shows as 0.0.
Slow: a real project that ran and committed two cycles (real git, `dvc repro`, MLflow, scikit-learn):
every declared metrics file is small and numeric, `dvc plots show` gives one titled panel per view
with champion and challenger overlaid, the README's recipes print screen-wide tables, and the plots
render with no network (SVG, and DVC's page with Vega inlined).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from driftloop.contracts import CompareResult, DecisionRecord, DriftResult, Gate, TrainResult
from driftloop.demo.feedback import write_weeks
from driftloop.demo.scaffold import clean_env
from driftloop.dvc_metrics import HEADLINE, compare_metrics, decision_metrics, drift_metrics, train_metrics
from driftloop.dvc_views import main as dvc_views_main
from driftloop.dvc_views import offline_template, render_svgs
from tests.pipeline.project import ROOT, make_project, run

MAX_KEYS = 12
SCREEN = 120  # columns a recipe's table may take
VIEWS = ("roc", "precision_recall", "calibration", "confusion")  # dvc.yaml's top-level plots


def leaves(data, prefix=""):
    """(dotted key, value) of every leaf of a metrics file, as DVC flattens it."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), data


def assert_small_and_numeric(name: str, data) -> None:
    items = list(leaves(data))
    bad = [(k, v) for k, v in items if isinstance(v, bool) or not isinstance(v, (int, float))]
    assert not bad, f"{name}: non-numeric values {bad}"
    assert 1 <= len(items) <= MAX_KEYS, f"{name}: {len(items)} keys {[k for k, _ in items]}"


def strong_cycle():
    """Contracts of a cycle with overwhelming evidence: p-values far below DVC's 5 decimals."""
    drift = DriftResult(
        report={
            "dataset": {"drifted": True, "n_columns": 3, "n_drifted": 2, "share_drifted": 2 / 3},
            "columns": {
                "a": {"tests": {"ks": {"statistic": 0.8, "threshold": 0.1, "p_adjusted": 3e-120}}},
                "b": {"tests": {"js": {"statistic": 0.4, "threshold": 0.1, "p_adjusted": 0.0}}},
                "c": {"tests": {"ks": {"statistic": 0.01, "threshold": 0.1, "p_adjusted": 0.9}}},
            },
            "multivariate": {"auc": 0.84},
        }
    )
    train = TrainResult(
        trained=True,
        rows={"train": 1600, "validation": 400, "holdout": 700},
        validation_metrics={"accuracy": 0.95, "f1_macro": 0.94, "log_loss": 0.2, "ece": 0.03, "f1_neutral": 0.9},
    )
    entry = {"champion": 0.64, "challenger": 0.95, "delta": 0.31, "ci_low": 0.27, "ci_high": 0.35}
    compare = CompareResult(
        challenger_trained=True,
        evidence={
            "task": "classification",
            "metrics": {
                "accuracy": {**entry, "p_value": 2e-57, "test": "mcnemar_exact"},
                "f1_macro": entry,
                "log_loss": {"champion": 0.8, "challenger": 0.2, "delta": -0.6},
                "roc_auc": {**entry, "p_value": 7e-35},
            },
        },
    )
    decision = DecisionRecord(
        promoted=False,
        version="3",
        previous_version="2",
        gates=(Gate("floor.f1_macro", True, "ok"), Gate("min_gain", False, "no"), Gate("gap", False, "x", "advisory")),
        summary="Rejected: a long sentence that must never reach a metrics file.",
    )
    return drift, train, compare, decision


def test_metrics_files_are_small_and_numeric():
    drift, train, compare, decision = strong_cycle()
    files = {
        "drift": drift_metrics(drift),
        "train": train_metrics(train),
        "compare": compare_metrics(compare),
        "decision": decision_metrics(decision),
    }
    for name, data in files.items():
        assert_small_and_numeric(name, data)
    assert files["drift"]["min_p_neglog10"] == 300.0  # p == 0 (underflow) is floored, never inf
    assert files["compare"]["f1_macro"] == {
        "champion": 0.64,
        "challenger": 0.95,
        "delta": 0.31,
        "delta_low": 0.27,
        "delta_high": 0.35,
    }
    assert files["compare"]["accuracy"] == {"delta": 0.31, "p_neglog10": 56.699}
    assert "roc_auc" not in files["compare"]  # headline metrics only
    assert files["decision"] == {
        "promoted": 0,
        "first_cycle": 0,
        "gates": 2,
        "gates_failed": 1,
        "advisory_failed": 1,
        "version": 3,
        "previous_version": 2,
    }
    assert set(files["train"]) == {"trained", "rows_train", "rows_validation", "rows_holdout"} | {
        f"val_{k}" for k in ("accuracy", "f1_macro", "log_loss")
    }


def test_headline_matches_the_compare_package():
    from driftloop.compare.comparison import HEADLINE as COMPARE_HEADLINE

    assert COMPARE_HEADLINE["classification"] + COMPARE_HEADLINE["regression"] == HEADLINE


def dvc(project: Path, *args: str, check: bool = True, columns: int = 200) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=project,
        env=clean_env({"COLUMNS": str(columns)}),
        capture_output=True,
        text=True,
    )
    if check:
        assert proc.returncode == 0, f"dvc {' '.join(args)}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def width(text: str) -> int:
    return max((len(line.rstrip()) for line in text.splitlines()), default=0)


def shown(table: str, key: str) -> str:
    """The value `dvc metrics show` prints for ``key`` (one file's row)."""
    header, row = (line.split() for line in table.strip().splitlines()[:2])
    return row[header.index(key)]


def test_p_values_do_not_show_as_zero_in_dvc_metrics_show(tmp_path):
    drift = strong_cycle()[0]
    run(["git", "init", "-q"], tmp_path)
    run([sys.executable, "-m", "dvc", "init", "-q"], tmp_path)
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"metrics": ["drift_metrics.json", "raw.json"]}))
    (tmp_path / "drift_metrics.json").write_text(json.dumps(drift_metrics(drift)))
    # The negative control: the raw p-value as the old metrics file held it.
    (tmp_path / "raw.json").write_text(json.dumps({"min_p": 3e-120}))
    assert shown(dvc(tmp_path, "metrics", "show", "raw.json"), "min_p") == "0.0"
    table = dvc(tmp_path, "metrics", "show", "drift_metrics.json")
    assert float(shown(table, "min_p_neglog10")) == 300.0
    assert float(shown(table, "max_effect_ratio")) == 8.0


def test_offline_template_keeps_dvc_placeholders_and_no_cdn():
    page = offline_template("window.vegaEmbed = function () {};")
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page and "<script src" not in page


# -- a real project that ran and committed two cycles ------------------------------------------


@pytest.fixture(scope="module")
def committed(tmp_path_factory, mlflow_template_db):
    """Two demo cycles (calm, then drifted weeks), each committed, as a user keeps them."""
    project = make_project(tmp_path_factory.mktemp("views") / "project", mlflow_template_db)
    for n, weeks in enumerate((range(1, 7), range(7, 11)), 1):
        write_weeks(project / "data" / "incoming", weeks, rows=700)
        run([sys.executable, "-m", "dvc", "repro"], project)
        run(["git", "add", "-A"], project)
        run(["git", "commit", "-qm", f"cycle {n}"], project)
    return project


def declared_metrics(project: Path) -> list[str]:
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    files = [next(iter(m)) if isinstance(m, dict) else m for s in spec["stages"].values() for m in s.get("metrics", [])]
    return files + list(spec.get("metrics", []))


@pytest.mark.slow
def test_every_declared_metrics_file_is_small_and_numeric(committed):
    files = declared_metrics(committed)
    assert len(files) == 4, files
    for rev in ("HEAD~1", "HEAD"):  # a first cycle and a promoting one
        for name in files:
            text = run(["git", "show", f"{rev}:{name}"], committed).stdout
            assert_small_and_numeric(f"{rev}:{name}", json.loads(text))
    assert json.loads((committed / "reports" / "decision_metrics.json").read_text())["promoted"] == 1


@pytest.mark.slow
def test_dvc_plots_show_overlays_both_models_in_titled_panels(committed):
    plots = json.loads(dvc(committed, "plots", "show", "--json"))
    assert not plots.get("errors"), plots.get("errors")
    panels = plots["data"]
    assert set(VIEWS) | {"reports/drift_columns.csv"} == set(panels)
    titles = [e["content"]["title"]["text"] for entries in panels.values() for e in entries]
    assert len(titles) == len(set(titles)) == 5, titles
    for view in VIEWS:
        (entry,) = panels[view]  # one panel per view
        files = {row["filename"] for row in entry["content"]["data"]["values"]}
        assert files == {"champion.csv", "challenger.csv"}, (view, files)
    # Against the first cycle (no champion then): both revisions load, nothing fails.
    diff = json.loads(dvc(committed, "plots", "diff", "HEAD~1", "--json"))
    assert not diff.get("errors"), diff.get("errors")
    assert all(e["revisions"] == ["workspace", "HEAD~1"] for v in diff["data"].values() for e in v)


def readme_recipes() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Read cycles in DVC", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("  #")[0].strip() for line in section.splitlines() if line.startswith("dvc ")]
    return [c for c in commands if "--open" not in c and "--html-template" not in c and "--json" not in c]


@pytest.mark.slow
def test_readme_recipes_print_screen_wide_tables(committed):
    recipes = readme_recipes()
    assert len(recipes) == 4, recipes
    assert any(r.startswith("dvc metrics diff") for r in recipes)
    for recipe in recipes:
        args = [a.strip("'") for a in re.findall(r"'[^']*'|\S+", recipe)][1:]
        out = dvc(committed, *args, *(["--no-pager"] if args[0] == "exp" else []))
        lines = out.strip().splitlines()
        assert width(out) <= SCREEN, f"{recipe}: {width(out)} columns\n{out}"
        assert len(lines) >= 4 and "…" not in out, f"{recipe}:\n{out}"
    # What the recipes replace: the whole `dvc exp show`, folded to `…` at this width.
    assert "…" in dvc(committed, "exp", "show", "--no-pager", columns=SCREEN)


@pytest.mark.slow
def test_plots_render_offline(committed, tmp_path):
    plots = json.loads(dvc(committed, "plots", "show", "--json"))
    svgs = {p.name: p.read_text() for p in render_svgs(plots, tmp_path / "svg")}
    assert set(svgs) == {f"{v}.svg" for v in VIEWS} | {"reports_drift_columns.csv.svg"}
    for view in ("roc", "precision_recall", "calibration"):
        assert "champion.csv" in svgs[f"{view}.svg"] and "challenger.csv" in svgs[f"{view}.svg"]
    # DVC's own page with the template: Vega inlined, no script fetched from anywhere.
    template = tmp_path / "offline.html"
    assert dvc_views_main(["template", str(template)]) == 0
    dvc(committed, "plots", "show", "--html-template", str(template), "-o", str(tmp_path / "page"))
    page = (tmp_path / "page" / "index.html").read_text()
    assert "<script src" not in page.replace(" ", "") and "cdn." not in page
    assert page.count("vegaEmbed('#") == 5 and "window.vegaEmbed=" in page
