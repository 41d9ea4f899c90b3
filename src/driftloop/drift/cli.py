"""``driftloop drift REFERENCE CURRENT --out DIR [-s key=value ...]``: ad-hoc drift reports.

Reads parquet or CSV (by extension), infers column kinds from the reference dtypes, streams the
current file in ``chunk_size`` chunks, writes ``DIR/drift.json`` and ``DIR/drift.html``. A file with
no rows is refused (exit 4) rather than reported as "no drift"; a window too small for every test
(``drift.min_rows``) is reported as "too few rows" (exit 8).

Kind inference: bool and string columns with few words -> categorical; numbers -> numeric; strings
whose median word count is at least 5 -> text; datetimes and identifier-like string columns (every
value distinct) are skipped. Overrides fix any of this (``-s columns.comment=text``).

A column only one of the files has is refused (exit 4), naming it and both files: one only the
reference has cannot be measured, and one only the current file has would go unchecked unless left
out on purpose (``-s columns.<name>=skip``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
import yaml

from driftloop.drift.chunks import file_columns, iter_file_chunks, read_table
from driftloop.errors import ConfigError, DataError, DriftloopError

TEXT_MIN_WORDS = 5
EXIT_CODES = {"no drift": 0, "drift": 1, "too few rows": 8}  # by dataset verdict; errors exit 3 (config), 4 (data)


def parse_overrides(overrides: list[str] | None) -> dict[str, Any]:
    """Turn ``key=value`` strings into the nested ``drift`` config mapping.

    Grammar: ``dotted.key=value``; the key is a path into ``conf/drift/default.yaml`` (e.g.
    ``alpha=0.01``, ``numeric.thresholds.psi=0.2``, ``text.ngram_range=[1,2]``); the value is parsed as
    YAML (numbers, booleans, lists). Column keys take the column name whole, so it may contain dots:
    ``columns.<name>=<kind>`` (numeric | categorical | text | skip), ``columns.<name>.skip=true``,
    ``columns.<name>.thresholds.<test>=<value>``.

    Raises
    ------
    ConfigError
        For an entry without ``=`` or with an empty key.
    """
    out: dict[str, Any] = {}
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"Override {item!r} must look like key=value (e.g. alpha=0.01).")
        value = yaml.safe_load(raw) if raw.strip() else None
        if key.startswith("columns."):
            rest = key[len("columns.") :]
            path: list[str]
            if ".thresholds." in rest:
                col, _, test = rest.rpartition(".thresholds.")
                path = ["columns", col, "thresholds", test]
            elif rest.endswith(".skip") or rest.endswith(".kind"):
                col, _, leaf = rest.rpartition(".")
                path = ["columns", col, leaf]
            else:
                path = ["columns", rest, "kind"]
        else:
            path = key.split(".")
        node = out
        for p in path[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"Override {item!r} conflicts with an earlier override of {p!r}.")
        node[path[-1]] = value
    return out


def infer_kinds(df: pd.DataFrame) -> dict[str, str]:
    """Column kinds from dtypes (see module docstring); skipped columns are left out."""
    kinds: dict[str, str] = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_bool_dtype(s):
            kinds[c] = "categorical"
        elif pd.api.types.is_numeric_dtype(s):
            kinds[c] = "numeric"
        elif pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
            continue
        else:
            nonnull = s.dropna()
            if len(nonnull) == 0:
                kinds[c] = "categorical"
                continue
            words = nonnull.astype(str).str.count(r"\S+")
            if float(words.median()) >= TEXT_MIN_WORDS:
                kinds[c] = "text"
            elif nonnull.nunique() == len(nonnull) and len(nonnull) > 50:
                continue  # identifier-like
            else:
                kinds[c] = "categorical"
    return kinds


def _refuse_current_only(reference: Path, current: Path, columns: list[str]) -> None:
    """A column only the current file has would go unmeasured (drift is measured against the
    reference's columns): refused, as a column only the reference has is, unless skipped on purpose."""
    if columns:
        skips = " ".join(f"-s columns.{c}=skip" for c in columns)
        raise DataError(
            f"{current} has column(s) {columns} that the reference {reference} does not have: expected "
            "the reference's columns (each column is measured against the reference, so these would go "
            f"unchecked). Add them to the reference, drop them from {current}, or leave them out on "
            f"purpose with {skips}."
        )


def drift_command(
    reference: Path,
    current: Path,
    out: Path,
    overrides: list[str] | None = None,
    *,
    not_features: Sequence[str] = (),
    kinds: Mapping[str, str] | None = None,
) -> int:
    """Compare two tables and write ``out/drift.json`` and ``out/drift.html``.

    Parameters
    ----------
    reference, current : Path
        Parquet or CSV files.
    out : Path
        Output directory (created).
    overrides : list of str, optional
        ``key=value`` entries into the drift config; see :func:`parse_overrides`.
    not_features : sequence of str
        Columns that are not features (the id, the time, the label, ``--exclude``): never measured.
        Each must be a column of the reference.
    kinds : mapping of str to str, optional
        The feature columns and their kinds (a project's schema); then no kind is inferred and
        every other column is left out. ``-s columns.<name>=<kind>`` still wins.

    Returns
    -------
    int
        0 when no dataset drift, 1 when dataset drift was found, 8 when the window was too small to
        test anything ("too few rows"), the error's ``exit_code`` for a
        :class:`~driftloop.errors.DriftloopError` (3 config, 4 data, e.g. a file with no rows); the
        message goes to stderr.

    Examples
    --------
    Not run as a doctest: it reads two table files and writes a folder (tests/drift/test_cli.py runs it).

    >>> drift_command(Path("ref.parquet"), Path("cur.parquet"), Path("out"), ["columns.comment=text"])  # doctest: +SKIP
    1
    """
    from driftloop.contracts import DriftResult
    from driftloop.drift import DriftConfig, evaluate_drift, render_html, summarize_reference

    try:
        cfg = DriftConfig.from_dict(parse_overrides(overrides))
        ref = read_table(Path(reference))
        if len(ref) == 0:
            raise DataError(f"{reference} has 0 rows: there is nothing to compare {current} with.")
        current_columns = file_columns(Path(current))  # a missing or unreadable current file is named first
        missing = [c for c in [*not_features, *(kinds or {})] if c not in ref.columns]
        if missing:
            where = (
                "the project's schema (params.yaml) names as features; to measure every column of "
                "these files instead, add --no-project"
                if kinds
                else "the options name"
            )
            raise DataError(
                f"{reference} has no column(s) {missing}, which {where}. Its columns are {list(ref.columns)}."
            )
        if kinds is None:  # every column is a feature unless left out: one only current has is refused
            current_only = [c for c in current_columns if c not in ref.columns and c not in not_features]
            kinds = infer_kinds(ref)
        else:  # a project's schema: only its features are measured, other columns are not features
            current_only = []
        kinds = {c: k for c, k in kinds.items() if c not in not_features}
        for c, ov in cfg.columns.items():
            if c in current_only and ov.skip:
                continue  # left out on purpose: see below
            if c not in ref.columns:
                raise DataError(f"Override names column {c!r}, which {reference} does not have.")
            if ov.kind:
                kinds[c] = ov.kind
        _refuse_current_only(
            reference, current, [c for c in current_only if not (c in cfg.columns and cfg.columns[c].skip)]
        )
        summary = summarize_reference(ref, kinds, cfg)
        del ref
        cols = list(summary.columns)
        try:
            report = evaluate_drift(summary, iter_file_chunks(Path(current), cols, cfg.chunk_size), cfg)
        except DataError as exc:  # the library speaks of "the current window": name the file
            raise DataError(f"{current}: {exc}") from exc
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        # The drift stage's format: its drift.json without the stage's own keys (drifted_columns, ...).
        doc = {"format": DriftResult.FORMAT, **report.to_dict()}
        (out / "drift.json").write_text(json.dumps(doc, indent=2, allow_nan=False), encoding="utf-8")
        (out / "drift.html").write_text(render_html(report), encoding="utf-8")
    except DriftloopError as exc:
        print(f"driftloop drift: {exc}", file=sys.stderr)
        return exc.exit_code
    drifted, untested = report.drifted_columns, report.untested_columns
    mv = report.multivariate or {}
    by_classifier = report.drifted and any(r.startswith("domain classifier") for r in report.reasons)
    print(
        f"{'DRIFT' if report.drifted else report.verdict}: {len(drifted)}/{len(report.columns)} columns drifted"
        f"{' (' + ', '.join(drifted) + ')' if drifted else ''}"
        f"{'; domain classifier AUC ' + format(mv['auc'], '.3f') if by_classifier else ''}"
        f"{'; not tested: ' + ', '.join(f'{c} ({why})' for c, why in untested.items()) if untested else ''}"
        f"; wrote {out / 'drift.json'} and {out / 'drift.html'}"
    )
    return EXIT_CODES[report.verdict]


def drift_cli(
    reference: Annotated[Path, typer.Argument(help="Reference table (.parquet or .csv).")],
    current: Annotated[Path, typer.Argument(help="Current table (.parquet or .csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory for drift.json and drift.html.")],
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", help="key=value into the drift config, e.g. -s columns.comment=text -s alpha=0.01"),
    ] = None,
) -> None:
    """Compare CURRENT with REFERENCE; exit 0 no drift, 1 drift, 8 too few rows, 3 config error, 4 data error."""
    raise typer.Exit(drift_command(reference, current, out, overrides))


def register(app: typer.Typer) -> None:
    """Add the ``drift`` command to a Typer app (``driftloop.cli``)."""
    app.command("drift")(drift_cli)
