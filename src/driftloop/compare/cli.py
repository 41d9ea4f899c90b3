"""``driftloop compare HOLDOUT --champion URI --challenger URI --out DIR``: compare any two MLflow models.

Overrides (``-s KEY=VALUE``, repeatable):

- schema keys ``label``, ``task``, ``id``, ``timestamp``, ``numeric``, ``categorical``,
  ``text`` (lists comma-separated). Feature columns default to the challenger's input
  columns, each classed by its dtype in the holdout (numbers: numeric; strings
  averaging more than 30 characters: text; other strings: categorical).
- compare keys as ``compare.<key>=<value>`` (values parsed as YAML), e.g.
  ``compare.confidence=0.9`` or ``compare.slices=[channel]``.

Models are loaded without pickle: a folder whose MLmodel says pickle/cloudpickle (or that holds a
``*.pkl``) is refused, naming it (exit 6), unless ``-s compare.allow_pickle_models=true``
(it may run code: trusted folders only, e.g. a model logged by an older driftloop).

It prints the evidence; whether it is enough to promote is decided by ``promote.rules``.

Defaults: ``label=label``, ``task=classification``, ``id=id``, ``timestamp=timestamp``
and the ``CompareConfig`` defaults (no slices).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop.errors import ConfigError, DataError, DriftloopError

__all__ = ["compare_command", "parse_overrides"]

_SCHEMA_KEYS = ("label", "task", "id", "timestamp", "numeric", "categorical", "text", "classes")
_TEXT_MIN_MEAN_LENGTH = 30


def parse_overrides(overrides: list[str] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``KEY=VALUE`` strings into schema and compare mappings.

    Raises
    ------
    ConfigError
        On a malformed override or an unknown key.
    """
    import yaml

    schema: dict[str, Any] = {}
    compare: dict[str, Any] = {}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like KEY=VALUE (e.g. label=label).")
        if key.startswith("compare."):
            compare[key[len("compare.") :]] = yaml.safe_load(value)
        elif key in _SCHEMA_KEYS:
            if key in ("numeric", "categorical", "text", "classes"):
                schema[key] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                schema[key] = value.strip()
        else:
            raise ConfigError(f"unknown override key {key!r}; expected one of {list(_SCHEMA_KEYS)} or compare.<key>.")
    return schema, compare


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"holdout file {path} not found.")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"holdout file {path} cannot be read: {exc}") from exc


def _infer_schema(frame: pd.DataFrame, columns: tuple[str, ...] | None, given: dict[str, Any]):
    from driftloop.schema import Schema

    label = given.get("label", "label")
    if label not in frame.columns:
        raise DataError(
            f"the holdout has no label column {label!r} (set it with -s label=<column>); columns: "
            f"{list(frame.columns)}."
        )
    kinds: dict[str, list[str]] = {k: list(given.get(k, [])) for k in ("numeric", "categorical", "text")}
    if not any(kinds.values()):
        id_col, ts_col = given.get("id", "id"), given.get("timestamp", "timestamp")
        features = columns or tuple(c for c in frame.columns if c not in (label, id_col, ts_col))
        for col in features:
            if col not in frame.columns:
                continue  # reported by predict_outputs as a schema mismatch, naming the model
            series = frame[col]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                kinds["numeric"].append(col)
            elif series.astype("string").str.len().mean() > _TEXT_MIN_MEAN_LENGTH:
                kinds["text"].append(col)
            else:
                kinds["categorical"].append(col)
    return Schema.from_config(
        {
            "id": given.get("id", "id"),
            "timestamp": given.get("timestamp", "timestamp"),
            "label": label,
            "task": given.get("task", "classification"),
            "classes": given.get("classes", []),
            **kinds,
        }
    )


def compare_command(
    holdout: Path, champion: str | None, challenger: str, out: Path, overrides: list[str] | None = None
) -> int:
    """Compare two MLflow models on a holdout file; write ``out/compare.json`` and plots.

    Parameters
    ----------
    holdout : Path
        A parquet or CSV file with the label and the models' input columns.
    champion : str or None
        MLflow model URI of the incumbent (None: report the challenger alone).
    challenger : str
        MLflow model URI of the candidate.
    out : Path
        Output folder (``compare.json``, ``plots/``).
    overrides : list of str, optional
        See the module docstring.

    Returns
    -------
    int
        0 on success (whatever the verdict), else the ``exit_code`` of the driftloop
        error, whose message is printed to stderr.

    Examples
    --------
    Not run as a doctest: it needs two models in an MLflow store and a holdout file.

    >>> compare_command(Path("holdout.parquet"), "models:/feedback@champion", "runs:/abc/challenger",
    ...                 Path("reports"), ["label=label"])  # doctest: +SKIP
    0
    """
    from driftloop.compare.comparison import compare_models
    from driftloop.compare.config import CompareConfig
    from driftloop.compare.plots import write_plots
    from driftloop.compare.predict import input_columns, load_model
    from driftloop.contracts import CompareResult

    try:
        schema_over, compare_over = parse_overrides(overrides)
        cfg = CompareConfig.from_dict(compare_over)
        frame = _read_table(Path(holdout))
        # A folder holding a pickle is refused before loading unless -s compare.allow_pickle_models=true.
        chall = load_model(challenger, allow_pickle=cfg.allow_pickle_models)
        champ = load_model(champion, allow_pickle=cfg.allow_pickle_models) if champion else None
        schema = _infer_schema(frame, input_columns(chall), schema_over)
        result = compare_models(frame, schema, chall, champ, cfg)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        # compare.json's format (the stage's file: the evidence first, then the models compared).
        doc = {"format": CompareResult.FORMAT, **result.to_dict()}
        doc["champion_uri"], doc["challenger_uri"], doc["holdout"] = champion, challenger, str(holdout)
        (out / "compare.json").write_text(json.dumps(doc, indent=2) + "\n")
        write_plots(result, out / "plots")
    except DriftloopError as exc:
        print(f"driftloop compare: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code
    from driftloop.compare.comparison import headline_lines

    for line in headline_lines(doc):
        print(line)
    return 0
