"""``docs/config-reference.md``, generated from the config tables so that it cannot drift from the code.

Every config group's keys are written once, as data: the :class:`~driftloop.validation.Key` tables
of the modules that own the group (``driftloop.train.windows.TABLE``, ``driftloop.drift.config.TABLES``
...). This module walks them in one list, :func:`sections`, and renders each key: its dotted name,
kind, default, what it accepts, whether ``null`` is allowed, the value each shipped ``conf/`` option
gives it when that differs from the default, and its doc line.

Three groups are still checked by hand-written code, without a table (``data.source``,
``data.windows``, ``tracking``): their rows are built here, with the defaults read by calling that
code with an empty mapping, so a changed default still shows.

``python -m driftloop.config_reference`` prints the page, ``--write`` writes it and ``--check``
fails when the committed page is stale (``tests/test_config_reference.py`` runs the check). A
leaf module: nothing in the stages imports it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.validation import REQUIRED, Key

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "config-reference.md"
CONF = ROOT / "conf"
COMMAND = "python -m driftloop.config_reference --write"

#: The top-level groups, in the order of ``conf/config.yaml``'s defaults list (``data`` first here:
#: it is what a user edits first).
GROUP_ORDER = ("data", "drift", "train", "model", "compare", "promote", "registry", "tracking", "paths", "engine")


@dataclass(frozen=True)
class Section:
    """One table of keys: ``prefix`` is the dotted name of their parent (``drift.numeric``)."""

    prefix: str
    table: Mapping[str, Key]
    source: str
    note: str = ""

    @property
    def group(self) -> str:
        return self.prefix.split(".")[0]


def _untabled() -> list[Section]:
    """The groups checked by hand-written code: rows whose defaults come from calling that code."""
    from driftloop.tracking import DEFAULT_RETRY_MAX_SECONDS, TrackingConfig
    from driftloop.windows import max_future_days, windows_config

    initial, current = windows_config({})
    future = max_future_days({})
    tracking = TrackingConfig.from_dict({})
    return [
        Section(
            "data.source",
            {
                "path": Key(
                    "path",
                    doc="the folder of incoming batch files, read in name order (a DVC dependency); with format "
                    "partitioned, a parquet dataset: a directory (hive-style key=value/ folders) or an fsspec URL",
                ),
                "format": Key(
                    "choice",
                    "auto",
                    choices=("auto", "parquet", "csv", "partitioned"),
                    doc="which batch files are read: auto takes .parquet, .pq and .csv by extension; partitioned: "
                    "path is one dataset, read per partition on the engine, never whole (docs/dask.md)",
                ),
                "reviewed_labels": Key(
                    "path",
                    None,
                    nullable=True,
                    doc="folder of `id,label` CSV files whose labels override the batches' (may not exist yet)",
                ),
            },
            "driftloop.batches.source_config, driftloop.batches.list_batches, driftloop.partitioned_snapshot",
            "No Key table: checked by that code.",
        ),
        Section(
            "data.windows",
            {
                "initial_reference_days": Key(
                    "number",
                    initial,
                    low=0.0,
                    low_open=True,
                    doc="first cycle only (no champion): the reference is the first N whole days of data",
                ),
                "current_max_days": Key(
                    "number",
                    current,
                    low=0.0,
                    low_open=True,
                    nullable=True,
                    doc="the current window: rows newer than the reference, at most the newest N whole days "
                    "(null: all of them)",
                ),
                "max_future_days": Key(
                    "number",
                    future,
                    low=0.0,
                    low_open=True,
                    nullable=True,
                    doc="a row dated more than N days after the wall clock (UTC) is refused (null: no check)",
                ),
            },
            "driftloop.windows.windows_config, driftloop.windows.max_future_days",
            "No Key table: checked by that code.",
        ),
        Section(
            "tracking",
            {
                "uri": Key(
                    "str",
                    tracking.uri,
                    doc="MLflow tracking and registry URI (MLFLOW_TRACKING_URI in the environment wins); "
                    "a relative sqlite path is resolved against the project root",
                ),
                "artifact_root": Key(
                    "path",
                    tracking.artifact_root,
                    nullable=True,
                    doc="artifact folder of a new experiment with a local store (null or a server: the server decides)",
                ),
                "experiment": Key("str", tracking.experiment, doc="the MLflow experiment the stages log to"),
                "retry.max_seconds": Key(
                    "number",
                    DEFAULT_RETRY_MAX_SECONDS,
                    low=0.0,
                    low_open=True,
                    doc="total seconds driftloop retries an idempotent MLflow call that failed transiently",
                ),
            },
            "driftloop.tracking.TrackingConfig.from_dict",
            "No Key table: checked by that code. No key may hold credentials.",
        ),
    ]


def sections() -> list[Section]:
    """Every table of every config group, in :data:`GROUP_ORDER`."""
    from driftloop import engine, paths, registry_config, schema
    from driftloop.compare import config as compare_config
    from driftloop.drift import config as drift_config
    from driftloop.promote import config as promote_config
    from driftloop.train import model
    from driftloop.train import windows as train_windows

    out = [Section("data.schema", schema.SCHEMA, "driftloop.schema.SCHEMA")]
    for name, table in drift_config.TABLES.items():
        source = "TOP" if not name else f"TABLES[{name!r}]"
        out.append(Section(f"drift.{name}" if name else "drift", table, f"driftloop.drift.config.{source}"))
    out.append(
        Section(
            "drift.columns.<column>",
            drift_config.COLUMN,
            "driftloop.drift.config.COLUMN",
            "Per-column settings; a plain string is taken as the kind (`drift.columns.price: skip`).",
        )
    )
    out += [
        Section("train", train_windows.TABLE, "driftloop.train.windows.TABLE"),
        Section("model", model.MODEL, "driftloop.train.model.MODEL"),
        Section("model.preprocessing", model.PREPROCESSING, "driftloop.train.model.PREPROCESSING"),
        Section("model.preprocessing.text", model.TEXT, "driftloop.train.model.TEXT"),
        Section("model.preprocessing.categorical", model.CATEGORICAL, "driftloop.train.model.CATEGORICAL"),
        Section("model.preprocessing.numeric", model.NUMERIC, "driftloop.train.model.NUMERIC"),
        Section("compare", compare_config.TABLE, "driftloop.compare.config.TABLE"),
    ]
    for name, table in promote_config.TABLES.items():
        source = "TOP" if not name else f"TABLES[{name!r}]"
        note = "Each item of the `promote.rules` list." if name == "rules[]" else ""
        out.append(Section(f"promote.{name}" if name else "promote", table, f"driftloop.promote.config.{source}", note))
    out += [
        Section("registry", registry_config.TABLE, "driftloop.registry_config.TABLE"),
        Section("paths", paths.TABLE, "driftloop.paths.TABLE"),
        Section("engine", engine.TABLE, "driftloop.engine.TABLE"),
    ]
    out = [*out[:1], *_untabled(), *out[1:]]
    return sorted(out, key=lambda s: GROUP_ORDER.index(s.group))


def _has_own_section(dotted: str, prefixes: set[str]) -> bool:
    """Whether a section documents ``dotted``'s keys (``drift.output`` by ``drift.output.thresholds``)."""
    return any(p == dotted or p.startswith(f"{dotted}.") for p in prefixes)


