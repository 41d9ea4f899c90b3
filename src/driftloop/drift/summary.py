"""Reference summaries (one pass over the reference) and mergeable current-side summaries.

A :class:`ReferenceSummary` holds, per column, what every test needs: the reference ECDF cells and
quantile bins (numeric), level counts (categorical), term counts, a length ECDF and a seeded
document sample (text), plus missing counts and a small seeded row sample for the domain classifier.
It is saved as one ``.npz`` file next to the snapshot (JSON structure plus packed arrays, see
``_codec``), so a drift cycle reads the reference data once, when it is snapshotted.

The current side is folded chunk by chunk into accumulators whose memory depends on the number of
reference cells, levels and terms, never on the number of rows; accumulators merge by addition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.drift._codec import encode_array, read_tree, write_tree
from driftloop.drift.categorical import CategoricalReference, IdLikeReference, is_id_like, level_key
from driftloop.drift.chunks import Partition, iter_partition_chunks
from driftloop.drift.config import KINDS, DriftConfig
from driftloop.drift.numeric_summary import NumericReference
from driftloop.drift.text import TextReference
from driftloop.errors import DataError

# 3: categorical references keep the hashes and counts of their unnamed levels, kind id_like; text
#    references a seeded sample of documents (token_js's permutation test; a text reference without
#    one, as from earlier version-3 files, makes token_js fall back to its conservative bound and say so);
# 2: .npz with packed arrays; 1: one JSON file with base64 arrays (both still read)
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
_REF_TYPES: dict[str, Any] = {  # kind -> reference class (each has from_tree)
    "numeric": NumericReference,
    "categorical": CategoricalReference,
    "id_like": IdLikeReference,
    "text": TextReference,
}


def _sample_rows(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    positions = sample_positions(len(df), n, seed)
    return df.reset_index(drop=True) if positions is None else df.iloc[positions].reset_index(drop=True)


def _sample_columns(df: pd.DataFrame, kinds: Mapping[str, str]) -> dict[str, Any]:
    """Numeric columns as float64 arrays (non-finite -> NaN), others as lists of str or None;
    categorical values by their level name (2.0 -> "2", the name the current side gives it)."""
    out: dict[str, Any] = {}
    for c in df.columns:
        s = df[c]
        if s.dtype.kind in "fiub":
            v = s.to_numpy(np.float64)
            out[c] = encode_array(np.where(np.isfinite(v), v, np.nan))
        else:
            name = level_key if kinds.get(c) in ("categorical", "id_like") else str
            out[c] = [
                None if pd.isna(v) else (v.decode("utf-8", "replace") if isinstance(v, bytes) else name(v))
                for v in s.to_numpy(object)
            ]
    return out


@dataclass(frozen=True)
class ReferenceSummary:
    """Everything the drift tests need from the reference; one ``.npz`` file on disk (see ``_codec``).

    Attributes
    ----------
    n_rows : int
    kinds : dict of column -> kind
    columns : dict of column -> NumericReference | CategoricalReference | TextReference
    sample : DataFrame
        Seeded sample of at most ``multivariate.max_rows`` reference rows (domain classifier).
    options : dict
        The summary-shaping config values (bins, caps, tokenisation) used to build it.
    """

    n_rows: int
    kinds: Mapping[str, str]
    columns: Mapping[str, Any]
    sample: pd.DataFrame = field(default_factory=pd.DataFrame)
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_tree(self) -> dict[str, Any]:
        """JSON-shaped dict with ndarray leaves (what :func:`_codec.write_tree` stores)."""
        return {
            "format_version": FORMAT_VERSION,
            "n_rows": self.n_rows,
            "kinds": dict(self.kinds),
            "options": dict(self.options),
            "columns": {c: s.to_tree() for c, s in self.columns.items()},
            "sample": _sample_columns(self.sample, self.kinds),
        }

    def save(self, path: str | Path) -> Path:
        """Write the summary as one ``.npz`` file at exactly ``path`` (see ``_codec``). Returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_tree(path, self.to_tree())
        return path

    @classmethod
    def from_tree(cls, d: Mapping[str, Any]) -> ReferenceSummary:
        if d.get("format_version") not in READABLE_VERSIONS:
            raise DataError(
                f"Reference summary format_version {d.get('format_version')!r} is not supported "
                f"(readable: {list(READABLE_VERSIONS)}); rebuild it with summarize_reference."
            )
        cols = {c: _REF_TYPES[v["kind"]].from_tree(v) for c, v in d["columns"].items()}
        sample = pd.DataFrame(d.get("sample") or {})
        for c in sample.columns:
            if d["kinds"].get(c) == "numeric":
                sample[c] = pd.to_numeric(sample[c], errors="coerce").astype(np.float64)
        return cls(d["n_rows"], dict(d["kinds"]), cols, sample, d.get("options", {}))

    @classmethod
    def load(cls, path: str | Path) -> ReferenceSummary:
        """Read a summary written by :meth:`save`.

        Raises
        ------
        DataError
            When the file is missing, not a summary, or of an unknown format version.
        """
        path = Path(path)
        try:
            d = read_tree(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"Cannot read the reference summary {path}: {exc}") from exc
        return cls.from_tree(d)


