"""The MLflow UI and the HTML reports in a real headless Chromium (issue 15, item 6).

A real `mlflow server` on 127.0.0.1 over a project that has run two production cycles and one
`dvc exp run`: the runs table lists each production cycle as a parent run with its stage runs and
the experiment's runs apart (by the `driftloop.origin` tag in the UI's search box); a parent run's
page shows its decision and its stage runs; the drift report artifact opens; the registered model
shows the `champion` alias and each version page its description. The drift report and DVC's
champion-vs-challenger plots page (driftloop's only comparison HTML: compare writes JSON, CSVs and
PNGs) render from file:// with no console error and no request leaving the machine.

One screenshot per view goes to artifacts/screenshots/ (CI keeps it); the README's screenshot
(docs/img/mlflow-cycles.png) is runs-cycles-expanded.png, palette-reduced.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from tests.pipeline.project import run

from .ui import PageLog, UIProject, screenshot

pytestmark = pytest.mark.browser

STAGES = {"snapshot", "drift", "retrain", "compare", "promote"}
# The runs table's rows: the run-name cell's link (its href ends with the run id).
ROW_LINKS = ".ag-row [col-id='attributes.`Run Name`'] a"
SEARCH_BOX = "input[placeholder*='metrics.']"


@dataclass(frozen=True)
class Run:
    run_id: str
    name: str
    tags: dict[str, str]


@dataclass(frozen=True)
class Expected:
    """What the store holds, read with MlflowClient: the UI must show this."""

    experiment_id: str
    production: list[Run]  # the production cycles' parent runs, newest first (the table's order)
    experiments: list[Run]  # the dvc exp runs' parent runs
    children: dict[str, dict[str, str]]  # parent run id -> {child run id: stage}
    model: str
    champion: str
    descriptions: dict[str, str]  # model version -> its description


def _expected(uri: str) -> Expected:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = client.get_experiment_by_name("driftloop")
    runs = client.search_runs([exp.experiment_id], max_results=1000, order_by=["attributes.start_time DESC"])
    parents = [
        Run(r.info.run_id, r.info.run_name, dict(r.data.tags))
        for r in runs
        if r.data.tags.get("driftloop.kind") == "cycle"
    ]
    children: dict[str, dict[str, str]] = {p.run_id: {} for p in parents}
    for r in runs:
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent in children:
            children[parent][r.info.run_id] = r.data.tags["driftloop.stage"]
    (model,) = client.search_registered_models()
    versions = client.search_model_versions(f"name = '{model.name}'")
    return Expected(
        experiment_id=exp.experiment_id,
        production=[p for p in parents if p.tags.get("driftloop.origin") == "production"],
        experiments=[p for p in parents if p.tags.get("driftloop.origin") == "experiment"],
        children=children,
        model=model.name,
        champion=str(model.aliases["champion"]),
        descriptions={str(v.version): v.description or "" for v in versions},
    )


@pytest.fixture(scope="module")
def expected(ui_project: UIProject) -> Expected:
    exp = _expected(ui_project.uri)
    # The project the UI is checked on: two production cycles, one experiment, five stages each.
    assert len(exp.production) == 2 and len(exp.experiments) == 1, exp
    for cycle in exp.production:
        assert cycle.name.startswith("cycle-") and set(exp.children[cycle.run_id].values()) == STAGES
    assert exp.experiments[0].name.startswith("exp-")
    return exp


def _open(page: Any, url: str) -> PageLog:
    log = PageLog.attach(page)
    page.goto(url)
    return log


def _on_machine(log: PageLog, ui: str) -> None:
    # The UI's own requests: to the server, inline data, in-page blobs (the artifact viewer).
    assert log.off_machine((ui, "data:", "blob:", "about:")) == []


def _visible_rows(page: Any) -> dict[str, str]:
    """The runs table's rows as {run id: run name}."""
    links = page.locator(ROW_LINKS)
    return {a.get_attribute("href").rsplit("/", 1)[-1]: a.inner_text() for a in links.all()}


def _search(page: Any, query: str, names: list[str]) -> None:
    """Type ``query`` in the runs table's search box, as a user does, and wait for ``names``."""
    from playwright.sync_api import expect

    box = page.locator(SEARCH_BOX).first
    box.fill(query)
    box.press("Enter")
    expect(page.locator(ROW_LINKS)).to_have_text(names)