def _test_descriptions() -> dict[tuple[str, str], str]:
    from driftloop.drift.registry import TEST_REGISTRY

    return {key: spec.description for key, spec in TEST_REGISTRY.items()}


def keys() -> dict[str, tuple[Key, Section]]:
    """Every documented dotted key with its :class:`Key` and section, in page order.

    A ``mapping`` key that has its own section (``drift.numeric``) is that section, not a row; the
    per-test ``thresholds`` of each drift kind are expanded into one row per test.
    """
    from driftloop.drift.config import _THRESHOLD, KIND_TABLES
    from driftloop.drift.registry import names

    all_sections = sections()
    prefixes = {s.prefix for s in all_sections}
    described = _test_descriptions()
    out: dict[str, tuple[Key, Section]] = {}
    for section in all_sections:
        for key, spec in section.table.items():
            dotted = f"{section.prefix}.{key}"
            if spec.kind == "mapping" and _has_own_section(dotted, prefixes):
                continue
            if (
                section.prefix.startswith("drift.")
                and section.prefix[6:] in KIND_TABLES
                and key in ("tests", "decide_on")
            ):
                spec = Key(spec.kind, spec.default, choices=tuple(names(section.prefix[6:])), doc=spec.doc)
            out[dotted] = (spec, section)
            kind = section.prefix[6:] if section.prefix.startswith("drift.") else ""
            if key == "thresholds" and kind in KIND_TABLES:
                for test, value in spec.default.items():
                    doc = f"effect threshold of `{test}`: {described[(kind, test)]}"
                    out[f"{dotted}.{test}"] = (
                        Key(_THRESHOLD.kind, value, low=_THRESHOLD.low, doc=doc),
                        section,
                    )
    return out


