"""Fixtures of the browser tests: headless Chromium (Playwright's Python API driving the system's
binary), a project that has run two production cycles and one `dvc exp run`, and a real
`mlflow server` on 127.0.0.1 over that project's store and artifacts."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from tests.conftest import _free_port, start_mlflow_server, stop_mlflow_server
from tests.pipeline.conftest import two_cycles  # noqa: F401  (the project the UI is checked on)
from tests.pipeline.project import run

from .ui import CHROMIUM_ARGS, REQUIRE_ENV, UIProject, find_chromium

VIEWPORT = {"width": 1280, "height": 720}

#: The UI's first-visit state a reader of the README would change with two clicks: the "Model
#: training" view (3.17 opens in its GenAI view) and the MLflow Assistant side panel closed (it
#: takes a third of the width). Stored by the UI itself in localStorage under these keys.
UI_STATE = """
localStorage.setItem('mlflow.workflowType_v1', '"machine_learning"');
localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false');
localStorage.setItem('mlflow.assistant.fab.autoOpenedOnFirstLoad_v1', 'true');
"""


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if find_chromium() is None:
        return "no Chromium binary (apt-get install chromium, or set DRIFTLOOP_CHROMIUM to a Chromium/Chrome binary)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (it is in driftloop's dev extra)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (fail under DRIFTLOOP_REQUIRE_BROWSER=1) a browser test where there is no browser,
    before any fixture runs: the session's two-cycle project is not built for nothing."""
    if item.get_closest_marker("browser") is None:
        return
    reason = _unavailable()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1 requires the browser tests to run", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary (pytest_runtest_setup has skipped the test when there is none)."""
    binary = find_chromium()
    assert binary is not None
    return binary


@pytest.fixture(scope="module")
def browser(chromium: str):
    """One headless Chromium for the module (a fresh profile: Playwright gives each launch one)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # the UI polls the server; 2 shared cores can be slow
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any):
    """A page in a fresh browser context (its own localStorage), the UI state preset."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(UI_STATE)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def ui_project(chromium: str, two_cycles: dict[str, Any]):  # noqa: F811
    """The pipeline tests' two-cycle project, committed, plus one `dvc exp run --temp -S model=hgb`
    (as tests/pipeline/test_experiments.py runs it), served by a real `mlflow server`."""
    project = two_cycles["project"]
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "two cycles"], project)
    run([sys.executable, "-m", "dvc", "exp", "run", "--temp", "-S", "model=hgb"], project)
    # The project's own store: mlflow.db and mlartifacts/ are exactly what start_mlflow_server serves.
    port = _free_port()
    proc = start_mlflow_server(project, port)
    try:
        yield UIProject(project=project, uri=two_cycles["uri"], ui=f"http://127.0.0.1:{port}")
    finally:
        stop_mlflow_server(proc)
