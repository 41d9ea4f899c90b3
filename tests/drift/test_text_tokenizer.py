"""The text tokenizer without sklearn gives CountVectorizer's counts and terms, bit for bit.

:func:`driftloop.drift.text.tokenize` counts terms itself for the options the config accepts (so
that a snapshot imports no sklearn); options only sklearn can say the meaning of still go through
``CountVectorizer``. Rows are compared after sorting their column indices: CountVectorizer leaves
them in first-seen order, which no caller depends on.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from driftloop.drift import text

WORDS = ["Good", "bad", "ÉTÉ", "naïve", "x", "a1", "b_2", "ß", "İstanbul", "don't", "🙂", "ok-ok", "ǅ", "Straße"]


def _docs(n: int = 800, seed: int = 0) -> np.ndarray:
    rng = random.Random(seed)
    docs = [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 12))) + rng.choice(["", "!", " ..", "\n"])
        for _ in range(n)
    ]
    return np.asarray([*docs, ""], dtype=object)


def _sklearn(docs: np.ndarray, options: dict) -> tuple[object, np.ndarray]:
    cv = CountVectorizer(
        lowercase=options.get("lowercase", True),
        token_pattern=options.get("token_pattern", r"(?u)\b\w\w+\b"),
        ngram_range=tuple(options.get("ngram_range", (1, 1))),
        dtype=np.int64,
    )
    x = cv.fit_transform(docs).tocsr()
    x.sort_indices()
    return x, cv.get_feature_names_out().astype(object)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"lowercase": False},
        {"ngram_range": (1, 2)},
        {"ngram_range": [2, 3]},
        {"ngram_range": (3, 3)},
        {"token_pattern": r"(?u)\b(\w)\w*\b"},  # one group: findall gives the group
        {"token_pattern": r"\S+", "ngram_range": (1, 3), "lowercase": False},
        {"token_pattern": r"(a)?b"},  # a group that may not take part: empty-string terms
    ],
)
def test_counts_and_terms_equal_countvectorizers(options):
    docs = _docs()
    assert not text.uses_sklearn(options)
    x, terms = text.tokenize(docs, options)
    y, expected = _sklearn(docs, options)
    assert list(terms) == list(expected)
    assert x.shape == y.shape and x.dtype == y.dtype == np.int64
    assert np.array_equal(x.indptr, y.indptr)
    assert np.array_equal(x.indices, y.indices)
    assert np.array_equal(x.data, y.data)


def test_no_token_anywhere_is_no_matrix_as_with_countvectorizer():
    x, terms = text.tokenize(np.asarray(["", "a b"], dtype=object), {})
    assert x is None and terms.size == 0


@pytest.mark.parametrize(
    "options",
    [{"token_pattern": r"(a)(b)"}, {"ngram_range": (2, 1)}, {"lowercase": 1}, {"ngram_range": (1.0, 2.0)}],
)
def test_options_only_sklearn_interprets_still_go_through_it(options):
    assert text.uses_sklearn(options)