# -- the shipped conf/ options ----------------------------------------------------------------


def options(conf: Path = CONF) -> list[tuple[str, str]]:
    """``(group, option)`` for every YAML file of every group folder of ``conf``."""
    return [
        (group.name, path.stem)
        for group in sorted(p for p in conf.iterdir() if p.is_dir())
        for path in sorted(group.glob("*.yaml"))
    ]


def option_values(conf: Path = CONF) -> dict[tuple[str, str], dict[str, Any]]:
    """Each shipped option composed on its own (its own defaults list applied), as ``{group: ...}``.

    An option that only composes inside the whole config (a data option overriding other groups'
    choices) is taken from ``conf/config.yaml`` composed with it.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    out: dict[tuple[str, str], dict[str, Any]] = {}
    with initialize_config_dir(str(conf.resolve()), version_base=None):
        for group, option in options(conf):
            try:
                cfg = hydra_compose(config_name=f"{group}/{option}")
            except HydraException:
                cfg = hydra_compose(config_name="config", overrides=[f"{group}={option}"])
            composed: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
            out[(group, option)] = composed
    return out


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys of the leaves of a nested mapping (a list or an empty mapping is a leaf)."""
    if isinstance(node, Mapping) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def covering_key(dotted: str, documented: Mapping[str, tuple[Key, Section]]) -> str | None:
    """The documented key that covers a composed key: itself, or a free-form ancestor
    (``model.estimator`` covers ``model.estimator.C``; ``drift.columns.<column>.kind`` covers
    ``drift.columns.price.kind``); None when nothing does."""
    if dotted in documented:
        return dotted
    parts = dotted.split(".")
    if parts[:2] == ["drift", "columns"] and len(parts) > 2:
        # a plain string is the column's kind (``drift.columns.price: skip``)
        generic = ".".join(["drift", "columns", "<column>", *(parts[3:] or ["kind"])])
        if generic in documented:
            return generic
    below = [k for k in documented if k.startswith(f"{dotted}.")]
    if below:  # an empty section (``drift.columns: {}``): its keys are documented
        return below[0]
    for n in range(len(parts) - 1, 0, -1):
        ancestor = ".".join(parts[:n])
        if ancestor in documented and documented[ancestor][0].kind in ("mapping", "any"):
            return ancestor
    return None


