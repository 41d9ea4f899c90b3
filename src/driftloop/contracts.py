"""The files one stage hands the next, as typed, versioned records.

Each stage file is a frozen dataclass with ``to_dict`` (what is written, key order included) and
``from_dict`` (what is read). Every file carries a ``format`` number: ``from_dict`` reads the
current format and the previous one (files written before the ``format`` key existed, format 0,
have the same layout), and refuses a newer one with a :class:`~driftloop.errors.DataError` that
names the file and what to do. Readers use these classes instead of ``.get`` chains on dicts.

A leaf module: it imports nothing from driftloop but :mod:`driftloop.errors`, so every part of
the package may read a stage file through it. ``python -m driftloop.contracts`` prints the file
contracts section of ``docs/CONTRACTS.md`` (``--write`` updates it), generated from these classes.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from driftloop.errors import DataError

_EMPTY: Mapping[str, Any] = {}


def _format_of(data: Mapping[str, Any], file: str, current: int, stage: str) -> int:
    """The ``format`` of a stage file; DataError when it is newer than this driftloop reads."""
    if not isinstance(data, Mapping):
        raise DataError(f"{file} is not a JSON object (got {type(data).__name__}): rerun the {stage} stage.")
    fmt = data.get("format", 0)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < 0:
        raise DataError(f"{file} has format {fmt!r}, expected a whole number <= {current}: rerun the {stage} stage.")
    if fmt > current:
        raise DataError(
            f"{file} has format {fmt}, newer than this driftloop reads (format {current}): it was written by a "
            f"newer driftloop. Upgrade driftloop, or rerun the {stage} stage (`dvc repro`) with this one."
        )
    return fmt


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


# -- the snapshot manifest ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChampionEntry:
    """The manifest's ``champion``: the version serving when the cycle started.

    ``alias`` is None only when read from a manifest older than this entry (through the
    reference's lineage): the configured alias then applies.
    """

    name: str
    version: str
    alias: str | None
    uri: str

    @classmethod
    def of(cls, name: str, alias: str | None, version: str | int) -> ChampionEntry:
        return cls(name=name, version=str(version), alias=alias, uri=f"models:/{name}/{version}")

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "alias": self.alias, "version": self.version, "uri": self.uri}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChampionEntry:
        name, version = str(data["name"]), str(data["version"])
        return cls(
            name=name, version=version, alias=data.get("alias"), uri=data.get("uri") or f"models:/{name}/{version}"
        )


@dataclass(frozen=True)
class Manifest:
    """``data/snapshot/manifest.json``: what a cycle started from (written by snapshot).

    Attributes
    ----------
    cycle_run_id : str or None
        The cycle's parent MLflow run.
    created : str or None
        ISO time of the snapshot (UTC, seconds).
    champion : ChampionEntry or None
        The champion compare and promote load by version; None on a first cycle.
    source : mapping
        ``{path, batches, rows, rows_by_window}``: the incoming folder, its batch files and rows.
    schema : mapping
        ``{columns: {col: dtype}, <col>: kind, ...}``.
    reference : mapping
        ``{rows, start, end, source, md5, champion}``: the reference window, its DVC md5 and
        the champion's lineage record (None on a first cycle).
    current : mapping
        ``{rows, start, end, md5}``: the current window.
    skipped, late : mapping
        The rows no window holds (see :func:`driftloop.windows.row_accounting`).
    new_registry : mapping or None
        Set when this cycle started a new registry on purpose although the project's records
        named a champion the registry does not hold (``driftloop new-registry``): what was
        acknowledged, where, by whom and why. None otherwise.
    """

    FILE: ClassVar[str] = "data/snapshot/manifest.json"
    STAGE: ClassVar[str] = "snapshot"
    FORMAT: ClassVar[int] = 1

    cycle_run_id: str | None = None
    created: str | None = None
    champion: ChampionEntry | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    schema: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] = field(default_factory=dict)
    current: Mapping[str, Any] = field(default_factory=dict)
    skipped: Mapping[str, Any] | None = None
    late: Mapping[str, Any] | None = None
    new_registry: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "cycle_run_id": self.cycle_run_id,
            "created": self.created,
            "champion": None if self.champion is None else self.champion.to_dict(),
            "source": dict(self.source),
            "schema": dict(self.schema),
            "reference": dict(self.reference),
            "current": dict(self.current),
            "skipped": self.skipped,
            "late": self.late,
            "new_registry": None if self.new_registry is None else dict(self.new_registry),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Manifest:
        """Read a manifest (format 1, or 0: without ``format``; one from before the top-level
        ``champion`` entry is read through ``reference.champion``).

        Raises
        ------
        DataError
            On a newer format, or a manifest that records no champion entry at all.
        """
        _format_of(data, cls.FILE, cls.FORMAT, cls.STAGE)
        reference = data.get("reference") or {}
        if "champion" in data:
            champion = None if data["champion"] is None else ChampionEntry.from_dict(data["champion"])
        elif isinstance(reference, Mapping) and "champion" in reference:
            lineage = reference["champion"]
            champion = None if not lineage else ChampionEntry.of(str(lineage["model_name"]), None, lineage["version"])
        else:
            raise DataError(
                "the snapshot manifest records no champion (no 'champion' entry): rerun the snapshot stage."
            )
        return cls(
            cycle_run_id=_opt_str(data.get("cycle_run_id")),
            created=_opt_str(data.get("created")),
            champion=champion,
            source=data.get("source") or {},
            schema=data.get("schema") or {},
            reference=reference,
            current=data.get("current") or {},
            skipped=data.get("skipped"),
            late=data.get("late"),
            new_registry=data.get("new_registry"),
        )

    def rows(self, window: str) -> int:
        """Rows of ``window`` (reference, current, source, skipped or late); 0 when not recorded."""
        entry = {"reference": self.reference, "current": self.current, "source": self.source}.get(window)
        if entry is None:
            entry = {"skipped": self.skipped, "late": self.late}[window] or _EMPTY
        return int(entry.get("rows") or 0)

    def md5(self, window: str) -> str | None:
        """The DVC md5 of the ``reference`` or ``current`` window."""
        return _opt_str((self.reference if window == "reference" else self.current).get("md5"))


# -- the training result --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    """``reports/train.json``: whether retrain fitted a challenger, on what, and where it is logged.

    Attributes
    ----------
    trained : bool
    trigger : str
        ``train.trigger`` as evaluated (``on_drift``, ``always``, or a combination such as
        ``any(on_drift, champion_age(days=30))``: :mod:`driftloop.train.trigger`).
    drift_detected, concept_drift_detected : bool
        What the trigger read from drift.json.
    model : str or None
        The model config's name (or estimator target).
    window : mapping or None
        The training window, described (:attr:`driftloop.train.windows.TrainingWindow.description`).
    rows : mapping
        ``{train, validation, holdout}`` row counts.
    training_data_md5, training_data_path, holdout_md5, holdout_path : str
        DVC md5 and path of the training table and the holdout.
    reason : str or None
        Why no challenger was trained, naming the trigger(s) that did not fire (only when
        ``trained`` is false).
    fired_by : str or None
        Which trigger(s) fired, and what each found, when the cycle trains (written only then).
    model_uri, run_id : str or None
        The logged challenger and its retrain run (only when trained).
    classes : list or None
    validation_metrics, train_metrics : mapping or None
        Only when trained.
    training : mapping or None
        What the challenger was fitted on (``train.strategy``, :mod:`driftloop.train.strategy`):
        ``strategy`` (full, sample or incremental), ``rows_window``, ``rows_used`` and, for a
        sample, ``sample_size`` (asked), ``rows_sampled``, ``period``, ``seed`` and ``strata``.
        Only when trained; absent from files written before it (read as None: a full fit).
    """

    FILE: ClassVar[str] = "reports/train.json"
    STAGE: ClassVar[str] = "retrain"
    FORMAT: ClassVar[int] = 1

    trained: bool = False
    trigger: str | None = None
    drift_detected: bool = False
    concept_drift_detected: bool = False
    model: str | None = None
    window: Mapping[str, Any] | None = None
    rows: Mapping[str, int] = field(default_factory=dict)
    training_data_md5: str | None = None
    training_data_path: str | None = None
    holdout_md5: str | None = None
    holdout_path: str | None = None
    reason: str | None = None
    fired_by: str | None = None
    model_uri: str | None = None
    run_id: str | None = None
    classes: tuple[Any, ...] | None = None
    validation_metrics: Mapping[str, Any] | None = None
    train_metrics: Mapping[str, Any] | None = None
    training: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": self.FORMAT,
            "trained": self.trained,
            "trigger": self.trigger,
            "drift_detected": self.drift_detected,
            "concept_drift_detected": self.concept_drift_detected,
            "model": self.model,
            "window": None if self.window is None else dict(self.window),
            "rows": dict(self.rows),
            "training_data_md5": self.training_data_md5,
            "training_data_path": self.training_data_path,
            "holdout_md5": self.holdout_md5,
            "holdout_path": self.holdout_path,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.fired_by is not None:
            out["fired_by"] = self.fired_by
        if self.trained:
            out["model_uri"] = self.model_uri
            out["run_id"] = self.run_id
            out["classes"] = None if self.classes is None else list(self.classes)
            out["validation_metrics"] = None if self.validation_metrics is None else dict(self.validation_metrics)
            out["train_metrics"] = None if self.train_metrics is None else dict(self.train_metrics)
            # An optional key added within format 1: readers of format 1 ignore it, so it needs no bump.
            if self.training is not None:
                out["training"] = dict(self.training)
        return out

    def logged_challenger(self) -> tuple[str, str]:
        """``(model_uri, run_id)`` of the challenger this cycle trained and logged.

        Raises
        ------
        DataError
            The file records no trained challenger, or one without its model URI or run.
        """
        if not self.trained or self.model_uri is None or self.run_id is None:
            raise DataError(
                f"{self.FILE} records no logged challenger (trained={self.trained}, model_uri={self.model_uri!r}, "
                f"run_id={self.run_id!r}): rerun the {self.STAGE} stage."
            )
        return self.model_uri, self.run_id

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainResult:
        """Read train.json (format 1, or 0: without ``format``)."""
        _format_of(data, cls.FILE, cls.FORMAT, cls.STAGE)
        classes = data.get("classes")
        return cls(
            trained=bool(data.get("trained")),
            trigger=_opt_str(data.get("trigger")),
            drift_detected=bool(data.get("drift_detected")),
            concept_drift_detected=bool(data.get("concept_drift_detected")),
            model=_opt_str(data.get("model")),
            window=data.get("window"),
            rows=data.get("rows") or {},
            training_data_md5=_opt_str(data.get("training_data_md5")),
            training_data_path=_opt_str(data.get("training_data_path")),
            holdout_md5=_opt_str(data.get("holdout_md5")),
            holdout_path=_opt_str(data.get("holdout_path")),
            reason=_opt_str(data.get("reason")),
            fired_by=_opt_str(data.get("fired_by")),
            model_uri=_opt_str(data.get("model_uri")),
            run_id=_opt_str(data.get("run_id")),
            classes=None if classes is None else tuple(classes),
            validation_metrics=data.get("validation_metrics"),
            train_metrics=data.get("train_metrics"),
            training=data.get("training"),
        )

    def validation_metric(self, name: str | None) -> float | None:
        """The challenger's ``validation.<name>``; None when not trained or not measured."""
        return None if not name else (self.validation_metrics or _EMPTY).get(name)

    def split_rows(self, split: str) -> int:
        """Rows of ``split`` (train, validation or holdout); 0 when not recorded."""
        return int(self.rows.get(split) or 0)

    def with_fit(self, **fit: Any) -> TrainResult:
        """This record completed by a fit: ``trained`` and the fields only a fit has."""
        return dataclasses.replace(self, trained=True, **fit)


# -- the drift report -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftResult:
    """``reports/drift.json``: :meth:`driftloop.drift.DriftReport.to_dict`, the drifted columns
    and what the champion's reference outputs were measured on.

    Attributes
    ----------
    report : mapping
        ``DriftReport.to_dict()``: ``dataset`` (verdict, ``drifted``, ``share_drifted``, ...),
        ``concept``, ``columns``, ``skipped``, ``late``, ... in the order written.
    drifted_columns : tuple of str
    model_outputs_reference : str or None
    """

    FILE: ClassVar[str] = "reports/drift.json"
    STAGE: ClassVar[str] = "drift"
    FORMAT: ClassVar[int] = 1

    report: Mapping[str, Any] = field(default_factory=dict)
    drifted_columns: tuple[str, ...] = ()
    model_outputs_reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            **self.report,
            "drifted_columns": list(self.drifted_columns),
            "model_outputs_reference": self.model_outputs_reference,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftResult:
        """Read drift.json (format 1, or 0: without ``format``)."""
        _format_of(data, cls.FILE, cls.FORMAT, cls.STAGE)
        own = ("format", "drifted_columns", "model_outputs_reference")
        return cls(
            report={k: v for k, v in data.items() if k not in own},
            drifted_columns=tuple(data.get("drifted_columns") or ()),
            model_outputs_reference=_opt_str(data.get("model_outputs_reference")),
        )

    @property
    def dataset(self) -> Mapping[str, Any]:
        return self.report.get("dataset") or _EMPTY

    @property
    def drifted(self) -> bool:
        """The dataset verdict (any column drifted, or the domain classifier rejected)."""
        return bool(self.dataset.get("drifted"))

    @property
    def share_drifted(self) -> float | None:
        return self.dataset.get("share_drifted")

    @property
    def verdict(self) -> str | None:
        return self.dataset.get("verdict")

    @property
    def concept_drifted(self) -> bool:
        """Concept drift where labels measure it (the champion's own metric fell on current)."""
        return bool((self.report.get("concept") or _EMPTY).get("drifted"))

    @property
    def columns(self) -> Mapping[str, Mapping[str, Any]]:
        return self.report.get("columns") or _EMPTY


# -- the comparison -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricEntry:
    """One ``metrics.<name>`` entry of compare.json, as read: both models' values on the holdout,
    the paired delta (``challenger - champion``) with its interval, each model's bootstrap standard
    error, the test where one applies, and the metric's direction. A key the file does not hold
    reads as None. Read-only: compare.json is written from the compare package's own result, and
    :class:`CompareResult` keeps the entries as written (its JSON is unchanged by reading it).
    """

    champion: float | None = None
    challenger: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    challenger_se: float | None = None
    champion_se: float | None = None
    p_value: float | None = None
    test: str | None = None
    greater_is_better: bool | None = None
    ci_method: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricEntry:
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{k: data.get(k) for k in names})

    def value(self, model: str) -> float | None:
        """The ``champion`` or ``challenger`` value."""
        if model not in ("champion", "challenger"):
            raise ValueError(f"model must be 'champion' or 'challenger'. Got {model!r} instead.")
        return self.champion if model == "champion" else self.challenger


