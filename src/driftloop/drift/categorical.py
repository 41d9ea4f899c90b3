"""Categorical and id-like columns: level counts, a pooled contingency chi-squared, PSI, JS, unseen levels.

* Values are compared as strings (``1`` and ``"1"`` are the same level); missing values (None, NaN,
  pd.NA) are counted apart and tested by the missing-rate test.
* **The pooled table** (chi2, PSI, JS): a 2 x k contingency table over the union of reference and
  current levels in which a level keeps its own cell only when its expected count under "no drift"
  is at least ``min_expected`` (5) on the smaller side, i.e. ``(r + c) * min(n_ref, n_cur) / n >=
  min_expected``, and at most ``max_categories`` levels do (those with the largest ``r + c``; levels
  tied at the cut all go). Every other level, seen in the reference or not, goes into one
  ``"__other__"`` cell on *both* sides. The rule reads only the table's margins (the level totals
  ``r + c``), which the contingency test conditions on, so the pooled test keeps its level at any
  number of levels: 500 equally likely levels at n = 1,000 or 2,000 levels at n = 2,000..200,000
  are no longer flagged when nothing changed. A rule on the reference counts alone would not: it
  keeps the levels that were lucky in the reference (winner's curse), whose current counts then
  look low: an unchanged 2,000-level Zipf column at n = 1,000 was flagged in 57 of 60 runs that way
  (tests/drift/test_categorical_levels.py).
* The chi-squared statistic reported for thresholding is **Cramer's V** = sqrt(chi2 / n) (2 rows),
  an effect size in [0, 1]; the raw chi2, dof and p-value are in the details. The p-value equals
  ``scipy.stats.chi2_contingency(pooled_table, correction=False)``'s (no Yates correction).
* **PSI and JS** are computed on the same pooled table, so no cell is a handful of counts: PSI with
  the 0.5-count Jeffreys pseudocount per cell and side (``divergence.PSI_PSEUDOCOUNT``), JS (base 2)
  without smoothing (it is finite with empty cells). Both are effect sizes gated by chi2's p-value;
  under "no drift" they still carry a small-sample bias over k cells: PSI about
  ``(k - 1) (1/n_ref + 1/n_cur)``, the squared JS distance that over ``8 ln 2`` (0.10 and 0.13 at
  51 cells and n = 1,000 a side), which is why they decide only together with chi2's p-value.
* **Unseen levels** are their own effect (test ``unseen``, :mod:`driftloop.drift.unseen`): the share
  of current values in levels the reference never had, against the reference's Good-Turing
  expectation (its singletons / n), with intervals and a one-sided p-value. They also enter the
  pooled table like any other level (frequent new levels get their own cell), so chi2 remains the
  test of the whole distribution and ``unseen`` says how much of a change is new levels.
* **Id-like columns** (kind ``id_like``): a categorical column whose reference is near-unique, with a
  Good-Turing unseen share of at least ``categorical.id_like_unseen`` (0.5: a fresh value would
  more likely be new than not), is found when the reference summary is built and tested by
  ``unseen`` alone; a level table of ids has no distribution to compare. ``drift.columns.<name>:
  categorical`` (or ``id_like``) overrides the detection.
* The reference remembers the names and counts of its ``track_max`` most frequent levels, and the
  64-bit hashes (``pandas.util.hash_array``) and counts of all others, so unseen levels and the
  pooled table are exact at any number of levels; a summary written before that (format <= 2) only
  knows its ``untracked_count``, and its unremembered levels are pooled and counted as unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from driftloop.drift._codec import decode_array, encode_array
from driftloop.drift.divergence import chi2_sf, contingency_chi2, js_distance, psi
from driftloop.drift.results import StatResult
from driftloop.drift.unseen import UnseenShare, unseen_rise
from driftloop.errors import DataError

OTHER = "__other__"
# Fewer reference values than this are too few to call a column near-unique (a handful of values
# are all distinct whatever the column): such a column stays categorical.
ID_LIKE_MIN_VALUES = 100


def level_key(value: Any) -> str:
    """A level's name: ``str(value)``, except that an integral float is named as the integer.

    An integer column with one missing value arrives as floats (pandas casts it), so without this
    level 1 of the reference and level 1.0 of the current batch would count as different levels
    (one vanished, one unseen) and the chi-squared test would call a column with unchanged values
    drifted.
    """
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def level_names(levels: pd.Index) -> pd.Index:
    """:func:`level_key` of each level, as an object Index (one call per level, none for strings)."""
    if isinstance(levels.dtype, pd.StringDtype) or levels.inferred_type == "string":
        return levels.astype(object)  # already their own names; skips a Python call per level
    return pd.Index(levels.map(level_key), dtype=object)


def name_each(values: pd.Series) -> pd.Series:
    """Each value of an object column by its :func:`level_key` name (missing values stay missing).

    Per value, not per distinct value: pandas counts and factorizes by Python equality, so 1, 1.0
    and True would merge under whichever came first, and the reference could call a level "1"
    where the current batch calls it "True" (a false vanished + unseen pair).
    """
    return values.map(level_key, na_action="ignore")


def level_counts(values: Any) -> tuple[pd.Series, int, int]:
    """(counts per string level, n_total, n_missing) of one chunk, vectorised via value_counts."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    n_total = int(s.size)
    if s.dtype == object:
        s = name_each(s)
    elif isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    vc = s.value_counts(dropna=True)
    n_missing = n_total - int(vc.sum())
    vc.index = level_names(vc.index)
    if vc.index.has_duplicates:  # e.g. 1 and "1" in an object column
        vc = vc.groupby(level=0, sort=False).sum()
    return vc.astype(np.int64), n_total, n_missing


