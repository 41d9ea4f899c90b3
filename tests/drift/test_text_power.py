"""token_js's document permutation test: known answers, the document sample, and its calibration.

The simulations use text generators unlike the demo's (a uniform bag of 28 English words): a Zipf
vocabulary of 6,000 made-up words (some with non-ASCII letters), lognormal document lengths from 1 to
400 tokens, line breaks, commas and capitals, and three ways for documents to be alike:

* ``zipf``: tokens independent within a document;
* ``topics``: each document draws one of six topics, each a different ranking of the vocabulary, so
  the tokens of one document are strongly dependent (the case token-level tests get wrong);
* ``templated``: 30 % of documents are one of 20 canned multi-line replies, repeated verbatim.

Drift: each current token is replaced, with probability 0.1, by a word drawn uniformly from 20
in-vocabulary words of reference ranks 50-69 (``mid``) or from the 2,000 most frequent words (``wide``).

The default run is fast (2,000 documents, 199 permutations, loose Wilson bounds). ``pytest -m slow``
runs the full version at n = 2k, 20k and 200k documents with the default 1,000 permutations and
prints every rate with its 95 % Wilson interval.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from driftloop.drift import DriftConfig, ReferenceSummary, evaluate_drift, summarize_reference
from driftloop.drift.divergence import contingency_chi2
from driftloop.drift.text import (
    MIN_CELL_COUNT,
    DocSample,
    TextComparison,
    TextReference,
    _pearson,
    _random_subset_sums,
    doc_permutation_test,
    token_js_test,
)

ALPHA = 0.05
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _vocabulary(size: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        w = "".join(rng.choice(LETTERS, rng.integers(3, 10)))
        words[w + ("ø" if rng.random() < 0.05 else "")] = None
    return np.array(list(words), dtype=object)


VOCAB = _vocabulary(6000)
_W = 1 / (np.arange(1, VOCAB.size + 1) + 2.7) ** 1.1
ZIPF = _W / _W.sum()
TOPICS = [np.random.default_rng(50 + t).permutation(VOCAB.size) for t in range(6)]
_T = np.random.default_rng(3)
TEMPLATES = np.array(
    [
        "\n".join(" ".join(VOCAB[_T.choice(VOCAB.size, _T.integers(2, 8), p=ZIPF)]) for _ in range(_T.integers(1, 4)))
        for _ in range(20)
    ],
    dtype=object,
)
GENERATORS = ("zipf", "topics", "templated")


def texts(n: int, rng: np.random.Generator, kind: str = "zipf", move: float = 0.0, onto: str = "mid") -> list[str]:
    """``n`` documents of generator ``kind``; ``move`` of the tokens moved onto in-vocabulary words."""
    lengths = np.clip(np.round(rng.lognormal(np.log(20), 0.9, n)), 1, 400).astype(np.int64)
    ids = rng.choice(VOCAB.size, size=int(lengths.sum()), p=ZIPF)  # ranks
    if move:
        moved = rng.random(ids.size) < move
        targets = np.arange(50, 70) if onto == "mid" else np.arange(2000)
        ids[moved] = targets[rng.integers(0, targets.size, int(moved.sum()))]
    if kind == "topics":
        topic = np.repeat(rng.choice(6, n, p=np.arange(6, 0, -1) / 21), lengths)
        for t in range(6):
            ids[topic == t] = TOPICS[t][ids[topic == t]]
    words = VOCAB[ids]
    capital = rng.random(ids.size) < 0.05
    words[capital] = [w.capitalize() for w in words[capital]]
    u = rng.random(ids.size)
    pieces = words + np.where(u < 0.08, "\n", np.where(u < 0.13, ", ", " ")).astype(object)
    docs = np.array(["".join(p).strip() for p in np.split(pieces, np.cumsum(lengths)[:-1])], dtype=object)
    if kind == "templated":
        canned = rng.random(n) < 0.3
        docs[canned] = TEMPLATES[rng.choice(TEMPLATES.size, int(canned.sum()), p=np.arange(20, 0, -1) / 210)]
    return list(docs)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (z = 2.576 for 99 %)."""
    from driftloop.drift.unseen import wilson_interval as _library_wilson  # the one implementation

    if n <= 0:
        return 0.0, 1.0
    return _library_wilson(k, n, z)


def _options(**over) -> dict:
    return {**DriftConfig.from_dict({}).text.options, **over}


def token_js(ref_docs: list[str], cur_docs: list[str], seed: int = 0, chunk: int | None = None, **options):
    """token_js on raw documents through the summary path (reference built once, current in chunks)."""
    opts = _options(**options)
    ref = TextReference.build(pd.Series(ref_docs, dtype=object), opts, seed)
    acc = ref.accumulator()
    chunk = chunk or max(len(cur_docs), 1)
    for start in range(0, len(cur_docs), chunk):
        acc.update(pd.Series(cur_docs[start : start + chunk], dtype=object))
    return token_js_test(TextComparison(ref, acc, opts["js_vocab_size"], opts["top_terms"]), 0.1)