def summarize_reference(
    reference: pd.DataFrame, kinds: Mapping[str, str], cfg: DriftConfig | None = None
) -> ReferenceSummary:
    """Summarise the reference in one pass per column.

    Parameters
    ----------
    reference : DataFrame
    kinds : mapping of column -> {"numeric", "categorical", "id_like", "text"}
        Per-column ``kind`` / ``skip`` overrides in ``cfg.columns`` take precedence. A categorical
        column whose reference is near-unique (``categorical.id_like_unseen``) becomes ``id_like``
        in the summary's ``kinds``, unless ``cfg.columns`` sets its kind.
    cfg : DriftConfig, optional

    Returns
    -------
    ReferenceSummary

    Raises
    ------
    DataError
        When a column of ``kinds`` is absent from ``reference`` or a kind is unknown.

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    >>> s = summarize_reference(df, {"x": "numeric", "c": "categorical"})
    >>> s.n_rows, sorted(s.columns)
    (3, ['c', 'x'])
    """
    cfg = cfg or DriftConfig()
    kinds = resolve_kinds(kinds, cfg)
    missing = [c for c in kinds if c not in reference.columns]
    if missing:
        raise DataError(f"Reference data lacks column(s) {missing}; present: {list(reference.columns)}.")
    cols: dict[str, Any] = {}
    for c, kind in kinds.items():
        cols[c], kinds[c] = summarize_reference_column(reference[c], c, kind, cfg)
    sample = _sample_rows(reference[list(kinds)], cfg.multivariate.max_rows, cfg.seed)
    return ReferenceSummary(len(reference), kinds, cols, sample, reference_options(cfg))


def summarize_reference_column(values: Any, name: str, kind: str, cfg: DriftConfig) -> tuple[Any, str]:
    """One reference column's summary and its kind (a near-unique categorical column becomes
    ``id_like`` unless ``cfg.columns`` sets its kind): :func:`summarize_reference`'s per-column step,
    also run on its own, one column per task, by ``driftloop.engine.summarize_reference_partitioned``."""
    num, cat, txt = cfg.numeric.options, cfg.categorical.options, cfg.text.options
    if kind == "numeric":
        return NumericReference.build(values, num["n_bins"], num["exact_max_values"], num["sketch_size"]), kind
    if kind in ("categorical", "id_like"):
        ref = CategoricalReference.build(values, cat["track_max"])
        forced = name in cfg.columns and cfg.columns[name].kind is not None
        if kind == "id_like" or (not forced and is_id_like(ref, cat["id_like_unseen"])):
            return IdLikeReference.of(ref), "id_like"  # near-unique: see categorical
        return ref, kind
    return TextReference.build(values, txt, cfg.seed), kind


