"""The table schema: which column plays which role.

A :class:`Schema` is built once from ``cfg.data.schema`` and handed to every
library function that needs to know column roles, so that no function reads the
whole config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pandas only where a frame is read: a schema alone costs no pandas import
    import numpy as np
    import pandas as pd

from driftloop.errors import ConfigError, DataError
from driftloop.validation import Key, check, check_value, mapping_of

#: Whole numbers up to this size are exact in a float64, so ``1.0`` can be written ``1`` safely.
_EXACT_INT = 2**53


def class_name(value: Any) -> str:
    """The one spelling of a classification label: labels that are equal as values are one class.

    A CSV read with integers in one file and floats in another (or a parquet file and a
    hand-written ``classes`` list) must not make ``1``, ``1.0`` and ``"1"`` three classes.
    Numbers, and text that reads as a number, are written as a whole number when they are one
    and as the shortest float text otherwise; booleans and any other text are kept as they are.

    Examples
    --------
    >>> [class_name(v) for v in (1, 1.0, "1", " 1.0", "1e0", 2.5, "spam", True, "01")]
    ['1', '1', '1', '1', '1', '2.5', 'spam', 'True', '1']
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return str(value)  # "nan"/"inf" as text: kept (a missing label never reaches here)
    if number.is_integer() and abs(number) < _EXACT_INT:
        return str(int(number))
    return repr(number)


ColumnKind = Literal["numeric", "categorical", "text"]
Task = Literal["classification", "regression"]
KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "text")
TASKS: tuple[Task, ...] = ("classification", "regression")

#: ``data.schema``: kind, default and meaning of every key (see :mod:`driftloop.validation`).
#: Two constraints span keys and are checked by :class:`Schema` itself: no column has two
#: kinds, and there is at least one feature column.
SCHEMA: dict[str, Key] = {
    "id": Key("str", doc="the row identifier column"),
    "timestamp": Key("str", doc="the event-time column"),
    "label": Key("str", None, nullable=True, doc="the target column (null or empty: the table carries no labels)"),
    **{kind: Key("names", (), nullable=True, doc=f"{kind} feature columns") for kind in KINDS},
    "task": Key("choice", "classification", choices=TASKS, doc="what the model predicts"),
    "classes": Key("any", (), nullable=True, doc="the label's expected classes (classification; may be empty)"),
}


@dataclass(frozen=True)
class Schema:
    """Column roles of the monitored table.

    Parameters
    ----------
    id, timestamp : str
        Names of the row identifier and the event-time column.
    label : str or None
        Name of the target column (``None`` when the table carries no labels).
    numeric, categorical, text : tuple of str
        Feature columns by kind.
    task : {"classification", "regression"}
    classes : tuple of str
        The label's expected classes (classification only; may be empty).
    """

    id: str
    timestamp: str
    label: str | None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    task: Task = "classification"
    classes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        check_value(self.task, SCHEMA["task"], "data.schema.task")  # also when built in code
        seen: dict[str, str] = {}
        for kind in KINDS:
            for col in getattr(self, kind):
                if col in seen:
                    raise ConfigError(f"data.schema: column {col!r} is listed as both {seen[col]} and {kind}.")
                seen[col] = kind
        if not seen:
            raise ConfigError("data.schema lists no feature columns (numeric, categorical or text).")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Schema:
        """Build from the ``data.schema`` config mapping, checked against :data:`SCHEMA`.

        Raises
        ------
        ConfigError
            Naming an unknown, missing or ill-typed key, what was expected and what was got.
        """
        given = dict(mapping_of(cfg, "data.schema"))
        if given.get("label") == "":
            given["label"] = None  # an empty label names no column
        m = check(given, SCHEMA, "data.schema")
        return cls(
            id=m["id"],
            timestamp=m["timestamp"],
            label=m["label"],
            numeric=tuple(m["numeric"] or ()),
            categorical=tuple(m["categorical"] or ()),
            text=tuple(m["text"] or ()),
            task=m["task"],
            classes=tuple(dict.fromkeys(class_name(c) for c in (m["classes"] or ()))),
        )

    @property
    def features(self) -> tuple[str, ...]:
        """Feature columns in a stable order: numeric, categorical, text."""
        return self.numeric + self.categorical + self.text

    @property
    def kinds(self) -> dict[str, ColumnKind]:
        """Mapping feature column -> kind."""
        out: dict[str, ColumnKind] = {}
        for kind in KINDS:
            for col in getattr(self, kind):
                out[col] = kind
        return out

    @property
    def required(self) -> tuple[str, ...]:
        """Every column a snapshot must carry."""
        cols = (self.id, self.timestamp, *self.features)
        return cols + ((self.label,) if self.label else ())

    def check_columns(self, columns: Any, where: str) -> None:
        """Raise :class:`DataError` naming every required column absent from ``columns``."""
        missing = [c for c in self.required if c not in set(columns)]
        if missing:
            raise DataError(
                f"{where}: missing column(s) {missing}; the schema (conf/data) expects {list(self.required)}."
            )


def labelled_mask(frame: pd.DataFrame, schema: Schema) -> np.ndarray:
    """Boolean mask of rows that carry a label (not null, not an empty string)."""
    import pandas as pd

    label = frame[schema.label]
    mask = label.notna().to_numpy(dtype=bool, copy=True)
    if label.dtype == object or pd.api.types.is_string_dtype(label):
        mask &= label.astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)
    return mask
