"""The ``driftloop`` command line.

Every command is a thin shell over a library function; deliberate errors print
one line naming what is wrong and exit non-zero with the error's code.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer


def _example(*commands: str) -> str:
    """A help epilog: ``Example:`` and the commands, kept as lines (``\\b`` stops click rewrapping them)."""
    return "\b\nExample:\n" + "\n".join(f"  {c}" for c in commands)


app = typer.Typer(
    name="driftloop",
    help="Keep production models honest: snapshot -> drift -> retrain -> compare -> promote.",
    epilog=_example("driftloop demo", "driftloop report", "driftloop stage drift --help"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"driftloop {version('driftloop')}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print driftloop's version and exit."
    ),
) -> None:
    """Keep production models honest: snapshot -> drift -> retrain -> compare -> promote."""


def _guard(fn, *args, **kwargs) -> int:
    from driftloop.console import print_error, progress_on_terminal
    from driftloop.errors import DriftloopError

    try:
        with progress_on_terminal():  # long work shows bars on a terminal, nothing in logs or CI
            code = fn(*args, **kwargs)
    except DriftloopError as exc:
        print_error(exc)  # red on a terminal, plain in logs; credentials masked
        return exc.exit_code
    return int(code or 0)


@app.command(epilog=_example("driftloop params model=hgb train.window_days=14", "driftloop params --check"))
def params(
    overrides: list[str] | None = typer.Argument(None, help="Hydra overrides, e.g. model=hgb train.window_days=14"),
    check: bool = typer.Option(False, "--check", help="Only check that params.yaml matches conf/."),
) -> None:
    """Compose conf/ into params.yaml (what `dvc repro` reads), or --check that it is up to date.

    OVERRIDES are written into conf/config.yaml first (a group choice into its defaults list, a
    key into its body), so that `dvc repro`, `dvc exp run` and a fresh clone compose the same
    config. Either way the config is also checked against data.schema: a rule naming a metric the
    task lacks, or a slice column the schema lacks, is refused here, before anything is written.
    """
    from driftloop.config import check_params, compose, write_params
    from driftloop.preflight import check_config
    from driftloop.schema import Schema

    def fits(cfg: dict) -> None:
        check_config(cfg, Schema.from_config((cfg.get("data") or {}).get("schema") or {}))

    def _run() -> int:
        if check:
            fits(check_params())
            typer.echo("params.yaml matches conf/.")
        else:
            fits(compose(overrides or []))
            write_params(overrides or [])
            kept = f"; {' '.join(overrides)} written into conf/config.yaml" if overrides else ""
            typer.echo(f"wrote params.yaml from conf/{kept}")
        return 0

    raise typer.Exit(_guard(_run))


@app.command(epilog=_example("driftloop stage drift", "driftloop stage compare compare.n_bootstrap=500"))
def stage(
    name: str = typer.Argument(..., help="snapshot | drift | retrain | compare | promote"),
    overrides: list[str] | None = typer.Argument(None, help="Hydra overrides"),
) -> None:
    """Run one stage by hand (what `dvc repro` runs), optionally with Hydra overrides."""
    from driftloop.stages import run_stage

    raise typer.Exit(run_stage(name, overrides or []))


@app.command()
def drift(
    reference: Path = typer.Argument(..., help="Reference data (parquet or CSV)"),
    current: Path = typer.Argument(..., help="Current data (parquet or CSV)"),
    out: Path = typer.Option(Path("drift-report"), "--out", "-o", help="Output folder"),
    set_: list[str] | None = typer.Option(None, "--set", "-s", help="Config override key=value"),
    id: str | None = typer.Option(None, "--id", help="The row id column (not a feature)"),
    time: str | None = typer.Option(None, "--time", help="The event-time column (not a feature)"),
    label: str | None = typer.Option(None, "--label", help="The label column (not a feature)"),
    exclude: list[str] | None = typer.Option(None, "--exclude", help="A column that is not a feature; repeatable"),
    project: bool = typer.Option(
        True, "--project/--no-project", help="Inside a project, measure its schema's features (default) or every column"
    ),
) -> None:
    """Ad-hoc drift report: writes OUT/drift.json and OUT/drift.html.

    Inside a project (a params.yaml here) the project's schema says which columns are features and
    their kinds: the id, timestamp and label are never measured. Elsewhere, or with --no-project,
    every column is a feature (kinds inferred) except those given by --id, --time, --label and
    --exclude. Either way -s columns.NAME=KIND|skip overrides one column.

    \b
    Example:
      driftloop drift data/snapshot/reference.parquet new_week.csv -o drift-report/

    \b
    Exit codes:
      0  no drift
      1  drift
      8  too few rows to test (drift.min_rows)
      3  configuration error (an option or -s key)
      4  data error (a file missing, unreadable or empty; a column missing)
      2  other error
    """
    from driftloop.drift.cli import drift_command

    not_features = [c for c in (id, time, label, *(exclude or [])) if c]
    kinds = None if not_features or not project else _project_features()
    if kinds is not None:
        typer.echo(f"Using the project's schema (params.yaml): features {', '.join(kinds)}.")
    raise typer.Exit(_guard(drift_command, reference, current, out, set_ or [], not_features=not_features, kinds=kinds))


def _project_features() -> dict[str, str] | None:
    """The feature columns and kinds of the project in the current directory (its params.yaml's
    schema), or None outside a project."""
    if not Path("params.yaml").is_file():
        return None
    from driftloop.config import read_params
    from driftloop.schema import Schema

    data, _ = read_params()
    schema = Schema.from_config((data.get("data") or {}).get("schema") or {})
    return {c: k for k in ("numeric", "categorical", "text") for c in getattr(schema, k)}


@app.command(
    epilog=_example(
        "driftloop compare data/train/holdout.parquet --challenger runs:/RUN_ID/model "
        "--champion models:/driftloop-sentiment@champion -o compare-report/"
    )
)
def compare(
    holdout: Path = typer.Argument(..., help="Labelled holdout (parquet or CSV)"),
    challenger: str = typer.Option(..., "--challenger", help="MLflow model URI of the challenger"),
    champion: str | None = typer.Option(None, "--champion", help="MLflow model URI of the champion"),
    out: Path = typer.Option(Path("compare-report"), "--out", "-o", help="Output folder"),
    set_: list[str] | None = typer.Option(None, "--set", "-s", help="Config override key=value"),
) -> None:
    """Compare two MLflow models on the same holdout: writes OUT/compare.json and plots."""
    from driftloop.compare.cli import compare_command

    raise typer.Exit(_guard(compare_command, holdout, champion, challenger, out, set_ or []))


MODEL_NAME_HELP = "Registered model (default: registry.model_name in params.yaml)"


@app.command(epilog=_example("driftloop status", "driftloop status -m driftloop-sentiment"))
def status(model_name: str | None = typer.Option(None, "--model-name", "-m", help=MODEL_NAME_HELP)) -> None:
    """Show the champion, its lineage, and the last decision and why."""
    from driftloop.promote.cli import status_command

    raise typer.Exit(_guard(_use_project_tracking) or _guard(status_command, model_name))


@app.command(epilog=_example("driftloop history", "driftloop history -m driftloop-sentiment"))
def history(model_name: str | None = typer.Option(None, "--model-name", "-m", help=MODEL_NAME_HELP)) -> None:
    """List every move of the champion alias (who, when, why)."""
    from driftloop.promote.cli import history_command

    raise typer.Exit(_guard(_use_project_tracking) or _guard(history_command, model_name))


@app.command(epilog=_example('driftloop rollback --reason "complaints from support"'))
def rollback(
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded in the registry)"),
    model_name: str | None = typer.Option(None, "--model-name", "-m", help=MODEL_NAME_HELP),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: $USER)"),
) -> None:
    """Move the champion alias back to the previous version, recording who/when/why (a second rollback undoes it)."""
    from driftloop.promote.cli import rollback_command

    raise typer.Exit(
        _guard(_use_project_tracking) or _guard(rollback_command, model_name=model_name, reason=reason, actor=actor)
    )


@app.command("promote", epilog=_example('driftloop promote --version 3 --reason "v3 passed the A/B test"'))
def promote_version(
    version: str = typer.Option(..., "--version", help="The registered model version to make champion"),
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded in the registry)"),
    model_name: str | None = typer.Option(None, "--model-name", "-m", help=MODEL_NAME_HELP),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: $USER)"),
) -> None:
    """Move the champion alias to VERSION by hand, recording who/when/why (undo: rollback)."""
    from driftloop.promote.cli import promote_command

    raise typer.Exit(
        _guard(_use_project_tracking)
        or _guard(promote_command, version, reason=reason, model_name=model_name, actor=actor)
    )


@app.command("new-registry", epilog=_example('driftloop new-registry --reason "the old tracking server was retired"'))
def new_registry(
    reason: str = typer.Option(..., "--reason", "-r", help="Why (recorded in the manifest and decision.json)"),
    model_name: str | None = typer.Option(None, "--model-name", "-m", help=MODEL_NAME_HELP),
    actor: str | None = typer.Option(None, "--actor", help="Who (default: $USER)"),
) -> None:
    """Start a new registry on purpose, when the registry no longer holds the champion the project's
    records (decision.json, the snapshot manifest) name: the next `dvc repro` is a first cycle."""
    from driftloop.promote.cli import new_registry_command

    raise typer.Exit(
        _guard(_use_project_tracking) or _guard(new_registry_command, reason, model_name=model_name, actor=actor)
    )


@app.command(epilog=_example("driftloop init churn/ --data customers.csv --target churned --time signup_date"))
def init(
    folder: Path = typer.Argument(..., help="The new project folder (must not exist, or be empty)"),
    data: Path = typer.Option(..., "--data", help="The table: CSV, parquet or JSON lines"),
    target: str = typer.Option(..., "--target", help="The label column"),
    time: str | None = typer.Option(None, "--time", help="The event-time column (default: inferred)"),
    id: str | None = typer.Option(None, "--id", help="The row id column (default: inferred, or a content hash)"),
    task: str | None = typer.Option(None, "--task", help="classification | regression (default: inferred)"),
    kind: list[str] | None = typer.Option(
        None, "--kind", help="COLUMN=KIND to override an inference (numeric|categorical|text|ignore); repeatable"
    ),
) -> None:
    """Make a ready driftloop project in FOLDER for your table: infer each column's kind and the task,
    choose a model and windows (printing each choice and why), add the table as the first batch.
    Then `cd FOLDER && dvc repro` runs the first cycle."""
    from driftloop.project.cli import init_command

    raise typer.Exit(_guard(init_command, folder, data, target, time=time, id=id, task=task, kinds=kind or []))


@app.command(epilog=_example("driftloop ingest new_week.csv", "driftloop ingest batches/2026-12-*.parquet"))
def ingest(
    files: list[Path] = typer.Argument(..., help="Batch files: CSV, parquet or JSON lines"),
) -> None:
    """Validate new batches against the project's schema (naming the file, row and column of the first
    problem) and add them to the batch folder, tracked by DVC; nothing is added when one fails.
    The next `dvc repro` runs the next cycle."""
    from driftloop.project.cli import ingest_command

    raise typer.Exit(_guard(ingest_command, files))


@app.command(epilog=_example("driftloop demo", "driftloop demo --rows 5000 --no-reset"))
def demo(
    rows: int = typer.Option(1000, help="Rows per weekly batch"),
    reset: bool = typer.Option(True, help="Start from an empty registry and no incoming data"),
) -> None:
    """Run the demo: cycle 1 on calm weeks registers champion v1; drifted weeks arrive; cycle 2 decides."""
    from driftloop.demo.run import run_demo

    raise typer.Exit(_guard(run_demo, rows=rows, reset=reset))


@app.command(epilog=_example("driftloop report", "driftloop report --open", "driftloop report --json > cycle.json"))
def report(
    open_: bool = typer.Option(False, "--open", help="Open the drift report (reports/drift.html) in a browser"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary's data as JSON"),
) -> None:
    """Print the last cycle's summary from this project's reports: the drifted columns, both models'
    metrics, the decision and every gate (what `dvc repro` ends with)."""
    from driftloop.report import report_command

    raise typer.Exit(_guard(report_command, Path.cwd(), open_browser=open_, as_json=as_json))


@app.command(
    epilog=_example(
        "driftloop cycle",
        "driftloop cycle --pull --git-push --project /srv/driftloop",
        "driftloop cycle --exp --no-commit",
    )
    + "\n\n"
    + "\b\nExit codes:\n"
    + "   0  cycle done, the challenger was promoted\n"
    + "  10  cycle done, not promoted (the champion stays)\n"
    + "  11  nothing to do: no stage had changed inputs (or no new decision was made)\n"
    + "  12  another cycle holds the lock: exited at once\n"
    + "  13  a step failed: its JSON line has status failed and names it\n"
    + "   2  usage error (a bad option)"
)
def cycle(
    pull: bool = typer.Option(False, "--pull/--no-pull", help="First `git pull --ff-only` and `dvc pull`."),
    push: bool = typer.Option(True, "--push/--no-push", help="`dvc push` the data after the pipeline."),
    commit: bool = typer.Option(
        True, "--commit/--no-commit", help="Commit dvc.lock, pointer files and reports, with the decision."
    ),
    git_push: bool = typer.Option(False, "--git-push/--no-git-push", help="`git push` the commit."),
    exp: bool = typer.Option(False, "--exp", help="Run the pipeline with `dvc exp run` instead of `dvc repro`."),
    lock: Path = typer.Option(
        Path(".driftloop/cycle.lock"), "--lock", help="The lock file (relative: to the project)."
    ),
    project: Path = typer.Option(Path("."), "--project", help="The project folder."),
) -> None:
    """Run one unattended cycle, what a scheduler runs: take the lock (a second cycle exits at once),
    optionally pull, check the config, `dvc repro`, `dvc push`, commit with the decision, optionally
    git push, notify.

    Each step writes one JSON line to stdout ({"step", "status": ok|skipped|failed, "seconds", ...});
    the last one, step "cycle", holds the outcome and exit code. On a terminal each step also prints
    a human line to stderr. The commands' own output goes to stderr. A webhook (DRIFTLOOP_WEBHOOK_URL)
    is told of drift, the decision, or the failure; a dead webhook never fails the cycle.
    """
    from driftloop.schedule.runner import CycleOptions, run_cycle

    options = CycleOptions(project=project, lock=lock, pull=pull, push=push, commit=commit, git_push=git_push, exp=exp)
    raise typer.Exit(_guard(run_cycle, options))


def _use_project_tracking() -> None:
    """Commands run from a project root use its configured tracking URI unless MLFLOW_TRACKING_URI is set.
    A URI holding credentials, in either, is refused (:func:`driftloop.redact.refuse_credentials`)."""
    import os

    from driftloop.config import read_params
    from driftloop.redact import refuse_credentials

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        refuse_credentials(os.environ.get(name), f"{name} (environment)")
    if os.environ.get("MLFLOW_TRACKING_URI") or not Path("params.yaml").is_file():
        return
    from driftloop.tracking import TrackingConfig

    data, _ = read_params()
    if isinstance(data.get("tracking"), dict):
        uri = TrackingConfig.from_dict(data["tracking"]).resolved_uri()
        os.environ["MLFLOW_TRACKING_URI"] = uri
        os.environ.setdefault("MLFLOW_REGISTRY_URI", uri)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code instead of exiting (usable from scripts and tests)."""
    try:
        # With standalone_mode=False click returns a command's exit code instead of exiting.
        rv = app(args=list(argv) if argv is not None else None, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except SystemExit as exc:  # click usage errors
        return int(exc.code or 0)
    except Exception as exc:
        # Usage errors (unknown command, bad option): typer vendors click, so match by behaviour.
        code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(code, int):
            exc.show()
            return code
        raise


if __name__ == "__main__":
    sys.exit(main())
