"""Text columns: token frequencies against the reference vocabulary, OOV rate, length.

Tokenisation is scikit-learn's ``CountVectorizer``'s (configurable ``lowercase``, ``token_pattern``,
``ngram_range``), applied per chunk; chunk term counts merge by addition. For options the config
accepts it is done here, step for step as ``CountVectorizer`` does it (importing sklearn costs
~0.7 s, more than the snapshot's whole work on a small window); anything else still goes through
``CountVectorizer`` itself.

Tests
-----
``token_js``
    Jensen-Shannon distance (base 2) between term distributions restricted to the ``js_vocab_size``
    most frequent reference terms plus one ``<other>`` bucket (every other term, new ones included).
    Restricting the support keeps the sampling noise of JS small on a few thousand documents (over a
    full sparse vocabulary two samples of one distribution are far apart by chance alone).
    Its p-value is a **document permutation test** (:func:`doc_permutation_test`): documents, not
    tokens, are the unit, because the tokens of one document are not independent. Each side keeps a
    seeded uniform sample of at most ``doc_sample`` documents (the reference's in the summary, the
    current window's as a bottom-k reservoir, so memory stays flat in rows). The pooled sample is
    tokenised once; its ``js_vocab_size`` most frequent terms (pooled counts, so the choice does not
    depend on which side a document is on; at least ``MIN_CELL_COUNT`` tokens) plus ``<other>`` form
    a 2 x K token table whose Pearson chi-squared is compared with the same statistic over
    ``n_permutations`` random reassignments of the documents to the two sides. The p-value
    ``(1 + #{permuted >= observed}) / (n_permutations + 1)`` is exact for documents drawn independently
    from one distribution, whatever the within-document dependence. Beyond every permuted value it is
    refined by the tail of a scaled chi-squared fitted to the permutation mean and variance (never
    above ``1 / (n_permutations + 1)``), so that a correction across many p-values can still rank strong
    evidence. A reference summary without a document sample (written before it existed) falls back to
    the earlier conservative bound (Pearson chi-squared divided by the mean tokens per document).
``oov_rate``
    Statistic: current out-of-vocabulary rate minus the reference's expected OOV rate (an increase
    drifts, a decrease does not). The reference vocabulary is every reference term (at most
    ``max_vocab``, the most frequent). The reference rate is the Good-Turing missing-mass estimate
    (terms seen once / tokens, plus tokens of terms beyond ``max_vocab``): the OOV rate a fresh
    sample of the same distribution would show, so no-drift current data is not flagged just because
    a finite reference has not seen every rare word. p-value: 2 x 2 chi-squared on token counts,
    Rao-Scott corrected for tokens clustered within documents: the statistic is divided by the design
    effect, bounded above by the mean number of tokens per document (conservative).
``length_ks``
    KS test on document length in characters (exact reference ECDF; see ``numeric``).

Bad input: bytes that are not valid UTF-8 are decoded with U+FFFD replacement and lone surrogates in
str values replaced likewise; their count is reported as ``n_invalid_utf8``. Missing documents are
counted for the missing-rate test; empty strings are documents with no tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from driftloop.drift._codec import decode_array, encode_array
from driftloop.drift._imports import load
from driftloop.drift.divergence import chi2_sf, contingency_chi2, js_distance
from driftloop.drift.numeric import ks_test
from driftloop.drift.numeric_summary import NumericAccumulator, NumericComparison, NumericReference
from driftloop.drift.results import StatResult

OTHER = "<other>"
DOC_SAMPLE = 2000  # documents kept per side for token_js's permutation test (default of text.doc_sample)
N_PERMUTATIONS = 1000  # default of text.n_permutations
MIN_CELL_COUNT = 5  # pooled sample tokens a term needs for its own cell in the permutation table
# Random streams under the seed: which documents are sampled on each side, and the permutations.
_REFERENCE_STREAM, _CURRENT_STREAM, _PERMUTATION_STREAM = 1, 2, 3
_PERMUTATION_BLOCK_VALUES = 1_000_000  # entries of one block's key matrix (bounds its memory)
_TOKEN_OPTIONS = ("lowercase", "token_pattern", "ngram_range")
_COUNT_BITS = 31  # a sampled document's count of one term, in the stored summary
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # CountVectorizer's default, and text.token_pattern's


def _empty_counts() -> pd.Series:
    return pd.Series(dtype=np.int64, index=pd.Index([], dtype=object))


def clean_docs(values: Any) -> tuple[pd.Series, int, int]:
    """(non-missing documents as valid str, n_total, n_invalid_utf8).

    Arrow-backed string columns are valid UTF-8 by construction; object columns may hold bytes or
    str with lone surrogates (e.g. from ``surrogateescape`` decoding), which are repaired here.
    """
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    n_total = int(s.size)
    s = s[s.notna()]
    n_invalid = 0
    if s.size and s.dtype == object:

        def _fix(v: Any) -> tuple[str, bool]:
            if isinstance(v, (bytes, bytearray)):
                try:
                    return bytes(v).decode("utf-8"), False
                except UnicodeDecodeError:
                    return bytes(v).decode("utf-8", errors="replace"), True
            v = v if isinstance(v, str) else str(v)
            if _SURROGATE_RE.search(v):
                return _SURROGATE_RE.sub("\ufffd", v), True
            return v, False

        fixed = [_fix(v) for v in s.to_numpy(object)]  # per document, as tokenisation is anyway
        n_invalid = sum(bad for _, bad in fixed)
        s = pd.Series([t for t, _ in fixed], index=s.index, dtype=object)
    elif s.size and not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype(str)
    return s, n_total, n_invalid


def _vectorizer(options: Mapping[str, Any]) -> Any:
    CountVectorizer = load("sklearn.feature_extraction.text").CountVectorizer
    return CountVectorizer(
        lowercase=options.get("lowercase", True),
        token_pattern=options.get("token_pattern", _TOKEN_PATTERN),
        ngram_range=tuple(options.get("ngram_range", (1, 1))),
        dtype=np.int64,
    )


@dataclass(frozen=True)
class WordAnalyzer:
    """``CountVectorizer``'s word analyzer for the options the config accepts: lowercase (``str.lower``),
    ``token_pattern.findall`` (its one group, if any) and word n-grams joined by a space."""

    lowercase: bool
    pattern: re.Pattern[str]
    ngram_range: tuple[int, int]

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> WordAnalyzer | None:
        """The analyzer of ``options``; None where only sklearn says what they do (a pattern with two
        groups or that does not compile, n-grams not ``1 <= min <= max``, non-bool ``lowercase``)."""
        lowercase = options.get("lowercase", True)
        pattern = options.get("token_pattern", _TOKEN_PATTERN)
        ngram = tuple(options.get("ngram_range", (1, 1)))
        if not (isinstance(lowercase, bool) and isinstance(pattern, str) and len(ngram) == 2):
            return None
        lo, hi = ngram
        if not all(type(n) is int for n in ngram) or not 1 <= lo <= hi:
            return None
        try:
            compiled = re.compile(pattern)
        except re.error:
            return None
        return cls(lowercase, compiled, (lo, hi)) if compiled.groups <= 1 else None

    def __call__(self, doc: str) -> list[str]:
        tokens = self.pattern.findall(doc.lower() if self.lowercase else doc)
        lo, hi = self.ngram_range
        if hi == 1:
            return tokens
        grams = list(tokens) if lo == 1 else []  # sklearn's _word_ngrams, in its order
        for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        return grams


def uses_sklearn(options: Mapping[str, Any]) -> bool:
    """Whether tokenising with ``options`` imports sklearn (see :class:`WordAnalyzer`)."""
    return WordAnalyzer.of(options) is None


def tokenize(docs: Any, options: Mapping[str, Any]) -> tuple[Any, np.ndarray]:
    """(documents x terms CSR int64 counts, the terms in sorted order) of clean documents; the matrix
    is None when no document has a token."""
    docs = np.asarray(docs, dtype=object)
    if docs.size == 0:
        return None, np.empty(0, dtype=object)
    analyzer = WordAnalyzer.of(options)
    if analyzer is not None and all(type(d) is str for d in docs):
        return _count_terms(docs, analyzer)
    cv = _vectorizer(options)
    try:
        x = cv.fit_transform(docs)
    except ValueError:  # empty vocabulary: no document has a token
        return None, np.empty(0, dtype=object)
    return x.tocsr(), cv.get_feature_names_out().astype(object)  # CountVectorizer sorts its features


def _count_terms(docs: np.ndarray, analyzer: WordAnalyzer) -> tuple[Any, np.ndarray]:
    """:func:`tokenize` without sklearn: the same counts over the same sorted terms (within a row
    the columns are sorted here, which no caller depends on: they sum columns or sort indices)."""
    vocab: dict[str, int] = {}
    indptr: list[int] = [0]  # CSR rows, as CountVectorizer builds them
    indices: list[int] = []
    values: list[int] = []
    for doc in docs:
        counts: dict[int, int] = {}
        for term in analyzer(doc):
            j = vocab.setdefault(term, len(vocab))
            counts[j] = counts.get(j, 0) + 1
        indices += counts.keys()
        values += counts.values()
        indptr.append(len(indices))
    if not vocab:  # CountVectorizer's "empty vocabulary"
        return None, np.empty(0, dtype=object)
    terms = np.asarray(list(vocab), dtype=object)
    order = np.argsort(terms, kind="stable")  # str order, as CountVectorizer sorts its features
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    x = load("scipy.sparse").csr_matrix(
        (np.asarray(values, dtype=np.int64), rank[np.asarray(indices, dtype=np.intp)], np.asarray(indptr)),
        shape=(docs.size, terms.size),
    )
    x.sort_indices()
    return x, terms[order]


def tokenize_counts(docs: pd.Series, options: Mapping[str, Any]) -> tuple[pd.Series, int]:
    """(term counts, total tokens) of a chunk of clean documents."""
    return _term_counts(*tokenize(docs.to_numpy(dtype=object), options))


def _term_counts(x: Any, terms: np.ndarray) -> tuple[pd.Series, int]:
    if x is None:
        return _empty_counts(), 0
    counts = np.asarray(x.sum(axis=0)).ravel()
    return pd.Series(counts, index=pd.Index(terms, dtype=object)), int(counts.sum())


def _smallest(keys: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest ``keys``, in increasing key order (all of them when fewer).

    The ``k`` smallest of iid uniform keys are a uniform random ``k``-subset; kept across chunks
    (bottom-k), they sample a stream of any length in memory bounded by ``k``.
    """
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    idx = np.argpartition(keys, k - 1)[:k] if keys.size > k else np.arange(keys.size)
    return idx[np.argsort(keys[idx], kind="stable")]