def reference_options(cfg: DriftConfig) -> dict[str, Any]:
    """The summary-shaping config values a reference summary records (``ReferenceSummary.options``)."""
    num, cat, txt = cfg.numeric.options, cfg.categorical.options, cfg.text.options
    return {
        "numeric": dict(num),
        "categorical": dict(cat),
        "text": {k: list(v) if isinstance(v, tuple) else v for k, v in txt.items()},
    }


def sample_positions(n_rows: int, max_rows: int, seed: int) -> np.ndarray | None:
    """The row positions :func:`summarize_reference` samples for the domain classifier (sorted),
    or None for every row."""
    if n_rows <= max_rows:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def resolve_kinds(kinds: Mapping[str, str], cfg: DriftConfig) -> dict[str, str]:
    """Apply ``cfg.columns`` overrides (kind, skip) to ``kinds`` and validate every kind."""
    out: dict[str, str] = {}
    for c, k in kinds.items():
        ov = cfg.columns.get(c)
        if ov is not None and ov.skip:
            continue
        k = ov.kind if ov is not None and ov.kind else k
        if k not in KINDS:
            raise DataError(f"Column {c!r} has kind {k!r}; expected one of {list(KINDS)}.")
        out[c] = k
    return out


def iter_chunks(current: pd.DataFrame | Iterable[pd.DataFrame], chunk_size: int) -> Iterator[pd.DataFrame]:
    """Chunks of ``current``: slices of a DataFrame, or the given iterable as is."""
    if isinstance(current, pd.DataFrame):
        if len(current) == 0:
            yield current
        for start in range(0, len(current), chunk_size):
            yield current.iloc[start : start + chunk_size]
    else:
        yield from current


@dataclass
class CurrentSummary:
    """Merged current-side accumulators per column, the row count and a seeded row sample."""

    accumulators: dict[str, Any]
    n_rows: int = 0
    sample: pd.DataFrame | None = None
    _keys: np.ndarray | None = None

    @classmethod
    def start(cls, reference: ReferenceSummary, columns: Iterable[str], part: int | None = None) -> CurrentSummary:
        """Empty accumulators for ``columns``; ``part`` (a partition's index) gives the text columns'
        document samples a key stream of their own (see :func:`summarize_partition`)."""
        return cls(
            {
                c: (ref.accumulator(part) if part is not None and isinstance(ref, TextReference) else ref.accumulator())
                for c in columns
                for ref in (reference.columns[c],)
            }
        )

    def merge(self, other: CurrentSummary, max_rows: int) -> CurrentSummary:
        """Fold ``other`` (the summary of rows after this one's) into this one and return it.

        Accumulators merge by addition; the row samples, each the rows with the smallest uniform
        keys of its part, merge into the ``max_rows`` smallest keys of both (a uniform sample of
        the union), in row order: this one's rows, then ``other``'s.
        """
        absent = sorted(set(self.accumulators) ^ set(other.accumulators))
        if absent:
            raise DataError(f"Cannot merge current summaries of different columns: {absent} in only one of them.")
        for c, acc in self.accumulators.items():
            acc.merge(other.accumulators[c])
        self.n_rows += other.n_rows
        if other.sample is None or other._keys is None or max_rows <= 0:
            return self
        if self.sample is None or self._keys is None:
            self.sample, self._keys = other.sample, other._keys
            return self
        keys = np.concatenate([self._keys, other._keys])
        part = pd.concat([self.sample, other.sample], ignore_index=True)
        if len(part) > max_rows:
            keep = np.sort(np.argpartition(keys, max_rows)[:max_rows])
            part, keys = part.iloc[keep].reset_index(drop=True), keys[keep]
        self.sample, self._keys = part, keys
        return self

    def update(
        self, chunk: pd.DataFrame, rng: np.random.Generator, max_rows: int, pool: Executor | None = None
    ) -> None:
        """Fold one chunk in; ``pool`` (optional) updates the columns' accumulators concurrently."""
        self.check_columns(chunk)
        work = [(acc, chunk[c]) for c, acc in self.accumulators.items()]
        for _ in (pool.map if pool is not None else map)(lambda a: a[0].update(a[1]), work):
            pass
        self.update_sample(chunk, rng, max_rows)

    def check_columns(self, chunk: pd.DataFrame) -> None:
        """DataError naming the summary's columns that ``chunk`` lacks."""
        absent = [c for c in self.accumulators if c not in chunk.columns]
        if absent:
            raise DataError(
                f"Current data lacks column(s) {absent} present in the reference summary; "
                f"current columns: {list(chunk.columns)}."
            )

    def update_sample(self, chunk: pd.DataFrame, rng: np.random.Generator, max_rows: int) -> None:
        """Count the chunk's rows and fold them into the row sample (independent of the accumulators,
        so it may run before them)."""
        self.n_rows += len(chunk)
        # bottom-k of uniform keys over all chunks = a uniform sample without replacement, mergeable
        keys = rng.random(len(chunk))
        if max_rows <= 0:
            return
        sel = np.arange(len(chunk))
        if len(chunk) > max_rows:  # pre-select in the chunk so that only max_rows rows are copied
            sel = np.sort(np.argpartition(keys, max_rows)[:max_rows])
        part, keys = chunk.iloc[sel][list(self.accumulators)], keys[sel]
        if self.sample is not None:
            keys = np.concatenate([self._keys, keys])
            part = pd.concat([self.sample, part], ignore_index=True)
        else:
            part = part.reset_index(drop=True)
        if len(part) > max_rows:
            keep = np.sort(np.argpartition(keys, max_rows)[:max_rows])
            part, keys = part.iloc[keep].reset_index(drop=True), keys[keep]
        self.sample, self._keys = part, keys