# ----------------------------------------------------------------------------- known answers
def test_statistic_is_the_pearson_chi2_of_the_sampled_table():
    rng = np.random.default_rng(1)
    ref, cur = texts(300, rng), texts(200, rng, move=0.2)
    a, b = DocSample.from_docs(ref, {}), DocSample.from_docs(cur, {})
    res = doc_permutation_test(a, b, 40, 99, np.random.default_rng(0))
    pooled = a.concat(b)
    x = pooled.matrix()
    totals = np.asarray(x.sum(axis=0)).ravel()
    top = np.argsort(-totals, kind="stable")[:40]
    top = top[totals[top] >= MIN_CELL_COUNT]
    r, c = np.asarray(x[:300].sum(axis=0)).ravel(), np.asarray(x[300:].sum(axis=0)).ravel()
    table_r, table_c = np.append(r[top], r.sum() - r[top].sum()), np.append(c[top], c.sum() - c[top].sum())
    expected, dof = contingency_chi2(table_r, table_c)
    assert res.statistic == pytest.approx(expected, rel=1e-12) and res.n_cells == dof + 1 == 41
    assert res.n_documents == (300, 200)


def test_pearson_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(2)
    table = rng.integers(0, 30, size=(2, 7)) + 1
    ours = _pearson(table[:1].astype(float), table.sum(axis=0).astype(float))[0]
    assert ours == pytest.approx(stats.chi2_contingency(table, correction=False)[0], rel=1e-12)


def test_permutation_p_value_matches_full_enumeration():
    """Three documents a side: all C(6, 3) = 20 splits enumerated give the exact p-value."""
    ref = ["apple apple pear plum", "apple pear", "apple apple apple kiwi"]
    cur = ["pear pear plum", "kiwi kiwi pear plum plum", "apple pear pear"]
    a, b = DocSample.from_docs(ref, {}), DocSample.from_docs(cur, {})
    x = a.concat(b).matrix().toarray().astype(float)
    totals = x.sum(axis=0)
    keep = totals >= MIN_CELL_COUNT
    cells = np.column_stack([x[:, keep], x[:, ~keep].sum(axis=1)]) if (~keep).any() else x[:, keep]
    splits = [list(s) for s in itertools.combinations(range(6), 3)]
    stats = _pearson(np.array([cells[s].sum(axis=0) for s in splits]), cells.sum(axis=0))
    observed = stats[0]  # the split (0, 1, 2) is the observed one
    exact = np.mean(stats >= observed * (1 - 1e-12))
    n_perm = 20_000
    res = doc_permutation_test(a, b, 500, n_perm, np.random.default_rng(5))
    assert res.statistic == pytest.approx(observed, rel=1e-12)
    assert abs(res.p_value - exact) < 4 * math.sqrt(exact * (1 - exact) / n_perm) + 1 / n_perm


def test_identical_documents_give_p_one_and_disjoint_ones_a_fitted_tail():
    rng = np.random.default_rng(3)
    docs = DocSample.from_docs(texts(400, rng), {})
    same = doc_permutation_test(docs, docs, 500, 199, np.random.default_rng(0))
    assert same.statistic < 1e-20 and same.p_value == 1.0 and not same.tail_fit
    other = DocSample.from_docs([d.upper() + " zzz" for d in texts(400, rng)], {"lowercase": False})
    apart = doc_permutation_test(
        DocSample.from_docs(texts(400, rng), {"lowercase": False}), other, 500, 199, np.random.default_rng(0)
    )
    assert apart.tail_fit and 0 <= apart.p_value <= 1 / 200 and apart.p_value < 1e-12


def test_nothing_to_compare_gives_p_one():
    empty = DocSample.from_docs(["", "  ", "!"], {})
    some = DocSample.from_docs(["alpha beta"] * 10, {})
    for a, b in ((empty, some), (some, DocSample.empty()), (empty, empty)):
        res = doc_permutation_test(a, b, 500, 99, np.random.default_rng(0))
        assert res.p_value == 1.0 and res.statistic == 0.0


class _TiesFirst:
    """A Generator whose first draw of keys is all zeros (every key ties), then the real stream."""

    def __init__(self, seed: int):
        self.rng, self.first = np.random.default_rng(seed), True

    def random(self, shape, dtype=np.float64):
        if self.first:
            self.first = False
            return np.zeros(shape, dtype=dtype)
        return self.rng.random(shape, dtype=dtype)


