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

ColumnKind = Literal["numeric", "categorical", "text"]
Task = Literal["classification", "regression"]
KINDS: tuple[ColumnKind, ...] = ("numeric", "categorical", "text")


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
        if self.task not in ("classification", "regression"):
            raise ConfigError(f"data.schema.task must be 'classification' or 'regression'. Got {self.task!r} instead.")
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
        """Build from the ``data.schema`` config mapping."""
        known = {"id", "timestamp", "label", "numeric", "categorical", "text", "task", "classes"}
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError(f"data.schema has unknown key(s) {sorted(unknown)}; expected some of {sorted(known)}.")
        try:
            return cls(
                id=str(cfg["id"]),
                timestamp=str(cfg["timestamp"]),
                label=None if cfg.get("label") in (None, "") else str(cfg["label"]),
                numeric=tuple(cfg.get("numeric") or ()),
                categorical=tuple(cfg.get("categorical") or ()),
                text=tuple(cfg.get("text") or ()),
                task=cfg.get("task", "classification"),
                classes=tuple(str(c) for c in (cfg.get("classes") or ())),
            )
        except KeyError as exc:
            raise ConfigError(f"data.schema is missing the key {exc.args[0]!r}.") from exc

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