@dataclass(frozen=True)
class DocSample:
    """Term counts of sampled documents: CSR rows over the sample's own sorted vocabulary.

    Kept tokenised, so the test never tokenises a document twice; ``keys`` are the sampling keys
    (increasing), used to merge reservoirs. Size: the sampled documents' distinct terms.
    """

    terms: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    counts: np.ndarray
    keys: np.ndarray

    @property
    def n_docs(self) -> int:
        return int(self.indptr.size - 1)

    @classmethod
    def empty(cls) -> DocSample:
        return cls(
            np.empty(0, object), np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        )

    @classmethod
    def of(cls, x: Any, terms: np.ndarray, n_docs: int, keys: np.ndarray, k: int) -> DocSample:
        """The ``k`` documents with the smallest ``keys`` among ``n_docs`` (rows of ``x`` over sorted
        ``terms``; ``x`` None when none has a token)."""
        rows = _smallest(keys, k)
        if x is None:
            return cls(
                np.empty(0, object),
                np.zeros(rows.size + 1, np.int64),
                np.empty(0, np.int64),
                np.empty(0, np.int64),
                keys[rows],
            )
        sub = x[rows]
        sub.sort_indices()  # one canonical layout, however the sample was reached
        used, idx = np.unique(sub.indices, return_inverse=True)  # prune terms no sampled document has
        return cls(
            terms[used],
            sub.indptr.astype(np.int64),
            idx.astype(np.int64).ravel(),
            sub.data.astype(np.int64),
            keys[rows],
        )

    @classmethod
    def from_docs(cls, docs: Any, options: Mapping[str, Any]) -> DocSample:
        """Every document of ``docs`` (in order), tokenised with ``options``."""
        docs = np.asarray([str(d) for d in docs], dtype=object)
        x, terms = tokenize(docs, options)
        return cls.of(x, terms, docs.size, np.arange(docs.size, dtype=np.float64), docs.size)

    def matrix(self, columns: np.ndarray | None = None, width: int | None = None) -> Any:
        """Documents x terms CSR; ``columns`` maps this sample's terms into a vocabulary of ``width``."""
        cols = self.indices if columns is None else columns[self.indices]
        return load("scipy.sparse").csr_matrix(
            (self.counts, cols, self.indptr), shape=(self.n_docs, self.terms.size if width is None else width)
        )

    def concat(self, other: DocSample) -> DocSample:
        """This sample's documents, then ``other``'s, over the union of their vocabularies (sorted)."""
        codes, terms = pd.factorize(np.concatenate([self.terms, other.terms]), sort=True)
        split = self.terms.size
        x = load("scipy.sparse").vstack(
            [self.matrix(codes[:split], terms.size), other.matrix(codes[split:], terms.size)], format="csr"
        )
        return DocSample(
            np.asarray(terms, dtype=object),
            x.indptr.astype(np.int64),
            x.indices.astype(np.int64),
            x.data.astype(np.int64),
            np.concatenate([self.keys, other.keys]),
        )

    def smallest(self, k: int) -> DocSample:
        """The ``k`` documents with the smallest keys."""
        if self.n_docs <= k and np.all(np.diff(self.keys) >= 0):
            return self
        return DocSample.of(self.matrix(), self.terms, self.n_docs, self.keys, k)

    def to_tree(self) -> dict[str, Any]:
        # term index and count packed into one int64 (index < 2^32, count < 2^31): half the bytes
        return {
            "terms": [str(t) for t in self.terms],
            "indptr": encode_array(self.indptr),
            "entries": encode_array((self.indices << _COUNT_BITS) | self.counts),
        }

    @classmethod
    def from_tree(cls, d: Mapping[str, Any]) -> DocSample:
        indptr, entries = decode_array(d["indptr"]), decode_array(d["entries"])
        return cls(
            np.asarray(d["terms"], dtype=object),
            indptr,
            entries >> _COUNT_BITS,
            entries & ((1 << _COUNT_BITS) - 1),
            np.arange(indptr.size - 1, dtype=np.float64),
        )


