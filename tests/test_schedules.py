"""The schedule definitions in pipelines/schedules/ (issue 16, item 4): each parses with its own
format's parser, says how to install it, and runs `driftloop cycle` with arguments the real command
accepts; and `driftloop cycle`'s exit codes are distinct, clear of the error codes, and documented."""

from __future__ import annotations

import ast
import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import yaml

from driftloop import errors
from driftloop.cli import app, main
from driftloop.schedule.steps import BUSY, EXIT_CODE_HELP, EXIT_CODES, NOT_PROMOTED, NOTHING_TO_DO, PROMOTED

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = ROOT / "pipelines" / "schedules"
#: The codes a scheduler must not treat as a failure: outcomes of a cycle that went as planned.
OUTCOMES = {EXIT_CODES[k] for k in (PROMOTED, NOT_PROMOTED, NOTHING_TO_DO, BUSY)}
#: `driftloop cycle` and its arguments, up to the end of the shell command it is in.
CYCLE_CALL = re.compile(r"(?:^|[\s/])driftloop cycle\b([^;|&<>\n\"']*)")


def cycle_args(command: str) -> list[str]:
    """The arguments of the one `driftloop cycle` call in the shell command ``command``."""
    calls = CYCLE_CALL.findall(command)
    assert len(calls) == 1, f"expected one `driftloop cycle` call in {command!r}, found {len(calls)}"
    return shlex.split(calls[0])


def check_cycle_args(args: list[str]) -> None:
    """Parse ``args`` with the real `driftloop cycle` command: an unknown option or a bad value raises
    click's usage error (exit code 2)."""
    command = typer.main.get_command(app)
    with command.commands["cycle"].make_context("cycle", list(args)) as ctx:  # type: ignore[attr-defined]
        assert ctx.params["lock"] is not None


def refused(args: list[str]) -> bool:
    """Whether the real command refuses ``args`` as a usage error (typer vendors click: matched by
    behaviour, the exit code of click's usage errors)."""
    try:
        check_cycle_args(args)
    except Exception as exc:
        return getattr(exc, "exit_code", None) == 2
    return False


def cron_fields(expr: str) -> list[str]:
    """The five fields of a cron expression, each checked against its range."""
    fields = expr.split()
    assert len(fields) == 5, f"a cron schedule has 5 fields: {expr!r}"
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (lo, hi) in zip(fields, ranges, strict=True):
        for part in field.split(","):
            base, _, step = part.partition("/")
            assert not step or step.isdigit(), expr
            if base == "*":
                continue
            for n in base.split("-"):
                assert n.isdigit() and lo <= int(n) <= hi, f"{n!r} out of {lo}-{hi} in {expr!r}"
    return fields


def test_the_checks_refuse_what_they_should():
    """Negative controls: a wrong option, a wrong value, a second call and a bad cron field fail."""
    assert refused(["--pul"])
    assert refused(["--exp", "yes"])  # a flag takes no value: 'yes' is an unexpected argument
    assert refused(["--lock"])  # an option that takes a value, without one
    assert not refused(["--pull", "--git-push", "--no-push", "--lock", "x.lock", "--project", "."])
    with pytest.raises(AssertionError):
        cycle_args("driftloop cycle; driftloop cycle --pull")
    with pytest.raises(AssertionError):
        cron_fields("0 25 * * 1")
    with pytest.raises(AssertionError):
        cron_fields("0 6 * *")


def test_every_definition_is_here_and_nothing_else():
    names = {p.name for p in SCHEDULES.iterdir() if p.name != "__pycache__"}
    assert names == {
        "crontab.txt",
        "driftloop-cycle.service",
        "driftloop-cycle.timer",
        "github-actions.yml",
        "airflow_dag.py",
        "kubernetes-cronjob.yaml",
    }


@pytest.mark.parametrize("name", sorted(p.name for p in SCHEDULES.iterdir() if p.name != "__pycache__"))
def test_each_says_how_to_install_it(name):
    head = (SCHEDULES / name).read_text().splitlines()[:12]
    assert any(re.search(r"\binstall\b", line, re.IGNORECASE) for line in head), name