def test_runs_table_lists_cycles_with_their_stage_runs_and_the_experiment_apart(page, ui_project, expected):
    from playwright.sync_api import expect

    base = f"{ui_project.ui}/#/experiments/{expected.experiment_id}/runs"
    log = _open(page, base)
    parents = [*expected.experiments, *expected.production]  # newest first: the experiment ran last
    expect(page.locator(ROW_LINKS)).to_have_text([p.name for p in parents])
    assert page.get_by_role("heading", name="Runs").is_visible()  # the classic runs table, not GenAI's

    # Expanding a cycle's parent row shows its five stage runs (and no other run's) under it.
    shown = {p.run_id for p in parents}
    for cycle in reversed(expected.production):
        row = page.locator(".ag-row").filter(has=page.get_by_role("link", name=cycle.name, exact=True))
        row.locator("[col-id='attributes.`Run Name`'] button").first.click()
        shown |= set(expected.children[cycle.run_id])
        expect(page.locator(ROW_LINKS)).to_have_count(len(shown))
        rows = _visible_rows(page)
        assert set(rows) == shown
        assert sorted(rows[r] for r in expected.children[cycle.run_id]) == sorted(STAGES)
    screenshot(page, "runs-cycles-expanded")
    # With a cycle unfolded, ticking it ticks its stage runs too (Compare would get six runs): the
    # README says to compare with the cycles folded or filtered.
    ticked = page.locator(".ag-row .ag-selection-checkbox input:checked")
    first = page.locator(".ag-row").filter(has=page.get_by_role("link", name=expected.production[0].name, exact=True))
    first.locator(".ag-selection-checkbox input").check()
    expect(ticked).to_have_count(1 + len(STAGES))
    first.locator(".ag-selection-checkbox input").uncheck()
    expect(ticked).to_have_count(0)

    # The filter the README gives: production cycles only, then the dvc exp runs only, or by name.
    _search(page, "tags.driftloop.origin = 'experiment'", [e.name for e in expected.experiments])
    screenshot(page, "runs-experiment")
    _search(page, "attributes.run_name LIKE 'cycle-%'", [c.name for c in expected.production])
    _search(page, "tags.driftloop.origin = 'production'", [c.name for c in expected.production])
    screenshot(page, "runs-production")

    # Comparing two cycles: tick both production parents, Compare (the README's screenshot).
    for box in page.locator(".ag-row .ag-selection-checkbox input").all():
        box.check()
    expect(ticked).to_have_count(2)
    screenshot(page, "runs-compare-select")
    page.get_by_role("button", name="Compare", exact=True).click()
    expect(page.get_by_role("heading", name="Comparing 2 Runs from 1 Experiment")).to_be_visible()
    assert all(c.run_id in page.url for c in expected.production), page.url
    names = page.get_by_role("row", name=re.compile("^Run Name:"))
    expect(names.get_by_role("cell")).to_have_text([c.name for c in expected.production])
    screenshot(page, "runs-compare")
    _on_machine(log, ui_project.ui)


@pytest.mark.parametrize("which", ["production-0", "production-1", "experiment-0"])
def test_parent_run_page_shows_the_decision_and_its_stage_runs(page, ui_project, expected, which):
    from playwright.sync_api import expect

    kind, index = which.split("-")
    parent = (expected.production if kind == "production" else expected.experiments)[int(index)]
    note = parent.tags["mlflow.note.content"]
    # The description's first line is its heading: "### Promoted: ..." or "### Not promoted: ...".
    heading = note.splitlines()[0]
    assert re.match(r"### (Promoted|Not promoted): ", heading), heading
    log = _open(page, f"{ui_project.ui}/#/experiments/{expected.experiment_id}/runs/{parent.run_id}")
    expect(page.get_by_role("heading", name=parent.name)).to_be_visible()
    expect(page.get_by_role("heading", name=heading.removeprefix("### "), exact=True)).to_be_visible()
    # "Child runs" in "About this run": one link per stage run, to that run.
    links = page.locator("a[href*='/runs/']").filter(has_text=re.compile(f"^({'|'.join(STAGES)})$"))
    expect(links).to_have_count(len(expected.children[parent.run_id]))
    hrefs = {a.get_attribute("href").rsplit("/", 1)[-1]: a.inner_text() for a in links.all()}
    assert hrefs == expected.children[parent.run_id]
    screenshot(page, f"run-{which}")
    _on_machine(log, ui_project.ui)


