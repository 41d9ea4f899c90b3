"""Text columns: token frequencies against the reference vocabulary, OOV rate, length.

Tokenisation is scikit-learn's ``CountVectorizer`` (configurable ``lowercase``, ``token_pattern``,
``ngram_range``), applied per chunk; chunk term counts merge by addition.

Tests
-----
``token_js``
    Jensen-Shannon distance (base 2) between term distributions restricted to the ``js_vocab_size``
    most frequent reference terms plus one ``<other>`` bucket (every other term, new ones included).
    Restricting the support keeps the sampling noise of JS small on a few thousand documents (over a
    full sparse vocabulary two samples of one distribution are far apart by chance alone).
    Its p-value is a Pearson chi-squared on the 2 x (V + 1) table of token counts, **Rao-Scott
    corrected** for tokens clustered within documents: the statistic is divided by the design effect,
    bounded above by the mean number of tokens per document (perfect within-document correlation).
    This is conservative; the token-level chi-squared alone would be badly anti-conservative.
``oov_rate``
    Statistic: current out-of-vocabulary rate minus the reference's expected OOV rate (an increase
    drifts, a decrease does not). The reference vocabulary is every reference term (at most
    ``max_vocab``, the most frequent). The reference rate is the Good-Turing missing-mass estimate
    (terms seen once / tokens, plus tokens of terms beyond ``max_vocab``): the OOV rate a fresh
    sample of the same distribution would show, so no-drift current data is not flagged just because
    a finite reference has not seen every rare word. p-value: 2 x 2 chi-squared, Rao-Scott corrected as above.
``length_ks``
    KS test on document length in characters (exact reference ECDF; see ``numeric``).

Bad input: bytes that are not valid UTF-8 are decoded with U+FFFD replacement and lone surrogates in
str values replaced likewise; their count is reported as ``n_invalid_utf8``. Missing documents are
counted for the missing-rate test; empty strings are documents with no tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np
import pandas as pd

from driftloop.drift._codec import encode_array
from driftloop.drift.divergence import chi2_sf, contingency_chi2, js_distance
from driftloop.drift.numeric import NumericAccumulator, NumericComparison, NumericReference, ks_test
from driftloop.drift.results import StatResult
from driftloop.drift._imports import load

OTHER = "<other>"
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


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


def tokenize_counts(docs: pd.Series, options: Mapping[str, Any]) -> tuple[pd.Series, int]:
    """(term counts, total tokens) of a chunk of clean documents."""
    CountVectorizer = load("sklearn.feature_extraction.text").CountVectorizer

    if docs.size == 0:
        return _empty_counts(), 0
    cv = CountVectorizer(lowercase=options.get("lowercase", True),
                         token_pattern=options.get("token_pattern", r"(?u)\b\w\w+\b"),
                         ngram_range=tuple(options.get("ngram_range", (1, 1))), dtype=np.int64)
    try:
        x = cv.fit_transform(docs.to_numpy(dtype=object))
    except ValueError:  # empty vocabulary: no document has a token
        return _empty_counts(), 0
    counts = np.asarray(x.sum(axis=0)).ravel()
    return pd.Series(counts, index=pd.Index(cv.get_feature_names_out(), dtype=object)), int(counts.sum())


@dataclass(frozen=True)
class TextReference:
    """Reference term counts (top ``max_vocab``), token totals and a length summary."""

    n_total: int
    n_missing: int
    n_tokens: int
    vocab: pd.Series
    n_oov_expected: int
    n_invalid_utf8: int
    length: NumericReference
    options: Mapping[str, Any] = field(default_factory=dict)

    kind = "text"

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    @classmethod
    def build(cls, values: Any, options: Mapping[str, Any]) -> "TextReference":
        docs, n_total, n_invalid = clean_docs(values)
        counts, n_tokens = tokenize_counts(docs, options)
        counts = counts.sort_values(ascending=False, kind="stable")
        max_vocab = int(options.get("max_vocab", 50_000))
        kept, dropped = counts.iloc[:max_vocab], counts.iloc[max_vocab:]
        n_oov = int((kept == 1).sum() + dropped.sum())  # Good-Turing missing mass (leave-one-out OOV)
        length = NumericReference.build(docs.str.len().to_numpy(np.float64))
        opts = {k: options[k] for k in ("lowercase", "token_pattern", "ngram_range") if k in options}
        return cls(n_total, n_total - int(docs.size), n_tokens, kept, n_oov, n_invalid, length, opts)

    def to_tree(self) -> dict[str, Any]:
        return {"kind": "text", "n_total": self.n_total, "n_missing": self.n_missing, "n_tokens": self.n_tokens,
                "terms": [str(t) for t in self.vocab.index], "counts": encode_array(self.vocab.to_numpy(np.int64)),
                "n_oov_expected": self.n_oov_expected, "n_invalid_utf8": self.n_invalid_utf8,
                "length": self.length.to_tree(),
                "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()}}

    @classmethod
    def from_tree(cls, d: dict[str, Any]) -> "TextReference":
        vocab = pd.Series(np.asarray(d["counts"], np.int64), index=pd.Index(d["terms"], dtype=object))
        return cls(d["n_total"], d["n_missing"], d["n_tokens"], vocab, d["n_oov_expected"], d["n_invalid_utf8"],
                   NumericReference.from_tree(d["length"]), d.get("options", {}))

    def accumulator(self) -> "TextAccumulator":
        return TextAccumulator(options=dict(self.options), length=self.length.accumulator())


@dataclass
class TextAccumulator:
    """Mergeable current term counts, token totals and length cells."""

    options: Mapping[str, Any]
    length: NumericAccumulator
    n_total: int = 0
    n_missing: int = 0
    n_tokens: int = 0
    n_invalid_utf8: int = 0
    counts: pd.Series = field(default_factory=_empty_counts)

    @property
    def n(self) -> int:
        return self.n_total - self.n_missing

    def update(self, values: Any) -> "TextAccumulator":
        docs, n_total, n_invalid = clean_docs(values)
        counts, n_tokens = tokenize_counts(docs, self.options)
        self.n_total += n_total
        self.n_missing += n_total - int(docs.size)
        self.n_tokens += n_tokens
        self.n_invalid_utf8 += n_invalid
        self.counts = counts if self.counts.empty else self.counts.add(counts, fill_value=0).astype(np.int64)
        self.length.update(docs.str.len().to_numpy(np.float64))
        return self

    def merge(self, other: "TextAccumulator") -> "TextAccumulator":
        self.n_total += other.n_total
        self.n_missing += other.n_missing
        self.n_tokens += other.n_tokens
        self.n_invalid_utf8 += other.n_invalid_utf8
        self.counts = other.counts if self.counts.empty else self.counts.add(other.counts, fill_value=0).astype(np.int64)
        self.length.merge(other.length)
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
            return [{"term": str(t), "reference_count": int(both.at[t, "r"]), "current_count": int(both.at[t, "c"]),
                     "reference_per_1k": float(both.at[t, "r"] / nr * 1000),
                     "current_per_1k": float(both.at[t, "c"] / nc * 1000)} for t in idx]

        return {
            "new": [{"term": str(t), "reference_count": 0, "current_count": int(v), "reference_per_1k": 0.0,
                     "current_per_1k": float(v / nc * 1000)} for t, v in new.items()],
            "rising": rows(delta[delta > 0].sort_values(ascending=False, kind="stable").index[:k]),
            "falling": rows(delta[delta < 0].sort_values(ascending=True, kind="stable").index[:k]),
        }


def _rao_scott_p(x2: float, dof: int, deff: float) -> float:
    return chi2_sf(x2 / deff, dof) if dof > 0 else 1.0


def token_js_test(cmp: TextComparison, threshold: float) -> StatResult:
    """JS distance of term frequencies (top reference terms + <other>); Rao-Scott chi2 p-value."""
    note = cmp.empty_note
    if note:
        return StatResult("token_js", None, None, threshold, "token_js", details={"note": note})
    r, c = cmp.table()
    x2, dof = contingency_chi2(r, c)
    deff = cmp.design_effect
    return StatResult("token_js", js_distance(r, c), _rao_scott_p(x2, dof, deff), threshold, "token_js",
                      details={"chi2": x2, "dof": dof, "design_effect": deff,
                               "n_tokens": {"reference": cmp.ref.n_tokens, "current": cmp.cur.n_tokens},
                               "terms": cmp.term_shifts()})


def oov_rate_test(cmp: TextComparison, threshold: float) -> StatResult:
    """Increase of the out-of-vocabulary token rate over the reference's Good-Turing rate."""
    note = cmp.empty_note
    if note:
        return StatResult("oov_rate", None, None, threshold, "oov_rate", details={"note": note})
    cur_oov = int(cmp.cur.counts[~cmp.in_vocab].sum())
    ref_oov = cmp.ref.n_oov_expected
    rr, rc = ref_oov / cmp.ref.n_tokens, cur_oov / cmp.cur.n_tokens
    x2, dof = contingency_chi2(np.array([ref_oov, cmp.ref.n_tokens - ref_oov]),
                               np.array([cur_oov, cmp.cur.n_tokens - cur_oov]))
    return StatResult("oov_rate", rc - rr, _rao_scott_p(x2, dof, cmp.design_effect), threshold, "oov_rate",
                      details={"reference": rr, "current": rc, "current_oov_tokens": cur_oov,
                               "reference_rate_kind": "Good-Turing missing mass"})


def length_ks_test(cmp: TextComparison, threshold: float) -> StatResult:
    """KS test on document length (characters)."""
    res = ks_test(NumericComparison(cmp.ref.length, cmp.cur.length), threshold)
    return StatResult("length_ks", res.statistic, res.p_value, threshold, "length_ks", details={
        **res.details, "mean_length": {"reference": cmp.ref.length.mean,
                                       "current": float(cmp.cur.length.cell_sums.sum() / cmp.cur.length.n)
                                       if cmp.cur.length.n else None}})
