"""`driftloop report`, the promote stage's end-of-cycle summary and the demo's: one rendering of the
last cycle's reports (driftloop.report, issue 15 item 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.cli import main
from driftloop.demo.run import print_summary
from driftloop.report import read_cycle, render_summary
from driftloop.stages.outcome import outcome_line

DRIFT = {
    "format": 1,
    "dataset": {"drifted": True, "verdict": "drift", "share_drifted": 0.5, "n_reference": 3000, "n_current": 1000},
    "columns": {"comment": {"drifted": True}, "channel": {"drifted": False}},
    "drifted_columns": ["comment"],
}
COMPARE = {
    "format": 1,
    "task": "classification",
    "confidence": 0.95,
    "n_holdout": 1001,
    "metrics": {
        "accuracy": {"champion": 0.80, "challenger": 0.81, "delta": 0.01, "ci_low": -0.02, "ci_high": 0.04},
        "f1_macro": {"champion": 0.70, "challenger": 0.702, "delta": 0.002, "ci_low": -0.03, "ci_high": 0.03},
        "log_loss": {"champion": 0.5, "challenger": 0.49, "delta": -0.01},
        "recall_neutral": {"champion": 0.6, "challenger": 0.5, "delta": -0.1, "ci_low": -0.15, "ci_high": -0.05},
    },
    "challenger_trained": True,
    "challenger_uri": "runs:/abc/model",
    "champion_uri": "models:/m/1",
    "champion_version": "1",
}
DECISION = {
    "format": 1,
    "promoted": False,
    "first_cycle": False,
    "model_name": "sentiment",
    "version": None,
    "previous_version": "1",
    "summary": "Rejected: 2 of 3 enforced gates failed: min_gain.f1_macro, max_regression.recall_neutral.",
    "gates": [
        {"name": "min_gain.f1_macro", "passed": False, "detail": "gain +0.002 < min_gain 0.01", "mode": "enforce"},
        {
            "name": "max_regression.recall_neutral",
            "passed": False,
            "detail": "regression 0.1 > 0.05",
            "mode": "enforce",
        },
        {"name": "threshold.f1_macro", "passed": True, "detail": "0.702 >= 0.6", "mode": "enforce"},
        {"name": "drift_resolved.output_labels", "passed": False, "detail": "TVD 0.2 > 0.1", "mode": "advisory"},
    ],
}


def write_cycle(root: Path, drift=DRIFT, compare=COMPARE, decision=DECISION) -> Path:
    reports = root / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    for name, data in (("drift", drift), ("compare", compare), ("decision", decision)):
        if data is not None:
            (reports / f"{name}.json").write_text(json.dumps(data))
    return root


@pytest.fixture
def cycle(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for key in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    return write_cycle(tmp_path)


def test_report_prints_the_last_cycle(cycle, capsys):
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Last cycle: 3000 reference rows vs 1000 current rows\n")
    assert "  drift: DRIFT (1 of 2 columns, share 0.50): comment\n" in out
    assert "challenger against champion v1:" in out and "on 1001 holdout rows" in out
    # compare.json's headline metrics, then those the gates name; not log_loss (neither)
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("    ") and "[" in line]
    assert rows == ["accuracy", "f1_macro", "recall_neutral"]
    assert "    recall_neutral     0.600       0.500  -0.100  [-0.150, -0.050]\n" in out
    assert "  decision: NOT promoted; sentiment v1 stays champion\n" in out
    assert f"  why: {DECISION['summary']}\n" in out
    assert "  gates: 2 of 3 enforced failed\n" in out
    assert "    FAIL min_gain.f1_macro: gain +0.002 < min_gain 0.01\n" in out
    assert "    pass threshold.f1_macro: 0.702 >= 0.6\n" in out
    assert "    advisory drift_resolved.output_labels: TVD 0.2 > 0.1\n" in out
    assert "\x1b[" not in out  # captured: no colour


def test_report_json_is_the_summary_data(cycle, capsys):
    assert main(["report", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["drift"]["drifted_columns"] == ["comment"]
    assert data["comparison"]["metrics"]["recall_neutral"]["delta"] == pytest.approx(-0.1)
    assert data["decision"]["promoted"] is False
    assert data["decision"]["failed_gates"] == ["min_gain.f1_macro", "max_regression.recall_neutral"]
    assert data == read_cycle(cycle).to_dict()


@pytest.mark.parametrize("missing", ["decision", "drift", "compare"])
def test_no_cycle_yet_is_a_data_error_naming_the_file_and_the_command(tmp_path, monkeypatch, capsys, missing):
    monkeypatch.chdir(tmp_path)
    write_cycle(tmp_path, **{missing: None})
    assert main(["report"]) == 4  # DataError
    err = capsys.readouterr().err
    assert f"reports/{missing}.json not found" in err and "`dvc repro`" in err


def test_open_opens_the_drift_report_in_the_browser(cycle):
    """Through $BROWSER, which the webbrowser module runs: here a script that records its argument."""
    (cycle / "reports" / "drift.html").write_text("<html>drift</html>")
    opened = cycle / "opened.txt"
    browser = cycle / "browser.py"
    browser.write_text(f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["BROWSER"] = f"{sys.executable} {browser} %s"
    proc = subprocess.run(
        [sys.executable, "-m", "driftloop", "report", "--open"], cwd=cycle, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert opened.read_text() == (cycle / "reports" / "drift.html").resolve().as_uri()
    assert "Last cycle:" in proc.stdout


def test_open_without_the_html_report_names_it(cycle, capsys):
    assert main(["report", "--open"]) == 4
    assert "reports/drift.html not found" in capsys.readouterr().err


def test_promote_outcome_ends_dvc_repro_with_the_summary(cycle):
    """What run_stage prints for promote: its one line, then the cycle's summary from the workspace."""
    text = outcome_line("promote", DECISION, cycle)
    first, *rest = text.splitlines()
    assert first == outcome_line("promote", DECISION)  # the one line, unchanged
    assert rest == render_summary(read_cycle(cycle), title=None, why=False).splitlines()
    assert "  drift: DRIFT (1 of 2 columns, share 0.50): comment" in rest
    assert "    FAIL max_regression.recall_neutral: regression 0.1 > 0.05" in rest


def test_promote_outcome_stays_one_line_when_the_reports_cannot_be_read(tmp_path):
    write_cycle(tmp_path, drift=None)
    assert outcome_line("promote", DECISION, tmp_path) == outcome_line("promote", DECISION)


def test_the_demo_prints_the_same_summary(cycle, capsys):
    print_summary(cycle, "Cycle 2")
    assert capsys.readouterr().out == "\n" + render_summary(read_cycle(cycle), title="Cycle 2") + "\n"


def test_a_cycle_without_a_challenger(tmp_path):
    calm = {**DRIFT, "dataset": {"drifted": False, "verdict": "no drift", "n_reference": 10, "n_current": 5}}
    calm["drifted_columns"] = []
    write_cycle(
        tmp_path,
        drift=calm,
        compare={"format": 1, "challenger_trained": False, "reason": "no drift detected", "metrics": {}},
        decision={"format": 1, "promoted": False, "summary": "no drift detected", "gates": []},
    )
    assert render_summary(read_cycle(tmp_path)).splitlines() == [
        "Last cycle: 10 reference rows vs 5 current rows",
        "  drift: no drift in 2 columns",
        "  metrics: nothing compared (no drift detected)",
        "  decision: NOT promoted",
        "  why: no drift detected",
    ]