def test_drift_report_artifact_opens(page, ui_project, expected):
    from mlflow.tracking import MlflowClient
    from playwright.sync_api import expect

    cycle = expected.production[0]
    (drift_run,) = [r for r, stage in expected.children[cycle.run_id].items() if stage == "drift"]
    client = MlflowClient(tracking_uri=ui_project.uri)
    folders = [d.path for d in client.list_artifacts(drift_run) if d.is_dir]
    logged = [a.path for folder in folders for a in client.list_artifacts(drift_run, folder)]
    (report,) = [p for p in logged if p.rsplit("/", 1)[-1] == "drift.html"]
    url = f"{ui_project.ui}/#/experiments/{expected.experiment_id}/runs/{drift_run}/artifacts/{report}"
    log = _open(page, url)
    # The artifact viewer renders an HTML artifact in an iframe (a blob: URL of the served file).
    frame = page.frame_locator("iframe").first
    expect(frame.get_by_role("heading", name="Drift report", level=1)).to_be_visible()
    drifted = client.get_run(drift_run).data.tags["driftloop.drift.drifted"] == "true"
    expect(frame.locator(".verdict")).to_have_text("DRIFT DETECTED" if drifted else "no dataset drift")
    screenshot(page, "artifact-drift-html")
    _on_machine(log, ui_project.ui)


def test_registered_model_shows_champion_and_the_version_description(page, ui_project, expected):
    from playwright.sync_api import expect

    log = _open(page, f"{ui_project.ui}/#/models/{expected.model}")
    expect(page.get_by_role("heading", name=expected.model, exact=True)).to_be_visible()
    # The versions table: the champion's row carries the alias tag ("@ champion", named "champion").
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=f"Version {expected.champion}", exact=True))
    expect(row.get_by_role("status", name="champion", exact=True)).to_be_visible()
    row.scroll_into_view_if_needed()
    screenshot(page, "model")

    for version, description in sorted(expected.descriptions.items()):
        page.goto(f"{ui_project.ui}/#/models/{expected.model}/versions/{version}")
        expect(page.get_by_role("heading", name=f"Version {version}", exact=True)).to_be_visible()
        # The markdown rendered: its first paragraph's text ("**Now:** ..." shown as "Now: ...").
        first = re.sub(r"[*`]", "", description.split("\n\n")[0]).strip()
        assert first.startswith("Now:"), description
        expect(page.get_by_text(first, exact=True)).to_be_visible()
        if version == expected.champion:
            expect(page.get_by_role("status", name="champion", exact=True)).to_be_visible()
        else:
            expect(page.get_by_role("status", name="champion", exact=True)).to_have_count(0)
        screenshot(page, f"model-version-{version}")
    _on_machine(log, ui_project.ui)


def _assert_offline_clean(log: PageLog) -> None:
    assert log.errors == []
    assert log.off_machine() == [], "a self-contained report requested something off the machine"


def test_drift_report_renders_offline(page, ui_project):
    from playwright.sync_api import expect

    report = ui_project.project / "reports" / "drift.html"
    log = _open(page, report.as_uri())
    expect(page.get_by_role("heading", name="Drift report", level=1)).to_be_visible()
    columns = page.locator("table.sortable").first
    names = columns.locator("tbody tr td:first-child")
    before = names.all_inner_texts()
    assert len(before) == len(json.loads((ui_project.project / "reports" / "drift.json").read_text())["columns"])
    # Its script ran: a click on a header sorts the table (written in the report's own order).
    assert before != sorted(before), before
    columns.locator("th", has_text=re.compile("^column$")).click()
    expect(names).to_have_text(sorted(before))
    screenshot(page, "drift-html-offline", full_page=True)
    _assert_offline_clean(log)


def test_comparison_plots_render_offline(page, ui_project, tmp_path):
    """DVC's plots page over the last cycle (champion and challenger overlaid per view), written
    with driftloop's offline template (Vega inlined), as the README's recipe does."""
    from playwright.sync_api import expect

    from driftloop.dvc_views import main as dvc_views_main

    template, out = tmp_path / "offline.html", tmp_path / "plots"
    assert dvc_views_main(["template", str(template)]) == 0
    project = ui_project.project
    run([sys.executable, "-m", "dvc", "plots", "show", "--html-template", str(template), "-o", str(out)], project)
    log = _open(page, (out / "index.html").as_uri())
    panels = page.locator(".vega-embed")  # the element vegaEmbed drew into
    expect(panels).to_have_count(5)
    for panel in panels.all():  # each panel drew its marks (Vega's SVG renderer)
        expect(panel.locator("svg.marks")).to_be_visible()
        assert panel.locator("svg.marks path").count() > 0
    # Champion and challenger overlaid in one titled panel per view (ROC, PR, calibration, confusion).
    expect(page.locator("svg.marks").get_by_text(re.compile("champion vs challenger"))).to_have_count(4)
    assert page.get_by_text("champion.csv").count() and page.get_by_text("challenger.csv").count()
    screenshot(page, "comparison-plots-offline", full_page=True)
    _assert_offline_clean(log)