def summarize_current(
    reference: ReferenceSummary,
    current: pd.DataFrame | Iterable[pd.DataFrame],
    columns: Iterable[str],
    cfg: DriftConfig,
    pool: Executor | None = None,
    part: int | None = None,
) -> CurrentSummary:
    """Fold ``current`` (a DataFrame or an iterable of chunks) into a :class:`CurrentSummary`.

    Each accumulator only ever sees its own column, so ``pool`` may update them concurrently.
    ``part``, a partition's index, gives the random draws (row sample, text document samples)
    streams of their own, so partitions folded apart merge into samples of independent keys.
    """
    cs = CurrentSummary.start(reference, columns, part)
    rng, max_rows = sampling(cfg, part)
    for chunk in iter_chunks(current, cfg.chunk_size):
        cs.update(chunk, rng, max_rows, pool)
    return cs


def sampling(cfg: DriftConfig, part: int | None = None) -> tuple[np.random.Generator, int]:
    """The generator and size of the current window's row sample (0 when the classifier is off);
    ``part`` (a partition's index) selects a stream of its own."""
    stream = [cfg.seed, 1] if part is None else [cfg.seed, 1, part]
    return np.random.default_rng(stream), cfg.multivariate.max_rows if cfg.multivariate.enabled else 0


def summarize_partition(
    partition: Partition, reference: ReferenceSummary, columns: Iterable[str], cfg: DriftConfig
) -> CurrentSummary:
    """The map of a partitioned current window: one partition read in chunks of ``cfg.chunk_size``
    rows, column by column (:func:`~driftloop.drift.chunks.iter_partition_chunks`), folded by
    :func:`summarize_current` with the partition's own random streams. Runs where the partition
    is read (a Dask worker, or this process); results merge with :func:`merge_current`."""
    columns = list(columns)
    chunks = iter_partition_chunks(partition, columns, cfg.chunk_size)
    return summarize_current(reference, chunks, columns, cfg, part=partition.index)


def merge_current(a: CurrentSummary, b: CurrentSummary, max_rows: int) -> CurrentSummary:
    """The merge of a partitioned current window: ``b`` (the later partitions) folded into ``a``."""
    return a.merge(b, max_rows)