@dataclass(frozen=True)
class CategoricalReference:
    """Level counts of a reference column.

    ``counts`` holds the ``track_max`` most frequent levels by name; ``rest_hashes`` / ``rest_counts``
    the 64-bit hash and count of every other level (``untracked_levels`` of them, ``untracked_count``
    values). A summary of format <= 2 has no rest arrays (``rest_known`` is then False when it had
    untracked levels).
    """

    n_total: int
    n_missing: int
    counts: pd.Series
    untracked_levels: int = 0
    untracked_count: int = 0
    rest_hashes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    rest_counts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    kind = "categorical"

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    @property
    def rest_known(self) -> bool:
        """Whether every level's count is known (by name or by hash)."""
        return self.rest_counts.size == self.untracked_levels

    @cached_property
    def rest_index(self) -> pd.Index:
        return pd.Index(self.rest_hashes)

    @cached_property
    def n_singletons(self) -> int:
        """Levels seen once (plus, in an old summary, every value of a forgotten level)."""
        known = int((self.counts.to_numpy() == 1).sum()) + int((self.rest_counts == 1).sum())
        return known if self.rest_known else known + self.untracked_count

    @cached_property
    def n_doubletons(self) -> int:
        return int((self.counts.to_numpy() == 2).sum()) + int((self.rest_counts == 2).sum())

    @property
    def expected_unseen(self) -> float:
        """Good-Turing share of fresh values that would be new levels (0 without values)."""
        return self.n_singletons / self.n if self.n else 0.0

    @classmethod
    def build(cls, values: Any, track_max: int = 20_000) -> CategoricalReference:
        vc, n_total, n_missing = level_counts(values)
        vc = vc.sort_values(ascending=False, kind="stable")
        rest = vc.iloc[track_max:]
        return cls(
            n_total,
            n_missing,
            vc.iloc[:track_max],
            int(rest.size),
            int(rest.sum()),
            hash_levels(rest.index),
            rest.to_numpy(np.int64),
        )

    def to_tree(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "n_total": self.n_total,
            "n_missing": self.n_missing,
            "levels": [str(k) for k in self.counts.index],
            "counts": encode_array(self.counts.to_numpy(np.int64)),
            "untracked_levels": self.untracked_levels,
            "untracked_count": self.untracked_count,
            "rest_hashes": encode_array(self.rest_hashes.view(np.int64)),
            "rest_counts": encode_array(self.rest_counts),
            "level_hash_check": _hash_check(),
        }

    @classmethod
    def from_tree(cls, d: dict[str, Any]) -> CategoricalReference:
        counts = pd.Series(np.asarray(d["counts"], np.int64), index=pd.Index(d["levels"], dtype=object))
        hashes, rest = np.empty(0, np.uint64), np.empty(0, np.int64)
        if "rest_hashes" in d:  # format 3
            if d["untracked_levels"] and d["level_hash_check"] != _hash_check():
                raise DataError(
                    "The reference summary hashed its rare levels differently from this installation "
                    "(pandas.util.hash_array changed); rebuild it with summarize_reference."
                )
            hashes = np.ascontiguousarray(decode_array(d["rest_hashes"]), np.int64).view(np.uint64)
            rest = np.asarray(decode_array(d["rest_counts"]), np.int64)
        return cls(d["n_total"], d["n_missing"], counts, d["untracked_levels"], d["untracked_count"], hashes, rest)

    def accumulator(self) -> CategoricalAccumulator:
        return CategoricalAccumulator()