@dataclass(frozen=True)
class CompareResult:
    """``reports/compare.json``: evidence only, no verdict (promote alone decides).

    Attributes
    ----------
    challenger_trained : bool
    reason : str or None
        Why there is no comparison (only when ``challenger_trained`` is false).
    evidence : mapping
        ``ComparisonResult.to_dict()``: ``task``, ``confidence``, ``n_holdout``,
        ``metrics.<name>.{champion, challenger, delta, ci_low, ci_high, challenger_se, champion_se,
        [p_value, test,] greater_is_better, ci_method}`` (read typed as :class:`MetricEntry` through
        ``metrics`` / ``metric(name)``), ``slices``, ``bootstrap_keys``, ``disagreement_rate`` or
        ``error_correlation``, in the order written.
    challenger_uri, champion_uri : str or None
        The two models scored, by pinned URI.
    champion_version : str or None
        The manifest's champion (None on a first cycle).
    """

    FILE: ClassVar[str] = "reports/compare.json"
    STAGE: ClassVar[str] = "compare"
    FORMAT: ClassVar[int] = 1

    challenger_trained: bool = False
    reason: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    challenger_uri: str | None = None
    champion_uri: str | None = None
    champion_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if not self.challenger_trained:
            return {"format": self.FORMAT, "challenger_trained": False, "reason": self.reason, "metrics": {}}
        return {
            "format": self.FORMAT,
            **self.evidence,
            "challenger_trained": True,
            "challenger_uri": self.challenger_uri,
            "champion_uri": self.champion_uri,
            "champion_version": self.champion_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompareResult:
        """Read compare.json (format 1, or 0: without ``format``)."""
        _format_of(data, cls.FILE, cls.FORMAT, cls.STAGE)
        own = ("format", "challenger_trained", "reason", "challenger_uri", "champion_uri", "champion_version")
        trained = bool(data.get("challenger_trained"))
        return cls(
            challenger_trained=trained,
            reason=_opt_str(data.get("reason")),
            evidence={k: v for k, v in data.items() if k not in own} if trained else {},
            challenger_uri=_opt_str(data.get("challenger_uri")),
            champion_uri=_opt_str(data.get("champion_uri")),
            champion_version=_opt_str(data.get("champion_version")),
        )

    @property
    def task(self) -> str | None:
        return self.evidence.get("task")

    @property
    def n_holdout(self) -> int | None:
        return self.evidence.get("n_holdout")

    @property
    def metrics(self) -> Mapping[str, MetricEntry]:
        """``metrics``, each entry typed (an entry that is not a mapping is left out)."""
        raw = self.evidence.get("metrics") or _EMPTY
        return {name: MetricEntry.from_dict(e) for name, e in raw.items() if isinstance(e, Mapping)}

    def metric(self, name: str | None) -> MetricEntry:
        """``metrics.<name>`` (every field None when absent)."""
        return (self.metrics.get(name) or MetricEntry()) if name else MetricEntry()

    def gate_view(self) -> dict[str, Any]:
        """The comparison as the pure gates read it (``driftloop.promote`` takes plain mappings)."""
        return {**self.to_dict(), "metrics": dict(self.evidence.get("metrics") or _EMPTY)}


# -- the promotion decision -----------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """One recorded gate or drift-resolution check: its name, verdict, a sentence saying why, its
    mode, the reason for that mode, and the numbers behind it (an entry of decision.json's ``gates``).

    ``mode`` is ``enforce`` (a failure rejects the challenger), ``advisory`` (reported, never
    blocks) or ``off`` (recorded as skipped, with the reason).
    """

    name: str
    passed: bool
    detail: str
    mode: str = "enforce"
    reason: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        """True when a failure of this gate rejects the challenger."""
        return self.mode == "enforce"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form ``{"name", "passed", "detail", "mode", "reason", "evidence"}``."""
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "mode": self.mode,
            "reason": self.reason,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Gate:
        """Inverse of :meth:`to_dict` (a gate recorded before modes existed is enforced)."""
        return cls(
            name=str(data["name"]),
            passed=bool(data["passed"]),
            detail=str(data.get("detail", "")),
            mode=str(data.get("mode") or "enforce"),
            reason=_opt_str(data.get("reason")),
            evidence=dict(data.get("evidence") or {}),
        )


@dataclass(frozen=True)
class DecisionRecord:
    """``reports/decision.json``: whether promote moved the champion alias, and why.

    ``version``, ``run_id`` and ``registry`` (or ``previous_version``) are also the project's own
    record of what serves: the next snapshot refuses a registry that does not hold it
    (:mod:`driftloop.promote.lost_registry`).

    Attributes
    ----------
    promoted : bool
        True when the champion alias now points at the challenger.
    first_cycle : bool
        No champion: only absolute thresholds applied.
    model_name : str or None
        The registered model (None only in a record read from the registry's last-decision tag).
    version : str or None
        The challenger's registered version (None: not registered, or no registry step).
    previous_version : str or None
        The champion before this promotion; for a rejection, the one that keeps serving.
    gates : tuple of Gate
        ``[{name, passed, detail, mode, reason, evidence}]``, every gate evaluated, in order.
    summary : str
        One or two sentences: the verdict and the failing gates (or the evidence for promotion).
    run_id : str or None
        The MLflow run ``version`` was registered from (None when nothing was registered).
    registry : str or None
        The registry URI the decision was made against, credentials masked.
    new_registry : mapping or None
        The manifest's ``new_registry``: this cycle started a new registry on purpose.
    """

    FILE: ClassVar[str] = "reports/decision.json"
    STAGE: ClassVar[str] = "promote"
    FORMAT: ClassVar[int] = 1

    promoted: bool = False
    first_cycle: bool = False
    model_name: str | None = None
    version: str | None = None
    previous_version: str | None = None
    gates: tuple[Gate, ...] = ()
    summary: str = ""
    run_id: str | None = None
    registry: str | None = None
    new_registry: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.FORMAT,
            "promoted": self.promoted,
            "first_cycle": self.first_cycle,
            "model_name": self.model_name,
            "version": self.version,
            "previous_version": self.previous_version,
            "gates": [g.to_dict() for g in self.gates],
            "summary": self.summary,
            "run_id": self.run_id,
            "registry": self.registry,
            "new_registry": None if self.new_registry is None else dict(self.new_registry),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionRecord:
        """Read decision.json (format 1, or 0: without ``format``). Keys it does not hold are
        ignored, so the registry's last-decision record (which adds ``run_id``) reads too."""
        _format_of(data, cls.FILE, cls.FORMAT, cls.STAGE)
        return cls(
            promoted=bool(data.get("promoted")),
            first_cycle=bool(data.get("first_cycle")),
            model_name=_opt_str(data.get("model_name")),
            version=_opt_str(data.get("version")),
            previous_version=_opt_str(data.get("previous_version")),
            gates=tuple(Gate.from_dict(g) for g in data.get("gates") or ()),
            summary=str(data.get("summary") or ""),
            run_id=_opt_str(data.get("run_id")),
            registry=_opt_str(data.get("registry")),
            new_registry=data.get("new_registry"),
        )

    @property
    def failed(self) -> tuple[Gate, ...]:
        """The enforced gates that failed (the reasons for a rejection)."""
        return tuple(g for g in self.gates if not g.passed and g.blocking)


CONTRACTS: tuple[type, ...] = (Manifest, TrainResult, DriftResult, CompareResult, DecisionRecord)


# -- docs/CONTRACTS.md ----------------------------------------------------------------------------

DOC = Path(__file__).resolve().parents[2] / "docs" / "CONTRACTS.md"
BEGIN = "<!-- BEGIN generated by `python -m driftloop.contracts --write`; do not edit by hand -->"
END = "<!-- END generated -->"


def _attributes(cls: type) -> list[str]:
    """The numpydoc ``Attributes`` section of ``cls``, as written."""
    lines = (cls.__doc__ or "").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Attributes") + 2
    except StopIteration:
        return []
    return [line[4:] if line.startswith("    ") else line.strip() for line in lines[start:] if line.strip()]


def contracts_markdown() -> str:
    """The generated stage-file section of docs/CONTRACTS.md."""
    out = [BEGIN, "## Stage files (generated from `driftloop.contracts`)", ""]
    for cls in CONTRACTS:
        summary = (cls.__doc__ or "").strip().splitlines()[0]
        fields = ", ".join(f"`{f.name}`" for f in dataclasses.fields(cls))
        out += [
            f"### `{cls.FILE}` — `driftloop.contracts.{cls.__name__}`, format {cls.FORMAT}",  # type: ignore[attr-defined]
            "",
            summary,
            "",
            f"Written by the {cls.STAGE} stage. Fields: {fields}.",  # type: ignore[attr-defined]
            "",
            "```",
            *_attributes(cls),
            "```",
            "",
        ]
    out.append(END)
    return "\n".join(out) + "\n"


def render_doc(text: str) -> str:
    """``text`` (docs/CONTRACTS.md) with its generated section replaced (appended when missing)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        return head + contracts_markdown() + (("\n" + tail) if tail else "")
    return text.rstrip("\n") + "\n\n" + contracts_markdown()


def generated_doc_main(args: list[str], doc: Path, wanted: str, command: str, shown: str | None = None) -> int:
    """The entry point of a page generated from code: ``--check`` exits 1 naming ``command`` when
    ``doc`` is not ``wanted``, ``--write`` writes it, and no flag prints ``shown`` (default ``wanted``).
    Also :mod:`driftloop.config_reference`'s."""
    if "--check" in args:
        current = doc.read_text(encoding="utf-8") if doc.is_file() else ""
        if current != wanted:
            print(f"{doc} is stale: run `{command}`.", file=sys.stderr)
            return 1
        return 0
    if "--write" in args:
        doc.write_text(wanted, encoding="utf-8")
        return 0
    sys.stdout.write(wanted if shown is None else shown)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the generated section; ``--write`` updates docs/CONTRACTS.md, ``--check`` fails when stale."""
    args = sys.argv[1:] if argv is None else argv
    wanted = render_doc(DOC.read_text(encoding="utf-8"))
    return generated_doc_main(args, DOC, wanted, "python -m driftloop.contracts --write", contracts_markdown())


if __name__ == "__main__":
    raise SystemExit(main())
