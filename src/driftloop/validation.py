"""Config constraints written once, as data, and the one function that checks them.

Each config section is a table ``{key: Key(...)}``: what kind of value a key takes, its range
or choices, its default and a line of documentation. :func:`check` validates a mapping
against such a table -- unknown keys, types, ranges, choices -- and fills in the defaults, so
the config classes (``DriftConfig``, ``CompareConfig``, ``PromoteConfig``, ``WindowConfig``,
the model group) hold no hand-written validators and no second copy of a default.

Every message names the full key, what was expected and what was got::

    drift.alpha must be a number > 0.0 and < 1.0. Got 1.5 instead.

The tables are the single source of the defaults: a dataclass field default reads its
table's ``default``, and the shipped ``conf/`` options are checked against them by the tests
(``tests/test_config_groups.py``).

This module imports nothing from driftloop but :mod:`driftloop.errors`, so every package
(``drift``, ``promote`` ...) can use it without depending on another.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import ConfigError

__all__ = [
    "REQUIRED",
    "Key",
    "check",
    "check_keys",
    "check_value",
    "defaults",
    "join",
    "mapping_of",
    "refuse_renamed",
]


class _Required:
    """Marker of a key without a default (it must be given)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

#: The kinds a :class:`Key` can take, and how an expectation reads in a message.
KINDS = ("number", "integer", "bool", "str", "path", "choice", "names", "regex", "int_pair", "mapping", "any")