@dataclass(frozen=True)
class PermutationTest:
    """Outcome of :func:`doc_permutation_test`.

    Attributes
    ----------
    statistic : float
        Pearson chi-squared of the sampled documents' 2 x K token table (top pooled terms + other).
    p_value : float
    n_cells : int
        K, the columns of the table.
    n_documents : tuple of int
        Sampled documents (reference, current).
    n_permutations : int
    tail_fit : bool
        True when no permuted statistic reached the observed one and the p-value is the fitted
        scaled chi-squared tail (at most ``1 / (n_permutations + 1)``).
    """

    statistic: float
    p_value: float
    n_cells: int
    n_documents: tuple[int, int]
    n_permutations: int
    tail_fit: bool = False

    def details(self) -> dict[str, Any]:
        return {
            "chi2_documents": self.statistic,
            "n_cells": self.n_cells,
            "n_documents": {"reference": self.n_documents[0], "current": self.n_documents[1]},
            "n_permutations": self.n_permutations,
            "tail_fit": self.tail_fit,
        }


def _cell_counts(pooled: DocSample, n_terms: int) -> Any:
    """Documents x cells token counts (CSR, float64): the ``n_terms`` most frequent terms of the
    pooled documents with at least ``MIN_CELL_COUNT`` tokens (ties by term), then ``<other>``.
    None when no document has a token."""
    if pooled.counts.sum() == 0:
        return None
    x = pooled.matrix()
    totals = np.asarray(x.sum(axis=0)).ravel()
    order = np.argsort(-totals, kind="stable")[:n_terms]  # the vocabulary is sorted: ties go by term
    kept = x[:, order[totals[order] >= MIN_CELL_COUNT]]
    other = np.asarray(x.sum(axis=1)).ravel() - np.asarray(kept.sum(axis=1)).ravel()
    sparse = load("scipy.sparse")
    if other.any():
        kept = sparse.hstack([kept, sparse.csr_matrix(other.reshape(-1, 1))], format="csr")
    return kept.astype(np.float64)


