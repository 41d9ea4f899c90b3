"""The windows of a cycle: the reference, the current window, and where every other incoming row went.

* **Reference** is the data the current champion was trained on (found through the
  registry's lineage tags, see :func:`driftloop.champion.champion_training_data`). On the
  first cycle (no champion) it is the first ``initial_reference_days`` of data.
* **Current** is what arrived after the reference ends, at most the newest
  ``current_max_days`` (``null``: all of it).
* Every other incoming row is counted: **skipped** (newer than the reference, older than
  current), **late** (dated inside the reference, not in it) and **older** (before the
  reference starts), so the windows always add up to the source.

Pure functions of the incoming table; the snapshot stage writes what they return.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from driftloop.batches import window_summary
from driftloop.config import reject_unknown
from driftloop.errors import ConfigError, DataError
from driftloop.ids import member_of
from driftloop.schema import Schema


@dataclass(frozen=True)
class Windows:
    """The windows of one cycle, and where every other incoming row went.

    Every row of the incoming data is in exactly one of: the reference (``n_in_reference``),
    ``current``, ``skipped``, ``late`` or ``n_older``.

    Attributes
    ----------
    reference, current : pandas.DataFrame
    reference_source : str
    skipped : pandas.DataFrame
        Rows newer than the reference but older than ``current_start``: the cap
        ``current_max_days`` left them out, so this cycle neither tests nor trains on them.
    late : pandas.DataFrame
        Rows dated inside the reference's time range whose id is not in it: late arrivals
        (or rows the champion's training left out, e.g. unlabelled). Always empty on a first cycle.
    n_older : int
        Rows dated before the reference starts and not in it (history older than the champion's
        training window).
    n_in_reference : int
        Incoming rows that are in the reference.
    current_start : pandas.Timestamp or None
        Start of the capped current window; ``None`` when ``current_max_days`` is ``None``.
    """

    reference: pd.DataFrame
    current: pd.DataFrame
    reference_source: str
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)
    late: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_older: int = 0
    n_in_reference: int = 0
    current_start: pd.Timestamp | None = None


def select_windows(
    data: pd.DataFrame,
    schema: Schema,
    *,
    initial_reference_days: float,
    current_max_days: float | None,
    champion_reference: pd.DataFrame | None = None,
    champion_label: str = "",
) -> Windows:
    """Pure window selection (see the module docstring).

    Parameters
    ----------
    data : pandas.DataFrame
        Every incoming row (timestamps already parsed).
    schema : Schema
    initial_reference_days : float
        First cycle only: the reference is the first this many whole days.
    current_max_days : float or None
        Current keeps the newest this many whole days of the rows newer than the reference; the
        older ones are returned as ``skipped``. ``None``: every row newer than the reference.
    champion_reference : pandas.DataFrame, optional
        The champion's training data; ``None`` on a first cycle.
    champion_label : str
        How to name the champion in ``reference_source``.

    Returns
    -------
    Windows

    Raises
    ------
    DataError
        When no row is newer than the reference, or the current window would be empty.

    Examples
    --------
    Sixty daily rows: the first 21 days are the reference, the newest 28 current, 11 in between skipped.

    >>> import pandas as pd
    >>> from driftloop.schema import Schema
    >>> schema = Schema("id", "ts", "y", numeric=("x",))
    >>> data = pd.DataFrame({"id": range(60), "ts": pd.date_range("2026-01-01", periods=60, freq="D"),
    ...                      "x": range(60), "y": ["a", "b"] * 30})
    >>> w = select_windows(data, schema, initial_reference_days=21, current_max_days=28)
    >>> len(w.reference), len(w.current), len(w.skipped)
    (21, 28, 11)
    >>> len(w.current) + len(w.skipped) + len(w.late) + w.n_older + w.n_in_reference == len(data)
    True
    """
    ts = schema.timestamp
    if champion_reference is not None:
        reference = champion_reference
        source = f"training data of {champion_label}"
    else:
        # Whole days: windows start at midnight, so a batch is never split by its first row's time.
        cutoff = data[ts].min().normalize() + pd.Timedelta(days=initial_reference_days)
        reference = data[data[ts] < cutoff]
        source = f"initial window: the first {initial_reference_days:g} days of data"
    ref_start, ref_end = reference[ts].min(), reference[ts].max()
    is_newer = data[ts] > ref_end
    newer = data[is_newer]
    if newer.empty:
        raise DataError(
            f"no data newer than the reference (which ends {ref_end}); add batches to data.source.path and rerun."
        )
    if current_max_days is None:
        current_start = None
        in_current = is_newer
    else:
        end_of_last_day = newer[ts].max().normalize() + pd.Timedelta(days=1)
        current_start = end_of_last_day - pd.Timedelta(days=current_max_days)
        in_current = is_newer & (data[ts] >= current_start)
    if not in_current.any():
        raise DataError(
            f"the current window is empty: data.windows.current_max_days ({current_max_days:g}) keeps no row "
            f"of the {len(newer)} newer than the reference; raise it (at least 1 day)."
        )
    older_than_ref = ~is_newer
    # On a first cycle the reference is exactly the rows up to its end; a champion's is found by id.
    if champion_reference is None:
        in_reference = older_than_ref
    else:
        in_reference = older_than_ref & member_of(data[schema.id], reference[schema.id])
    not_in_reference = older_than_ref & ~in_reference
    late = not_in_reference & (data[ts] >= ref_start)
    return Windows(
        reference=reference.reset_index(drop=True),
        current=data[in_current].reset_index(drop=True),
        reference_source=source,
        skipped=data[is_newer & ~in_current].reset_index(drop=True),
        late=data[late].reset_index(drop=True),
        n_older=int((not_in_reference & ~late).sum()),
        n_in_reference=int(in_reference.sum()),
        current_start=current_start,
    )


def row_accounting(windows: Windows, schema: Schema, current_max_days: float | None) -> dict[str, Any]:
    """The manifest's record of the rows no window of this cycle holds, and a tally that adds up.

    Returns
    -------
    dict
        ``skipped`` and ``late`` (rows, time range, reason; ``late`` also its unlabelled rows)
        and ``rows`` (incoming rows per window: ``reference``, ``current``, ``skipped``,
        ``late``, ``older``; they sum to the incoming rows).
    """
    ref_ts = windows.reference[schema.timestamp]
    ref_range = f"{ref_ts.min().isoformat()} to {ref_ts.max().isoformat()}" if len(ref_ts) else "empty"
    skipped = {**window_summary(windows.skipped, schema), "reason": None}
    if len(windows.skipped) and windows.current_start is not None:  # only a cap (which sets the start) skips rows
        skipped["reason"] = (
            f"Newer than the reference (which ends {ref_ts.max().isoformat()}) but older than the current window, "
            f"which data.windows.current_max_days ({current_max_days:g}) starts at "
            f"{windows.current_start.isoformat()}: not tested for drift and not in the training pool this cycle. "
            "Set current_max_days to null for a current window of every row newer than the reference."
        )
    late = {**window_summary(windows.late, schema), "unlabelled": None, "reason": None}
    if schema.label is not None and len(windows.late):
        from driftloop.schema import labelled_mask

        late["unlabelled"] = int((~labelled_mask(windows.late, schema)).sum())
    if len(windows.late):
        late["reason"] = (
            f"Dated inside the reference ({ref_range}) but not in it by id: late arrivals after the champion "
            "was trained, or rows its training left out (unlabelled ones). No cycle tests them: every current "
            "window starts after the reference ends."
        )
    rows = {
        "reference": windows.n_in_reference,
        "current": len(windows.current),
        "skipped": len(windows.skipped),
        "late": len(windows.late),
        "older": windows.n_older,
    }
    return {"skipped": skipped, "late": late, "rows": rows}


@overload
def _days(cfg: Mapping[str, Any], key: str, default: float, *, nullable: Literal[False] = False) -> float: ...
@overload
def _days(cfg: Mapping[str, Any], key: str, default: float, *, nullable: Literal[True]) -> float | None: ...
def _days(cfg: Mapping[str, Any], key: str, default: float, *, nullable: bool = False) -> float | None:
    value = cfg.get(key, default)
    if value is None and nullable:
        return None
    try:
        days = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        days = math.nan
    if not days > 0 or math.isinf(days):
        also = " (or null: every row newer than the reference)" if nullable else ""
        raise ConfigError(f"data.windows.{key} must be a number of days > 0{also}. Got {value!r} instead.")
    return days


WINDOW_KEYS = {"initial_reference_days", "current_max_days", "max_future_days"}


def windows_config(cfg: Mapping[str, Any]) -> tuple[float, float | None]:
    """``data.windows`` as ``(initial_reference_days, current_max_days)``; ConfigError naming a bad key or value."""
    reject_unknown(cfg, WINDOW_KEYS, "data.windows")
    return (_days(cfg, "initial_reference_days", 21), _days(cfg, "current_max_days", 28, nullable=True))


def max_future_days(cfg: Mapping[str, Any]) -> float | None:
    """``data.windows.max_future_days`` (default 1): how far past the wall clock a row may be dated
    (clock skew, time zones); ``null`` turns the check off."""
    reject_unknown(cfg, WINDOW_KEYS, "data.windows")
    return _days(cfg, "max_future_days", 1, nullable=True)


def check_not_future(
    data: pd.DataFrame,
    schema: Schema,
    files: list[Any],
    source: Any,
    max_days: float | None,
    now: pd.Timestamp | None = None,
) -> None:
    """Refuse rows dated more than ``max_days`` after ``now`` (UTC, naive like the data): one such row
    would make the newest days, hence the whole current window, a date no data has reached.

    ``source`` gives, for each row of ``data``, its index in ``files``.

    Raises
    ------
    DataError
        Naming the first such file, its id and timestamp, the limit and the key.
    """
    if max_days is None or data.empty:
        return
    now = now if now is not None else pd.Timestamp.now(tz="UTC").tz_convert(None)
    limit = now + pd.Timedelta(days=max_days)
    ahead = (data[schema.timestamp] > limit).to_numpy()
    if not ahead.any():
        return
    first = int(ahead.argmax())
    row = data.iloc[first]
    in_file = int(((source == source[first]) & ahead).sum())
    raise DataError(
        f"batch {files[int(source[first])]}: row with {schema.id} {row[schema.id]!r} is dated "
        f"{row[schema.timestamp].isoformat()} in column {schema.timestamp!r}, after {limit.isoformat()} "
        f"(now + data.windows.max_future_days = {max_days:g}); {in_file} row(s) of this file and "
        f"{int(ahead.sum())} in all are dated in the future. Expected event times up to now: fix the "
        "timestamps, or raise data.windows.max_future_days (null: no check)."
    )


def late_batch_warnings(
    windows: Windows, data: pd.DataFrame, schema: Schema, files: list[Any], source: Any
) -> list[str]:
    """One line per batch file whose every row is ``late`` (dated inside the reference, not in it):
    a whole batch that no cycle tests or trains on.

    ``source`` gives, for each row of ``data``, its index in ``files``.
    """
    if windows.late.empty:
        return []

    is_late = member_of(data[schema.id], windows.late[schema.id])
    per_file = np.bincount(source, minlength=len(files))
    late_per_file = np.bincount(source[is_late], minlength=len(files))
    ref_ts = windows.reference[schema.timestamp]
    return [
        f"batch {files[i]}: all {int(per_file[i])} rows are dated inside the reference "
        f"({windows.reference_source}, {ref_ts.min().isoformat()} to {ref_ts.max().isoformat()}) but are not "
        "in it: counted as `late` in the manifest; no cycle tests or trains on them (every current window "
        "starts after the reference ends)."
        for i in np.flatnonzero((late_per_file == per_file) & (per_file > 0))
    ]