@dataclass(frozen=True)
class Key:
    """The constraint, default and documentation of one config key.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`: ``number`` (int or float, never bool), ``integer`` (a whole
        number, given as int or float), ``bool``, ``str`` (non-empty), ``choice`` (one of
        ``choices``), ``path`` (a non-empty string naming a file or folder; whether it stays inside
        the project is :func:`driftloop.paths.refuse_paths_outside`'s check, which needs the
        project root), ``names`` (a list of strings), ``regex`` (a string that compiles),
        ``int_pair`` (``[a, b]`` integers with ``low <= a <= b``), ``mapping`` (checked by its
        owner, usually with another table) or ``any``.
    default : object
        The value when the key is absent; :data:`REQUIRED` when it must be given.
    low, high : float, optional
        Bounds of a number or integer (of both items of an ``int_pair``, ``low`` only).
    low_open, high_open : bool
        Exclude the bound itself.
    choices : tuple
        The allowed values of a ``choice``.
    nullable : bool
        ``null`` is allowed (and kept as None).
    why : str
        Said after the expectation, in parentheses (why the range is what it is).
    doc : str
        What the key does, one line.
    """

    kind: str
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    nullable: bool = False
    why: str = ""
    doc: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Key.kind must be one of {list(KINDS)}. Got {self.kind!r} instead.")

    def expected(self) -> str:
        """What a value must be, as a message says it: ``a number > 0.0 and <= 1.0 or null``."""
        if self.kind in ("number", "integer"):
            text = ("an integer" if self.kind == "integer" else "a number") + self._bounds()
        elif self.kind == "int_pair":
            lo = 1 if self.low is None else self.low
            text = f"[min, max] with {lo} <= min <= max"
        else:
            text = {
                "bool": "true or false",
                "str": "a non-empty string",
                "path": "a non-empty path",
                "names": "a list of names",
                "regex": "a regular expression",
                "mapping": "a mapping",
                "any": "a value",
                "choice": f"one of {list(self.choices)}",
            }[self.kind]
        if self.nullable:
            text += " or null"
        return text + (f" ({self.why})" if self.why else "")

    def _bounds(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low!r}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high!r}")
        return (" " + " and ".join(parts)) if parts else ""

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` meets this constraint (see :meth:`convert` for the value kept)."""
        if value is None:
            return self.nullable
        kind = self.kind
        if kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
                return False
            if kind == "integer" and not float(value).is_integer():
                return False
            return self._in_range(value)
        if kind == "bool":
            return isinstance(value, bool)
        if kind in ("str", "path"):
            return isinstance(value, str) and bool(value)
        if kind == "choice":
            return isinstance(value, (str, int, float)) and not isinstance(value, bool) and value in self.choices
        if kind == "names":
            return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        if kind == "regex":
            if not isinstance(value, str) or not value:
                return False
            try:
                re.compile(value)
            except re.error:
                return False
            return True
        if kind == "int_pair":
            lo = 1 if self.low is None else self.low
            return (
                isinstance(value, (list, tuple))
                and len(value) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= lo for v in value)
                and value[0] <= value[1]
            )
        if kind == "mapping":
            return isinstance(value, Mapping)
        return True

    def _in_range(self, value: float) -> bool:
        lo_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        hi_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return lo_ok and hi_ok

    def convert(self, value: Any) -> Any:
        """The value kept for an accepted ``value``: ints for integers, floats for numbers,
        tuples for lists."""
        if value is None:
            return None
        if self.kind == "integer":
            return int(value)
        if self.kind == "number":
            return float(value)
        if self.kind in ("names", "int_pair"):
            return tuple(value) if self.kind == "int_pair" else tuple(str(v) for v in value)
        return value


def join(where: str, key: Any) -> str:
    """The full dotted name of ``key`` inside ``where`` (``where`` may be empty)."""
    return f"{where}.{key}" if where else str(key)


def check_value(value: Any, spec: Key, name: str) -> Any:
    """Check one value against its :class:`Key`; return the converted value.

    Raises
    ------
    ConfigError
        ``<name> must be <expected>. Got <value> instead.``

    Examples
    --------
    >>> check_value(3, Key("integer", low=1), "drift.min_rows")
    3
    >>> check_value(0, Key("integer", low=1), "drift.min_rows")
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: drift.min_rows must be an integer >= 1. Got 0 instead.
    """
    if not spec.accepts(value):
        raise ConfigError(f"{name} must be {spec.expected()}. Got {value!r} instead.")
    return spec.convert(value)


def mapping_of(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a mapping (None is empty; an OmegaConf ``DictConfig`` becomes plain containers)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) and hasattr(value, "_metadata") and hasattr(value, "keys"):
        from omegaconf import OmegaConf  # only when handed a DictConfig

        value = OmegaConf.to_container(value, resolve=True)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where or 'the config'} must be a mapping. Got {value!r} instead.")
    return value


def check_keys(mapping: Any, known: Iterable[str], where: str) -> Mapping[str, Any]:
    """``mapping`` (see :func:`mapping_of`) if every key is in ``known``, else raise naming each unknown key.

    Examples
    --------
    >>> check_keys({"windw": 3}, ["window_days"], "train")
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: train has unknown key(s) ['train.windw']; expected some of ['window_days'].
    """
    mapping = mapping_of(mapping, where)
    known = list(known)
    unknown = sorted((k for k in mapping if k not in known), key=str)
    if unknown:
        raise ConfigError(
            f"{where or 'the config'} has unknown key(s) {[join(where, k) for k in unknown]}; "
            f"expected some of {sorted(known)}."
        )
    return mapping


def check(mapping: Any, table: Mapping[str, Key], where: str, *, fill: bool = True) -> dict[str, Any]:
    """Validate ``mapping`` against ``table``: unknown keys, types, ranges and choices.

    Parameters
    ----------
    mapping : mapping, DictConfig or None
    table : mapping of str -> Key
    where : str
        The dotted name of ``mapping`` (``"drift.numeric"``), used in every message.
    fill : bool
        Add the default of every absent key (a key without one is then required).

    Returns
    -------
    dict
        The checked, converted values (``mapping``-kind values as given, for their owner to check).

    Raises
    ------
    ConfigError
        Naming the full key, what was expected and what was got.

    Examples
    --------
    >>> table = {"alpha": Key("number", 0.05, low=0.0, high=1.0, low_open=True, high_open=True)}
    >>> check({}, table, "drift")
    {'alpha': 0.05}
    >>> check({"alpha": 1.5}, table, "drift")
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: drift.alpha must be a number > 0.0 and < 1.0. Got 1.5 instead.
    """
    mapping = check_keys(mapping, table, where)
    out: dict[str, Any] = {}
    for key, spec in table.items():
        if key in mapping:
            out[key] = check_value(mapping[key], spec, join(where, key))
        elif fill:
            if spec.default is REQUIRED:
                raise ConfigError(f"{join(where, key)} is required: {spec.expected()}.")
            out[key] = spec.default
    return out


def defaults(table: Mapping[str, Key]) -> dict[str, Any]:
    """The default of every key of ``table`` that has one."""
    return {k: spec.default for k, spec in table.items() if spec.default is not REQUIRED}


def refuse_renamed(mapping: Mapping[str, Any], where: str, renamed: Mapping[str, str]) -> None:
    """Raise naming the new key for each key of an earlier version found in ``mapping``.

    ``renamed`` maps a full dotted old key (``promote.model_name``) to what replaced it.

    Examples
    --------
    >>> refuse_renamed({"model_name": "m"}, "promote", {"promote.model_name": "registry.model_name"})
    Traceback (most recent call last):
    ...
    driftloop.errors.ConfigError: promote has key(s) ['promote.model_name'] from an earlier driftloop: \
promote.model_name is now registry.model_name. Edit conf/ accordingly, then run `driftloop params`.
    """
    old = [f"{where}.{k}" for k in mapping if f"{where}.{k}" in renamed]
    if old:
        lines = "; ".join(f"{k} is now {renamed[k]}" for k in old)
        raise ConfigError(
            f"{where} has key(s) {old} from an earlier driftloop: {lines}. "
            "Edit conf/ accordingly, then run `driftloop params`."
        )