@pytest.mark.parametrize("rng", [np.random.default_rng(0), _TiesFirst(0)], ids=["plain", "ties-redrawn"])
def test_random_subsets_are_exactly_k_and_uniform(rng):
    sparse = pytest.importorskip("scipy.sparse")
    n_docs, k, n = 12, 5, 6000
    sums = _random_subset_sums(sparse.identity(n_docs, format="csr"), k, n, rng)  # one column per document
    assert set(np.unique(sums)) <= {0.0, 1.0} and (sums.sum(axis=1) == k).all()
    share = sums.mean(axis=0)
    assert np.abs(share - k / n_docs).max() < 4 * math.sqrt(k / n_docs * (1 - k / n_docs) / n)


# ----------------------------------------------------------------------------- the document sample
def test_reservoir_is_bounded_and_the_same_in_any_chunking():
    rng = np.random.default_rng(4)
    ref, cur = texts(500, rng), texts(3000, rng)
    opts = _options(doc_sample=300)
    reference = TextReference.build(pd.Series(ref, dtype=object), opts, 7)
    assert reference.docs.n_docs == 300
    whole = reference.accumulator().update(pd.Series(cur, dtype=object))
    chunked = reference.accumulator()
    for start in range(0, 3000, 700):
        chunked.update(pd.Series(cur[start : start + 700], dtype=object))
    assert whole.docs.n_docs == chunked.docs.n_docs == 300
    for f in ("terms", "indptr", "indices", "counts", "keys"):
        np.testing.assert_array_equal(getattr(whole.docs, f), getattr(chunked.docs, f))
    first, second = reference.accumulator(), reference.accumulator()
    first.update(pd.Series(cur[:1500], dtype=object))
    second.update(pd.Series(cur[1500:], dtype=object))
    merged = first.merge(second)
    assert merged.docs.n_docs == 300 and merged.n_total == 3000


def test_sampled_documents_keep_their_term_counts():
    docs = ["Red red BLUE", "green\nred, blue blue", "", "violet"]
    s = DocSample.from_docs(docs, {})
    x = s.matrix().toarray()
    col = {t: i for i, t in enumerate(s.terms)}
    assert list(s.terms) == sorted(s.terms)
    assert x[0, col["red"]] == 2 and x[0, col["blue"]] == 1 and x[1, col["blue"]] == 2 and x[2].sum() == 0
    assert x[3, col["violet"]] == 1


def test_summary_round_trip_and_size(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"t": texts(5000, rng), "x": rng.normal(size=5000)})
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}, "text": {"doc_sample": 500}})
    s = summarize_reference(df, {"t": "text", "x": "numeric"}, cfg)
    path = s.save(tmp_path / "summary.npz")
    back = ReferenceSummary.load(path)
    a, b = s.columns["t"].docs, back.columns["t"].docs
    assert b.n_docs == 500 and back.columns["t"].seed == cfg.seed
    for f in ("terms", "indptr", "indices", "counts"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    cur = pd.DataFrame({"t": texts(800, rng, move=0.1), "x": rng.normal(size=800)})
    assert evaluate_drift(s, cur, cfg).to_dict() == evaluate_drift(back, cur, cfg).to_dict()
    # the sample is bounded by doc_sample, not by the reference's rows
    big = summarize_reference(pd.DataFrame({"t": texts(20_000, rng)}), {"t": "text"}, cfg).columns["t"].docs
    assert big.n_docs == 500 and 0.7 < big.counts.size / a.counts.size < 1.4


def test_old_summary_without_a_sample_falls_back_to_the_bound():
    rng = np.random.default_rng(6)
    ref = TextReference.build(pd.Series(texts(500, rng), dtype=object), _options(), 0)
    tree = ref.to_tree()
    del tree["docs"], tree["seed"]
    old = TextReference.from_tree(tree)
    assert old.docs is None and old.accumulator().sample_size == 0
    acc = old.accumulator().update(pd.Series(texts(500, rng), dtype=object))
    res = token_js_test(TextComparison(old, acc), 0.1)
    assert res.details["method"].startswith("token chi2 / mean tokens per document") and res.p_value > 0.5
    assert acc.docs.n_docs == 0


def test_determinism_and_seed():
    rng = np.random.default_rng(7)
    ref, cur = texts(600, rng), texts(600, rng)
    assert token_js(ref, cur, seed=1) == token_js(ref, cur, seed=1)
    one, two = (token_js(ref, cur, seed=s, doc_sample=100).details["chi2_documents"] for s in (1, 2))
    assert one != two  # the seed chooses the sampled documents


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("doc_sample", 1, r"drift\.text\.doc_sample must be an integer >= 2"),
        ("n_permutations", 50, r"drift\.text\.n_permutations must be an integer >= 99"),
        ("n_permutations", 1.5, r"drift\.text\.n_permutations must be an integer"),
    ],
)
def test_config_validation(key, value, match):
    from driftloop.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        DriftConfig.from_dict({"text": {key: value}})