def test_cron_entry():
    lines = [
        line
        for line in (SCHEDULES / "crontab.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1, lines
    parts = lines[0].split(None, 5)
    assert len(parts) == 6, "a crontab line is 5 schedule fields and a command"
    cron_fields(" ".join(parts[:5]))
    command = parts[5]
    assert "%" not in command, "cron turns an unescaped % into a newline"
    check_cycle_args(cycle_args(command))


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((SCHEDULES / name).read_text(), source=name)
    return parser


def test_systemd_service_and_timer():
    service, timer = _unit("driftloop-cycle.service"), _unit("driftloop-cycle.timer")
    assert set(service.sections()) == {"Unit", "Service"}
    assert set(timer.sections()) == {"Unit", "Timer", "Install"}
    assert service["Service"]["Type"] == "oneshot"
    exec_start = service["Service"]["ExecStart"]
    assert exec_start.startswith("/"), "ExecStart runs an absolute path"
    check_cycle_args(cycle_args(exec_start))
    # The outcomes that are not failures: every one but 0 (which systemd counts as success anyway).
    assert {int(c) for c in service["Service"]["SuccessExitStatus"].split()} == OUTCOMES - {0}
    assert timer["Install"]["WantedBy"] == "timers.target"
    calendar = timer["Timer"]["OnCalendar"]
    if shutil.which("systemd-analyze"):  # systemd's own parser of calendar expressions
        proc = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "Mon" in proc.stdout


def test_github_actions_workflow():
    wf = yaml.safe_load((SCHEDULES / "github-actions.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    cron_fields(on["schedule"][0]["cron"])
    assert wf["concurrency"]["cancel-in-progress"] is False
    runs = [s["run"] for job in wf["jobs"].values() for s in job["steps"] if "driftloop cycle" in s.get("run", "")]
    assert len(runs) == 1
    check_cycle_args(cycle_args(runs[0]))
    assert _accepted_in_case(runs[0]) == OUTCOMES


def _accepted_in_case(script: str) -> set[int]:
    """The exit codes a shell ``case ... in 0|10|...) exit 0`` maps to success."""
    match = re.search(r"case \"?\$code\"? in ([\d|]+)\) exit 0", script)
    assert match, script
    return {int(c) for c in match.group(1).split("|")}


def _call_kwargs(tree: ast.AST, func: str) -> dict[str, ast.expr]:
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == func
    ]
    assert len(calls) == 1, f"one {func}(...) call expected"
    return {k.arg: k.value for k in calls[0].keywords if k.arg}


def test_airflow_dag():
    tree = ast.parse((SCHEDULES / "airflow_dag.py").read_text(), filename="airflow_dag.py")
    dag = _call_kwargs(tree, "DAG")
    assert ast.literal_eval(dag["max_active_runs"]) == 1
    assert ast.literal_eval(dag["catchup"]) is False
    cron_fields(ast.literal_eval(dag["schedule"]))
    task = _call_kwargs(tree, "BashOperator")
    command = task["bash_command"]
    # An f-string: its literal parts hold the command ({HOME} is the folder it runs in).
    parts = command.values if isinstance(command, ast.JoinedStr) else [command]
    text = "".join(p.value if isinstance(p, ast.Constant) else "{}" for p in parts)
    check_cycle_args(cycle_args(text))
    skipped = set(ast.literal_eval(task["skip_on_exit_code"]))
    assert skipped == {EXIT_CODES[NOTHING_TO_DO], EXIT_CODES[BUSY]}
    assert f"[ $code -eq {EXIT_CODES[NOT_PROMOTED]} ] && exit 0" in text


def test_kubernetes_cronjob():
    job = yaml.safe_load((SCHEDULES / "kubernetes-cronjob.yaml").read_text())
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "CronJob")
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    cron_fields(spec["schedule"])
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    script = " ".join([*container.get("command", []), *container.get("args", [])])
    check_cycle_args(cycle_args(script))
    assert _accepted_in_case(script) == OUTCOMES


def test_exit_codes_are_distinct_and_clear_of_the_error_codes():
    codes = list(EXIT_CODES.values())
    assert len(set(codes)) == len(codes) == 5
    error_codes = {
        c.exit_code for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.DriftloopError)
    }
    assert error_codes, "the walk over driftloop.errors found no error class"
    # 0 is also an ordinary success, 1 an unexpected error, 8 `driftloop drift`'s too few rows.
    assert not (set(codes) - {0}) & (error_codes | {1, 2, 8})


def test_help_documents_every_exit_code(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["cycle", "--help"]) == 0
    out = capsys.readouterr().out
    documented = {int(m.group(1)): m.group(2).strip() for m in re.finditer(r"^\s*(\d+)\s{2}(\S.*?)\s*$", out, re.M)}
    for name, code in EXIT_CODES.items():
        assert documented.get(code) == EXIT_CODE_HELP[name], (code, documented)


def test_readme_documents_the_exit_codes_and_the_cron_line():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Run it on a schedule", 1)[1].split("\n## ", 1)[0]
    for name, code in EXIT_CODES.items():
        assert re.search(rf"`{code}`[^\n]*{re.escape(EXIT_CODE_HELP[name].split(':')[0])}", section), (code, name)
    cron = next(line for line in (SCHEDULES / "crontab.txt").read_text().splitlines() if not line.startswith("#"))
    assert cron in section