@dataclass(frozen=True)
class IdLikeReference(CategoricalReference):
    """A near-unique categorical reference (kind ``id_like``): same content, tested by ``unseen`` only."""

    kind = "id_like"

    @classmethod
    def of(cls, ref: CategoricalReference) -> IdLikeReference:
        return cls(
            ref.n_total,
            ref.n_missing,
            ref.counts,
            ref.untracked_levels,
            ref.untracked_count,
            ref.rest_hashes,
            ref.rest_counts,
        )


_HASH_CHECK_VALUE = "driftloop level hash check"


def hash_levels(names: Any) -> np.ndarray:
    """64-bit hashes of level names (``pandas.util.hash_array``, SipHash with pandas' fixed key)."""
    a = np.asarray(list(names) if not isinstance(names, (pd.Index, np.ndarray)) else names, dtype=object)
    return pd.util.hash_array(a, categorize=False) if a.size else np.empty(0, np.uint64)


def _hash_check() -> int:
    """The hash of a fixed string as a signed int (JSON-safe): a summary refuses a changed hash function."""
    return int(hash_levels(np.array([_HASH_CHECK_VALUE], dtype=object)).view(np.int64)[0])


def is_id_like(ref: CategoricalReference, id_like_unseen: float | None) -> bool:
    """Whether a categorical reference is near-unique: at least ``ID_LIKE_MIN_VALUES`` values and a
    Good-Turing unseen share >= ``id_like_unseen`` (None: never)."""
    return id_like_unseen is not None and ref.n >= ID_LIKE_MIN_VALUES and ref.expected_unseen >= id_like_unseen


@dataclass
class CategoricalAccumulator:
    """Mergeable current level counts (memory grows with levels, not rows)."""

    n_total: int = 0
    n_missing: int = 0
    counts: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.int64, index=pd.Index([], dtype=object)))

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    def update(self, values: Any) -> CategoricalAccumulator:
        vc, n_total, n_missing = level_counts(values)
        self.n_total += n_total
        self.n_missing += n_missing
        self.counts = vc if self.counts.empty else self.counts.add(vc, fill_value=0).astype(np.int64)
        return self

    def merge(self, other: CategoricalAccumulator) -> CategoricalAccumulator:
        self.n_total += other.n_total
        self.n_missing += other.n_missing
        self.counts = (
            other.counts if self.counts.empty else self.counts.add(other.counts, fill_value=0).astype(np.int64)
        )
        return self


@dataclass(frozen=True)
class _Union:
    """Reference and current counts over the union of levels: the remembered reference levels (their
    order), then current levels the reference did not name, then unnamed reference levels absent
    from the current window (known by hash only)."""

    names: pd.Index  # labels of the first len(names) entries
    other_hashes: np.ndarray  # hashes of the rest
    r: np.ndarray
    c: np.ndarray
    unnamed_current: np.ndarray  # bool: a current level the reference summary did not name

    def label(self, i: int) -> str:
        n = len(self.names)
        return str(self.names[i]) if i < n else f"__untracked_{int(self.other_hashes[i - n]):016x}__"