def _pearson(s1: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Pearson chi-squared of 2 x K tables given as first rows ``s1`` (b x K) and column ``totals``.
    A split that leaves a side without tokens gets +inf (counted as at least as extreme)."""
    t = totals.sum()
    share = totals / t
    t1 = s1.sum(axis=1)
    t2 = t - t1
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = t / (t1 * t2) * ((s1 - t1[:, None] * share) ** 2 / share).sum(axis=1)
    return np.where((t1 > 0) & (t2 > 0), x2, np.inf)


def _random_subset_sums(xt: Any, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n x K sums of the N columns of ``xt`` (K x N CSR: documents as columns) over ``n``
    independent uniform random ``k``-subsets of the documents.

    Each subset is the ``k`` smallest of iid uniform keys (float32, compared as their bit patterns,
    which order non-negative floats alike and partition faster). Keys can tie; a row of keys whose
    k-th and (k+1)-th values tie would select more than ``k`` (probability ~N / 2^24), so it is drawn
    again, which keeps the subsets exactly uniform.
    """
    out = np.empty((n, xt.shape[0]))
    todo = np.arange(n)
    while todo.size:
        keys = rng.random((todo.size, xt.shape[1]), dtype=np.float32).view(np.uint32)
        mask = keys <= np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
        ok = np.count_nonzero(mask, axis=1) == k
        # documents x subsets, C-ordered as the sparse product wants it (no copy inside scipy)
        chosen = np.ascontiguousarray((mask if ok.all() else mask[ok]).T, dtype=np.float64)
        out[todo[ok]] = (xt @ chosen).T
        todo = todo[~ok]
    return out


def _scaled_chi2_tail(observed: float, null: np.ndarray) -> float:
    """P(a chi2 > observed) for the scaled chi-squared ``a chi2_nu`` with the mean and variance of ``null``."""
    mean, var = float(null.mean()), float(null.var(ddof=1)) if null.size > 1 else 0.0
    if not (mean > 0 and var > 0):
        return 1.0
    scale, dof = var / (2 * mean), 2 * mean * mean / var
    return float(load("scipy.special").gammaincc(dof / 2, observed / scale / 2))


def doc_permutation_test(
    reference: DocSample, current: DocSample, n_terms: int, n_permutations: int, rng: np.random.Generator
) -> PermutationTest:
    """Permutation test of equal term distributions with documents as the unit.

    Parameters
    ----------
    reference, current : DocSample
        Tokenised documents of each side (uniform samples of them; see :meth:`DocSample.from_docs`).
    n_terms : int
        Terms with their own cell: the most frequent in the pooled documents (with at least
        ``MIN_CELL_COUNT`` tokens); every other token goes to ``<other>``. Chosen from the pooled
        counts, which no reassignment changes, so the choice cannot favour either side.
    n_permutations : int
    rng : numpy.random.Generator

    Returns
    -------
    PermutationTest
        ``p = (1 + #{permuted >= observed}) / (n_permutations + 1)``; when no permuted statistic
        reaches the observed one, the smaller of that and the tail of ``a chi2_nu`` fitted to the
        permutation mean and variance. p is 1 when there is nothing to compare (a side without
        documents or tokens, fewer than two cells).

    Examples
    --------
    >>> docs = DocSample.from_docs(["the cat sat", "a dog ran off"] * 10, {})
    >>> same = doc_permutation_test(docs, docs, 10, 99, np.random.default_rng(0))
    >>> round(same.statistic, 9), same.p_value
    (0.0, 1.0)
    """
    n1, n2 = reference.n_docs, current.n_docs
    x = _cell_counts(reference.concat(current), n_terms) if n1 and n2 else None
    if x is None or x.shape[1] < 2:
        return PermutationTest(0.0, 1.0, 0 if x is None else x.shape[1], (n1, n2), 0)
    totals = np.asarray(x.sum(axis=0)).ravel()
    observed = float(_pearson(np.asarray(x[:n1].sum(axis=0)).reshape(1, -1), totals)[0])
    if not np.isfinite(observed):  # one side's sampled documents have no tokens: nothing to compare
        return PermutationTest(0.0, 1.0, x.shape[1], (n1, n2), 0)
    block = max(1, _PERMUTATION_BLOCK_VALUES // x.shape[0])
    xt = x.T.tocsr()
    null = np.concatenate(
        [
            _pearson(_random_subset_sums(xt, n1, min(block, n_permutations - start), rng), totals)
            for start in range(0, n_permutations, block)
        ]
    )
    reached = int(np.count_nonzero(null >= observed * (1 - 1e-12)))  # ties count as reached
    p = (1 + reached) / (n_permutations + 1)
    tail = reached == 0
    if tail:
        p = min(p, _scaled_chi2_tail(observed, null))
    return PermutationTest(observed, p, x.shape[1], (n1, n2), n_permutations, tail)


@dataclass(frozen=True)
class TextReference:
    """Reference term counts (top ``max_vocab``), token totals, a length summary and a seeded sample of
    at most ``doc_sample`` documents (None in summaries written before it existed)."""

    n_total: int
    n_missing: int
    n_tokens: int
    vocab: pd.Series
    n_oov_expected: int
    n_invalid_utf8: int
    length: NumericReference
    options: Mapping[str, Any] = field(default_factory=dict)
    docs: DocSample | None = None
    seed: int = 0

    kind = "text"

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    @classmethod
    def build(cls, values: Any, options: Mapping[str, Any], seed: int = 0) -> TextReference:
        docs, n_total, n_invalid = clean_docs(values)
        x, terms = tokenize(docs.to_numpy(dtype=object), options)
        counts, n_tokens = _term_counts(x, terms)
        counts = counts.sort_values(ascending=False, kind="stable")
        max_vocab = int(options.get("max_vocab", 50_000))
        kept, dropped = counts.iloc[:max_vocab], counts.iloc[max_vocab:]
        n_oov = int((kept == 1).sum() + dropped.sum())  # Good-Turing missing mass (leave-one-out OOV)
        length = NumericReference.build(docs.str.len().to_numpy(np.float64))
        opts = {k: options[k] for k in (*_TOKEN_OPTIONS, "doc_sample", "n_permutations") if k in options}
        keys = np.random.default_rng([seed, _REFERENCE_STREAM]).random(docs.size)
        sample = DocSample.of(x, terms, docs.size, keys, int(options.get("doc_sample", DOC_SAMPLE)))
        return cls(n_total, n_total - int(docs.size), n_tokens, kept, n_oov, n_invalid, length, opts, sample, int(seed))

    def to_tree(self) -> dict[str, Any]:
        return {
            "kind": "text",
            "n_total": self.n_total,
            "n_missing": self.n_missing,
            "n_tokens": self.n_tokens,
            "terms": [str(t) for t in self.vocab.index],
            "counts": encode_array(self.vocab.to_numpy(np.int64)),
            "n_oov_expected": self.n_oov_expected,
            "n_invalid_utf8": self.n_invalid_utf8,
            "length": self.length.to_tree(),
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
            **({} if self.docs is None else {"docs": self.docs.to_tree(), "seed": self.seed}),
        }

    @classmethod
    def from_tree(cls, d: dict[str, Any]) -> TextReference:
        vocab = pd.Series(np.asarray(d["counts"], np.int64), index=pd.Index(d["terms"], dtype=object))
        docs = d.get("docs")  # absent in summaries written before it: token_js falls back to its bound
        return cls(
            d["n_total"],
            d["n_missing"],
            d["n_tokens"],
            vocab,
            d["n_oov_expected"],
            d["n_invalid_utf8"],
            NumericReference.from_tree(d["length"]),
            d.get("options", {}),
            None if docs is None else DocSample.from_tree(docs),
            int(d.get("seed", 0)),
        )

    def accumulator(self, part: int | None = None) -> TextAccumulator:
        """An empty current-side accumulator; ``part`` (a partition's index) gives its document
        sample a key stream of its own, so partitions folded apart and merged draw independent keys."""
        k = 0 if self.docs is None else int(self.options.get("doc_sample", DOC_SAMPLE))
        stream = [self.seed, _CURRENT_STREAM] if part is None else [self.seed, _CURRENT_STREAM, part]
        return TextAccumulator(
            options=dict(self.options),
            length=self.length.accumulator(),
            sample_size=k,
            rng=np.random.default_rng(stream) if k else None,
        )


@dataclass
class TextAccumulator:
    """Mergeable current term counts, token totals, length cells and a bottom-k document sample.

    The sample holds the ``sample_size`` documents with the smallest uniform keys drawn from ``rng``
    (one stream, so the same documents in the same order give the same sample however they are
    chunked); memory is bounded by ``sample_size``, not by the rows seen.
    """

    options: Mapping[str, Any]
    length: NumericAccumulator
    n_total: int = 0
    n_missing: int = 0
    n_tokens: int = 0
    n_invalid_utf8: int = 0
    counts: pd.Series = field(default_factory=_empty_counts)
    sample_size: int = 0
    rng: np.random.Generator | None = None
    docs: DocSample = field(default_factory=DocSample.empty)

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    def _keep(self, sample: DocSample) -> None:
        self.docs = self.docs.concat(sample).smallest(self.sample_size) if self.docs.n_docs else sample

    def update(self, values: Any) -> TextAccumulator:
        docs, n_total, n_invalid = clean_docs(values)
        x, terms = tokenize(docs.to_numpy(dtype=object), self.options)
        counts, n_tokens = _term_counts(x, terms)
        self.n_total += n_total
        self.n_missing += n_total - int(docs.size)
        self.n_tokens += n_tokens
        self.n_invalid_utf8 += n_invalid
        self.counts = counts if self.counts.empty else self.counts.add(counts, fill_value=0).astype(np.int64)
        self.length.update(docs.str.len().to_numpy(np.float64))
        if self.rng is not None and docs.size:
            # only the chunk's sample_size smallest keys can enter: at most sample_size rows are copied
            self._keep(DocSample.of(x, terms, docs.size, self.rng.random(docs.size), self.sample_size))
        return self

    def merge(self, other: TextAccumulator) -> TextAccumulator:
        self.n_total += other.n_total
        self.n_missing += other.n_missing
        self.n_tokens += other.n_tokens
        self.n_invalid_utf8 += other.n_invalid_utf8
        self.counts = (
            other.counts if self.counts.empty else self.counts.add(other.counts, fill_value=0).astype(np.int64)
        )
        self.length.merge(other.length)
        if self.sample_size and other.docs.n_docs:
            # keys of accumulators from one reference share a stream; the choice still ignores the
            # documents' content, which is what the permutation test needs
            self._keep(other.docs)
        return self


@dataclass(frozen=True)
class TextComparison:
    """Reference vs current text summaries, ready for the registered text tests."""

    ref: TextReference
    cur: TextAccumulator
    js_vocab_size: int = 500
    top_terms: int = 15

    @property
    def empty_note(self) -> str | None:
        if self.ref.n_tokens == 0:
            return "no reference tokens"
        if self.cur.n_tokens == 0:
            return "no current tokens"
        return None

    @property
    def design_effect(self) -> float:
        """Upper bound of the Rao-Scott design effect: pooled mean tokens per document (>= 1)."""
        docs = max(self.ref.n + self.cur.n, 1)
        return max(1.0, (self.ref.n_tokens + self.cur.n_tokens) / docs)

    @cached_property
    def permutation(self) -> PermutationTest | None:
        """The document permutation test on the two samples (None when the reference has none)."""
        if self.ref.docs is None:
            return None
        return doc_permutation_test(
            self.ref.docs,
            self.cur.docs,
            self.js_vocab_size,
            int(self.ref.options.get("n_permutations", N_PERMUTATIONS)),
            np.random.default_rng([self.ref.seed, _PERMUTATION_STREAM]),
        )

    @cached_property
    def in_vocab(self) -> np.ndarray:
        return self.cur.counts.index.isin(self.ref.vocab.index)

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        top = self.ref.vocab.iloc[: self.js_vocab_size]
        r = top.to_numpy(np.float64)
        c = self.cur.counts.reindex(top.index, fill_value=0).to_numpy(np.float64)
        return np.append(r, self.ref.n_tokens - r.sum()), np.append(c, self.cur.n_tokens - c.sum())

    def term_shifts(self) -> dict[str, Any]:
        """Top new, rising and falling terms with counts and rates per 1,000 tokens in both windows."""
        k = self.top_terms
        nr, nc = max(self.ref.n_tokens, 1), max(self.cur.n_tokens, 1)
        new = self.cur.counts[~self.in_vocab].sort_values(ascending=False, kind="stable").iloc[:k]
        both = pd.concat([self.ref.vocab.rename("r"), self.cur.counts[self.in_vocab].rename("c")], axis=1).fillna(0)
        delta = (both["c"] / nc - both["r"] / nr) * 1000

        def rows(idx: Any) -> list[dict[str, Any]]:
            return [
                {
                    "term": str(t),
                    "reference_count": int(both.at[t, "r"]),
                    "current_count": int(both.at[t, "c"]),
                    "reference_per_1k": float(both.at[t, "r"] / nr * 1000),
                    "current_per_1k": float(both.at[t, "c"] / nc * 1000),
                }
                for t in idx
            ]

        return {
            "new": [
                {
                    "term": str(t),
                    "reference_count": 0,
                    "current_count": int(v),
                    "reference_per_1k": 0.0,
                    "current_per_1k": float(v / nc * 1000),
                }
                for t, v in new.items()
            ],
            "rising": rows(delta[delta > 0].sort_values(ascending=False, kind="stable").index[:k]),
            "falling": rows(delta[delta < 0].sort_values(ascending=True, kind="stable").index[:k]),
        }


def _rao_scott_p(x2: float, dof: int, deff: float) -> float:
    return chi2_sf(x2 / deff, dof) if dof > 0 else 1.0


def token_js_test(cmp: TextComparison, threshold: float) -> StatResult:
    """JS distance of term frequencies (top reference terms + <other>); document permutation p-value.

    The p-value comes from :func:`doc_permutation_test` on the two document samples, or, for a
    reference summary without a sample, from the conservative Rao-Scott bound (``details["method"]``
    says which).
    """
    note = cmp.empty_note
    if note:
        return StatResult("token_js", None, None, threshold, "token_js", details={"note": note})
    r, c = cmp.table()
    perm = cmp.permutation
    if perm is None:
        x2, dof = contingency_chi2(r, c)
        deff = cmp.design_effect
        p = _rao_scott_p(x2, dof, deff)
        how: dict[str, Any] = {
            "method": "token chi2 / mean tokens per document (summary without a document "
            "sample: rebuild it for the permutation test)",
            "chi2": x2,
            "dof": dof,
            "design_effect": deff,
        }
    else:
        p, how = perm.p_value, {"method": "document permutation", **perm.details()}
    return StatResult(
        "token_js",
        js_distance(r, c),
        p,
        threshold,
        "token_js",
        details={
            **how,
            "n_tokens": {"reference": cmp.ref.n_tokens, "current": cmp.cur.n_tokens},
            "terms": cmp.term_shifts(),
        },
    )


def oov_rate_test(cmp: TextComparison, threshold: float) -> StatResult:
    """Increase of the out-of-vocabulary token rate over the reference's Good-Turing rate."""
    note = cmp.empty_note
    if note:
        return StatResult("oov_rate", None, None, threshold, "oov_rate", details={"note": note})
    cur_oov = int(cmp.cur.counts[~cmp.in_vocab].sum())
    ref_oov = cmp.ref.n_oov_expected
    rr, rc = ref_oov / cmp.ref.n_tokens, cur_oov / cmp.cur.n_tokens
    x2, dof = contingency_chi2(
        np.array([ref_oov, cmp.ref.n_tokens - ref_oov]), np.array([cur_oov, cmp.cur.n_tokens - cur_oov])
    )
    return StatResult(
        "oov_rate",
        rc - rr,
        _rao_scott_p(x2, dof, cmp.design_effect),
        threshold,
        "oov_rate",
        details={
            "reference": rr,
            "current": rc,
            "current_oov_tokens": cur_oov,
            "reference_rate_kind": "Good-Turing missing mass",
        },
    )


def length_ks_test(cmp: TextComparison, threshold: float) -> StatResult:
    """KS test on document length (characters)."""
    res = ks_test(NumericComparison(cmp.ref.length, cmp.cur.length), threshold)
    return StatResult(
        "length_ks",
        res.statistic,
        res.p_value,
        threshold,
        "length_ks",
        details={
            **res.details,
            "mean_length": {
                "reference": cmp.ref.length.mean,
                "current": float(cmp.cur.length.cell_sums.sum() / cmp.cur.length.n) if cmp.cur.length.n else None,
            },
        },
    )