# -- rendering --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _value(value: Any) -> str:
    """A value as YAML flow text in a code span (``REQUIRED`` as *required*)."""
    if value is REQUIRED:
        return "*required*"
    value = _plain(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    if isinstance(value, (list, dict)):
        text = _flow(value)
    return f"`{text}`"


def _flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return not isinstance(b, bool) and float(a) == float(b)
    return bool(a == b)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _allowed(spec: Key) -> str:
    expected = spec.expected()
    if spec.nullable:
        expected = expected.replace(" or null", "", 1)
    if spec.kind == "names" and spec.choices:  # a kind's tests: the registered ones
        expected += f" from {list(spec.choices)}"
    return expected


_MISSING = object()


def _shipped(dotted: str, spec: Key, values: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """The shipped options that give ``dotted`` a value other than its default."""
    if "<" in dotted or "[]" in dotted:
        return ""
    parts = dotted.split(".")
    found = []
    for (group, option), cfg in values.items():
        if group != parts[0]:
            continue
        node: Any = cfg
        for part in parts:
            node = node.get(part, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING or (spec.default is not REQUIRED and _same(node, spec.default)):
            continue
        found.append(f"{option}: {_value(node)}")
    return "; ".join(found)


def render(values: Mapping[tuple[str, str], Mapping[str, Any]] | None = None) -> str:
    """The whole of docs/config-reference.md."""
    values = option_values() if values is None else values
    documented = keys()
    by_section: dict[str, list[tuple[str, Key]]] = {}
    for dotted, (spec, section) in documented.items():
        by_section.setdefault(section.prefix, []).append((dotted, spec))
    lines = [
        "<!-- Generated by `python -m driftloop.config_reference --write` from the config tables; do not edit "
        "by hand. -->",
        "# Config reference",
        "",
        "Every key of every config group, generated from the validation tables in the code "
        "(`driftloop.validation.Key`), the one place a default lives. Set a key in `conf/` (then run "
        "`driftloop params`), or for one experiment with `dvc exp run -S KEY=VALUE`. An unknown key, a value "
        "of the wrong kind or out of range is refused, naming the key.",
        "",
        "Columns: **default** is the value when the key is absent (*required*: it must be given); **allowed** "
        "what a value must be; **null** whether `null` is accepted; **shipped** the options in `conf/<group>/` "
        "that set a value other than the default (`option: value`). The `thresholds` of each drift kind are "
        "listed test by test. How the numbers are used, and why the defaults are what they are: "
        "[how-it-decides.md](how-it-decides.md).",
        "",
    ]
    all_sections = sections()
    total = 0
    for group in GROUP_ORDER:
        lines += [f"## `{group}`", ""]
        for section in (s for s in all_sections if s.group == group):
            rows = by_section.get(section.prefix, [])
            if not rows:
                continue
            lines += [
                f"### `{section.prefix}`",
                "",
                f"{'Checked by' if section.note.startswith('No Key table') else 'Table'}: `{section.source}`."
                + (f" {section.note}" if section.note else ""),
                "",
            ]
            lines += ["| key | kind | default | allowed | null | shipped | meaning |", "|---|---|---|---|---|---|---|"]
            for dotted, spec in rows:
                cells = [
                    f"`{dotted}`",
                    spec.kind,
                    _value(spec.default),
                    _allowed(spec),
                    "yes" if spec.nullable else "no",
                    _shipped(dotted, spec, values),
                    spec.doc or "—",
                ]
                lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
                total += 1
            lines.append("")
    undocumented = [k for k, (spec, _) in documented.items() if not spec.doc]
    lines += [
        "## Keys without a doc line",
        "",
        (", ".join(f"`{k}`" for k in undocumented) if undocumented else "None.")
        + f" ({len(undocumented)} of {total} keys.)",
        "",
    ]
    return "\n".join(lines)


def iter_missing(text: str, values: Mapping[tuple[str, str], Mapping[str, Any]]) -> Iterator[str]:
    """Composed keys of the shipped options that no row of ``text`` covers."""
    documented = keys()
    for cfg in values.values():
        for dotted in flatten(cfg):
            key = covering_key(dotted, documented)
            if key is None or f"`{key}`" not in text:
                yield dotted


def main(argv: list[str] | None = None) -> int:
    """Print the page; ``--write`` writes docs/config-reference.md, ``--check`` fails when it is stale."""
    from driftloop.contracts import generated_doc_main

    return generated_doc_main(sys.argv[1:] if argv is None else argv, DOC, render(), COMMAND)


if __name__ == "__main__":
    raise SystemExit(main())