@dataclass(frozen=True)
class CategoricalComparison:
    """Aligned reference/current counts over the union of levels; the pooled table of the tests."""

    ref: CategoricalReference
    cur: CategoricalAccumulator
    max_categories: int = 50
    list_max: int = 20
    min_expected: float = 5.0

    @property
    def empty_note(self) -> str | None:
        if self.ref.n == 0:
            return "no non-missing reference values"
        if self.cur.n == 0:
            return "no non-missing current values"
        return None

    @cached_property
    def _union(self) -> _Union:
        """One hash lookup of the current levels in the reference's names (an outer ``concat`` of the
        two count Series, which did the same, cost ~10 ms a column at 10,000 levels), then, only if
        the reference has unnamed levels, one lookup of the leftover current levels' hashes."""
        ref, cur = self.ref.counts, self.cur.counts
        pos = ref.index.get_indexer(cur.index)  # -1: a level the reference did not name
        other = pos < 0
        cur_counts = cur.to_numpy(np.float64)
        r = np.zeros(ref.size + int(other.sum()))
        c = np.zeros_like(r)
        r[: ref.size] = ref.to_numpy(np.float64)
        c[pos[~other]] = cur_counts[~other]
        c[ref.size :] = cur_counts[other]
        unnamed = np.zeros(r.size, dtype=bool)
        unnamed[ref.size :] = True
        names, left = ref.index.append(cur.index[other]), np.empty(0, np.uint64)
        if self.ref.rest_counts.size:
            rest_pos = self.ref.rest_index.get_indexer(hash_levels(cur.index[other]))  # type: ignore[arg-type]
            hit = rest_pos >= 0
            r[ref.size :][hit] = self.ref.rest_counts[rest_pos[hit]]
            absent = np.ones(self.ref.rest_counts.size, dtype=bool)
            absent[rest_pos[hit]] = False
            left = self.ref.rest_hashes[absent]
            r = np.concatenate([r, self.ref.rest_counts[absent].astype(np.float64)])
            c = np.concatenate([c, np.zeros(left.size)])
            unnamed = np.concatenate([unnamed, np.zeros(left.size, dtype=bool)])
        return _Union(names, left, r, c, unnamed)

    @cached_property
    def _cells(self) -> np.ndarray:
        """Indices (into the union) of the levels that keep their own cell, largest total first."""
        u = self._union
        n_r, n_c = float(self.ref.n), float(self.cur.n)
        t = u.r + u.c
        own = t * min(n_r, n_c) >= self.min_expected * (n_r + n_c)
        if not self.ref.rest_known:  # an old summary: a level it did not name has an unknown count
            own &= ~u.unnamed_current
        idx = np.flatnonzero(own)
        if idx.size > self.max_categories:  # cut on totals alone; ties at the cut all go
            cut = -np.partition(-t[idx], self.max_categories)[self.max_categories]
            idx = idx[t[idx] > cut]
        return idx[np.argsort(-t[idx], kind="stable")]

    @cached_property
    def table(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(levels, reference counts, current counts) of the pooled table: own cells, then ``__other__``."""
        u, idx = self._union, self._cells
        levels = [u.label(i) for i in idx]
        rr, cc = u.r[idx], u.c[idx]
        r_other, c_other = self.ref.n - rr.sum(), self.cur.n - cc.sum()
        if r_other or c_other:
            levels.append(OTHER)
            rr, cc = np.append(rr, r_other), np.append(cc, c_other)
        return levels, rr, cc

    @cached_property
    def _unseen_rows(self) -> float:
        u = self._union
        return float(u.c[u.unnamed_current if not self.ref.rest_known else (u.r == 0)].sum())

    def unseen_share(self) -> UnseenShare:
        """The unseen share against the reference's Good-Turing expectation (:mod:`~driftloop.drift.unseen`)."""
        return unseen_rise(self.ref.n_singletons, self.ref.n_doubletons, self.ref.n, self._unseen_rows, self.cur.n)

    @cached_property
    def _level_changes(self) -> dict[str, Any]:
        u = self._union
        unseen = np.flatnonzero((u.c > 0) & (u.unnamed_current if not self.ref.rest_known else u.r == 0))
        unseen = unseen[np.argsort(-u.c[unseen], kind="stable")]  # most frequent first
        vanished = np.flatnonzero((u.r > 0) & (u.c == 0))  # reference order (most frequent first)
        return {
            "unseen": {u.label(i): int(u.c[i]) for i in unseen[: self.list_max]},
            "n_unseen": int(unseen.size),
            "unseen_rows": int(u.c[unseen].sum()),
            "vanished": {u.label(i): int(u.r[i]) for i in vanished[: self.list_max]},
            "n_vanished": int(vanished.size),
            "reference_truncated": self.ref.untracked_levels > 0,
            "n_levels": {
                "reference": int(self.ref.counts.size + self.ref.untracked_levels),
                "current": int(self.cur.counts.size),
            },
        }

    def level_changes(self) -> dict[str, Any]:
        """Unseen and vanished levels by name (most frequent first), with counts."""
        return dict(self._level_changes)

    def histogram(self, top: int = 20) -> dict[str, Any]:
        if self.empty_note:
            return {}
        if self.ref.kind == "id_like":
            s = self.unseen_share()
            return {
                "labels": ["levels the reference had", "new levels (reference: Good-Turing)"],
                "reference": [1.0 - s.expected, s.expected],
                "current": [1.0 - s.current, s.current],
            }
        levels, r, c = self.table
        return {
            "labels": levels[:top],
            "reference": (r / r.sum())[:top].tolist(),
            "current": (c / c.sum())[:top].tolist(),
        }


def chi2_test(cmp: CategoricalComparison, threshold: float) -> StatResult:
    """Contingency chi-squared over the pooled table; statistic is Cramer's V."""
    note = cmp.empty_note
    if note:
        return StatResult("chi2", None, None, threshold, "chi2", details={"note": note})
    levels, r, c = cmp.table
    x2, dof = contingency_chi2(r, c)
    p = chi2_sf(x2, dof) if dof > 0 else 1.0
    v = float(np.sqrt(x2 / (r.sum() + c.sum())))
    return StatResult(
        "chi2",
        v,
        p,
        threshold,
        "chi2",
        details={
            "chi2": x2,
            "dof": dof,
            "n_table_levels": len(levels),
            "min_expected": cmp.min_expected,
            **cmp.level_changes(),
        },
    )


def psi_test(cmp: CategoricalComparison, threshold: float) -> StatResult:
    """PSI over the pooled table (0.5 pseudocount per cell and side)."""
    note = cmp.empty_note
    if note:
        return StatResult("psi", None, None, threshold, "chi2", details={"note": note})
    _, r, c = cmp.table
    return StatResult("psi", psi(r, c), None, threshold, "chi2")


def js_test(cmp: CategoricalComparison, threshold: float) -> StatResult:
    """Jensen-Shannon distance (base 2) over the pooled table."""
    note = cmp.empty_note
    if note:
        return StatResult("js", None, None, threshold, "chi2", details={"note": note})
    _, r, c = cmp.table
    return StatResult("js", js_distance(r, c), None, threshold, "chi2")


def unseen_test(cmp: CategoricalComparison, threshold: float) -> StatResult:
    """Rise of the share of values in levels the reference never had, over its Good-Turing expectation.

    Statistic: current unseen share minus expected share; one-sided p-value (see
    :func:`driftloop.drift.unseen.unseen_rise`). Details: both shares with 95 % intervals.
    """
    note = cmp.empty_note
    if note:
        return StatResult("unseen", None, None, threshold, "unseen", details={"note": note})
    s = cmp.unseen_share()
    return StatResult(
        "unseen",
        s.excess,
        s.p_value,
        threshold,
        "unseen",
        details={
            **s.to_dict(),
            "unseen_rows": int(cmp._unseen_rows),
            "reference_singletons": cmp.ref.n_singletons,
            "reference_doubletons": cmp.ref.n_doubletons,
        },
    )