# ----------------------------------------------------------------------------- calibration and power
def _rates(
    n: int, trials: int, kind: str, seed: int, move: float = 0.0, onto: str = "mid", chunk: int | None = None, **options
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [
        token_js(texts(n, rng, kind), texts(n, rng, kind, move, onto), seed=s, chunk=chunk, **options)
        for s in range(trials)
    ]
    return np.array([r.p_value for r in out]), np.array([r.statistic for r in out])


def test_false_alarms_within_alpha_at_2k():
    """No drift, 2,000 documents a side, three generators pooled: rate <= alpha (loose 99 % Wilson)."""
    p = np.concatenate(
        [_rates(2000, 12, kind, seed=100 + i, n_permutations=199)[0] for i, kind in enumerate(GENERATORS)]
    )
    k = int((p < ALPHA).sum())
    assert wilson(k, p.size, 2.576)[0] <= ALPHA, (k, p.size)
    assert 0.2 < np.median(p) < 0.8  # the old bound's p-values had median 1.0


@pytest.mark.parametrize("kind, onto", [("zipf", "wide"), ("topics", "mid"), ("templated", "wide")])
def test_power_for_ten_percent_of_tokens_moved_at_2k(kind, onto):
    p, _ = _rates(2000, 6, kind, seed=200, move=0.1, onto=onto, n_permutations=199)
    assert (p < ALPHA).all(), p  # power ~1 here (slow version: 50 trials each); 6 / 6 -> Wilson 99 % >= 0.47


def test_a_moved_column_is_flagged_by_evaluate_drift():
    """The whole decision (effect threshold and corrected p) flags a 10 % move onto 20 words at 2k
    documents; the same data without the move is not flagged."""
    rng = np.random.default_rng(8)
    cfg = DriftConfig.from_dict({"multivariate": {"enabled": False}})
    ref = pd.DataFrame({"note": texts(2000, rng, "topics"), "x": rng.normal(size=2000)})
    s = summarize_reference(ref, {"note": "text", "x": "numeric"}, cfg)
    moved = evaluate_drift(s, pd.DataFrame({"note": texts(2000, rng, "topics", 0.1), "x": rng.normal(size=2000)}), cfg)
    same = evaluate_drift(s, pd.DataFrame({"note": texts(2000, rng, "topics"), "x": rng.normal(size=2000)}), cfg)
    tj = moved.columns["note"].tests["token_js"]
    assert tj.drifted and tj.details["method"] == "document permutation" and "note" in moved.drifted_columns
    assert not same.columns["note"].tests["token_js"].drifted


@pytest.mark.slow
@pytest.mark.parametrize(
    "n, trials, chunk", [(2000, 200, None), (20_000, 60, 7000), (200_000, 12, 70_000)], ids=["2k", "20k", "200k"]
)
@pytest.mark.parametrize("kind", GENERATORS)
def test_false_alarm_rate_full(kind, n, trials, chunk, capsys):
    p, js = _rates(n, trials, kind, seed=1000 * GENERATORS.index(kind) + n // 1000, chunk=chunk)
    k = int((p < ALPHA).sum())
    lo, hi = wilson(k, trials)
    with capsys.disabled():
        print(
            f"\n[text false alarms] {kind} n={n}: p<{ALPHA} in {k}/{trials} = {k / trials:.3f} "
            f"[{lo:.3f}, {hi:.3f}]; p<0.01 in {int((p < 0.01).sum())}; median JS {np.median(js):.3f}"
        )
    assert wilson(k, trials, 2.576)[0] <= ALPHA


@pytest.mark.slow
@pytest.mark.parametrize("onto", ["mid", "wide"])
@pytest.mark.parametrize("kind", GENERATORS)
def test_power_full(kind, onto, capsys):
    p, js = _rates(2000, 50, kind, seed=300, move=0.1, onto=onto)
    k, both = int((p < ALPHA).sum()), int(((p < ALPHA) & (js >= 0.1)).sum())
    lo, hi = wilson(k, p.size)
    with capsys.disabled():
        print(
            f"\n[text power] {kind} 10% onto {onto} n=2000: p<{ALPHA} in {k}/{p.size} = {k / p.size:.3f} "
            f"[{lo:.3f}, {hi:.3f}]; with JS >= 0.1 too: {both}/{p.size}; median JS {np.median(js):.3f}"
        )
    assert lo >= (0.8 if (kind, onto) != ("topics", "wide") else 0.5)
