"""Multivariate drift: a domain classifier telling reference rows from current rows.

This is a classifier two-sample test (Lopez-Paz & Oquab, 2017): if a classifier scored on rows it
was not fitted on separates reference from current better than chance, the joint distributions
differ. Any classifier gives a valid test; the choice only moves power and cost.

Classifier
    A ridge-regularised least-squares discriminant (Fisher's linear discriminant up to scale) with a
    **quadratic kernel**: standardised base features ``z`` (all of them) and, for the continuous ones
    ``c`` (numeric values, text statistics), every square and **every** pairwise product. The
    feature map is ``[z, c_j^2 / sqrt(2), c_j c_k (j < k)]``, whose inner product is
    ``k(x, x') = z.z' + (c.c')^2 / 2``: a sum over columns, so no column or pair is preferred
    and a correlation change (which no per-column test can see) shows wherever its pair sits. (It
    replaced products of the *first* 20 continuous features only: a correlation change was flagged
    20/20 times with its pair listed first and 0/20 with it listed last.) For Gaussian columns every
    feature of the map has variance ~1, as the standardised base features do, so one ridge penalty
    treats them alike. Beyond ``max_interactions`` (20) continuous features every product gets the
    same weight ``g < 1`` (:func:`pair_weight`), so that all pairs together weigh as much as 20
    columns' 190 pairs: 19,900 full-weight products of 200 columns drowned a variance change that
    the column's square shows. It is solved in closed form with numpy, in whichever of two
    equivalent forms is cheaper: explicit features (``n F^2`` for ``F = p + q(q+1)/2`` features,
    the usual case up to ~45 continuous columns) or the kernel form (``n^2 (p + 2q) + n^3 / 3`` for
    ``n`` training rows, whatever the number of columns). Either gives linear weights on ``z`` and
    a symmetric matrix ``A`` with score ``z.w + c'Ac``. The price of seeing every pair is power on
    wide tables: one pair's correlation 0 -> 0.6 at 2 x 2,000 rows is flagged 10/10 times among 20
    numeric columns, 7/10 among 40 and 3/10 among 60 (a pair among the first 20 columns was
    flagged 10/10 at any width before, any other pair never).
Column and row order
    Columns are processed in sorted order of their names and each side's rows in the order of a
    seeded hash of their feature values (``row_keys``), so the same rows and columns in any order give
    bit-identical results for a given seed.
Held-out scores
    One split, stratified by side: the ``test_share`` of each side's rows with the smallest keys are
    held out, the discriminant is fitted on the rest and scores the held-out rows. The keys mix the
    seed, the side and the row's occurrence among identical rows into the hash, so (for a hash that
    behaves like a random function) the split is a uniformly random stratified split independent of
    the data, as a shuffle would be. Given the fitted model, the held-out scores are fixed and, under
    no drift, their side labels exchangeable, so the permutation null below is exact. Pooling k-fold
    cross-fitted scores would use every row but is not: each fold's model is fitted on the other
    folds' labels, the pooled AUC then varies ~sqrt(2) times more than the permutation null says, and
    false alarms run ~3x alpha (measured; the control in tests/drift/test_multivariate.py).
Null and decision
    ROC AUC of the held-out scores with a **permutation null**: side labels are permuted
    ``n_permutations`` times over the fixed held-out scores (the Mann-Whitney permutation
    distribution). p = (k + 1) / (n + 1) with k the permuted AUCs >= the observed one. Drift is
    flagged when AUC >= max(null (1 - alpha) quantile, ``min_auc``) and p < alpha. The false-alarm
    rate, column-order independence and the power against a correlation-only change in any position
    are checked by simulation in tests/drift/test_multivariate.py.
Features that drive it
    On the held-out rows, the gap between the two sides' mean scores splits exactly into one term
    per base feature: ``w_j * (mean_cur(z_j) - mean_ref(z_j))`` plus, for a continuous feature,
    ``sum_k A_jk * (mean_cur(c_j c_k) - mean_ref(c_j c_k))`` (a product's term half to each of its
    two columns); terms are summed to their source columns and reported as shares of the positive
    total (a column pulling the other way has no share).

Features: numeric values (NaN and inf -> pooled median, plus a missing indicator), one-hot of the 20
most frequent levels of categorical columns, and for text the length in characters, the token count
and the leave-one-out out-of-vocabulary share against the reference vocabulary (a reference
document's tokens that occur nowhere else in the reference count as OOV, so both sides are measured
alike). Categorical-by-numeric interactions are not expanded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from driftloop.drift._imports import load
from driftloop.drift.categorical import level_names, name_each
from driftloop.drift.config import DriftConfig
from driftloop.drift.numeric_summary import as_float
from driftloop.drift.text import clean_docs

TOP_LEVELS = 20
CLIP_QUANTILE = 0.005  # continuous features are winsorised at these pooled quantiles
MIN_ROWS = 20  # per side; below this the held-out AUC is too coarse to test anything
PERMUTATION_BLOCK = 100  # permutations drawn at once (a 100 x n_test float32 key matrix) ...
PERMUTATION_BLOCK_VALUES = 1 << 18  # ... but at most this many keys (~5 MB of temporaries), whatever max_rows


@dataclass(frozen=True)
class FeatureMatrix:
    """Base features, reference rows first, with each feature's source column.

    ``continuous`` marks the features that enter squares and pairwise products (numeric values and
    text statistics; not indicators).
    """

    x: np.ndarray
    sources: list[str]
    continuous: np.ndarray


def _text_features(ref: pd.Series, cur: pd.Series, col_ref: Any) -> np.ndarray:
    CountVectorizer = load("sklearn.feature_extraction.text").CountVectorizer

    docs = pd.concat([clean_docs(ref.fillna(""))[0], clean_docs(cur.fillna(""))[0]], ignore_index=True)
    length = docs.str.len().to_numpy(np.float64)
    o = col_ref.options
    cv = CountVectorizer(
        lowercase=o.get("lowercase", True),
        token_pattern=o.get("token_pattern", r"(?u)\b\w\w+\b"),
        ngram_range=tuple(o.get("ngram_range", (1, 1))),
        dtype=np.int64,
    )
    try:
        x = cv.fit_transform(docs.to_numpy(object)).tocsr()
    except ValueError:
        return np.column_stack([length, np.zeros_like(length), np.zeros_like(length)])
    refcount = col_ref.vocab.reindex(cv.get_feature_names_out(), fill_value=0).to_numpy(np.int64)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    is_ref_row = rows < len(ref)
    rc = refcount[x.indices]
    oov = np.where(is_ref_row, rc - x.data <= 0, rc == 0)  # leave-one-out for reference documents
    n_tok = np.asarray(x.sum(axis=1)).ravel().astype(np.float64)
    n_oov = np.bincount(rows, weights=x.data * oov, minlength=x.shape[0])
    share = np.divide(n_oov, n_tok, out=np.zeros_like(n_tok), where=n_tok > 0)
    return np.column_stack([length, n_tok, share])


def _winsorise(v: np.ndarray) -> np.ndarray:
    """``v`` clipped to its pooled [0.5%, 99.5%] quantiles.

    Without it one extreme value (a 99999 sentinel, a unit error) inflates the column's standard
    deviation, squeezes every other value towards zero after standardising, and the ridge penalty
    then hides that column's drift (measured: power 1.0 -> 0.0 for a 0.3 sd shift at 1,000 rows per
    side with one value of 1e3). The quantiles ignore the side labels, so the test stays exact.
    """
    lo, hi = np.quantile(v, [CLIP_QUANTILE, 1.0 - CLIP_QUANTILE]) if v.size else (0.0, 0.0)
    return np.clip(v, lo, hi)


def _top_level_indicators(ref: pd.Series, cur: pd.Series) -> np.ndarray:
    """0/1 columns for the ``TOP_LEVELS`` most frequent level names over both sides (missing is a level).

    Rows are mapped to integer codes once (level names via :func:`level_key`, so 1 and 1.0 are one
    level), and the indicators compare integers: comparing Python strings row by row cost ~10 ms a
    column at 2 x 2,000 rows.
    """
    both = pd.concat([ref, cur], ignore_index=True)
    if both.dtype == object or isinstance(both.dtype, pd.CategoricalDtype):
        both = name_each(both.astype(object))  # as the column tests and the stored sample name them
    codes, uniques = pd.factorize(both)  # NaN / None / pd.NA -> code -1
    names = level_names(pd.Index(uniques)).append(pd.Index(["__missing__"], dtype=object))
    name_codes, name_uniques = pd.factorize(names)  # merge 1 and 1.0
    row_codes = name_codes[codes]  # code -1 picks the last entry, "__missing__"
    counts = np.bincount(row_codes, minlength=len(name_uniques))
    # most frequent first, ties by name: the choice must not depend on which side a row is on
    # (a rank of the names as Python strings, not a fixed-width numpy string array: one long level
    # would make that n_levels x its length, and numpy strings drop trailing NULs)
    name_rank = np.empty(len(name_uniques), dtype=np.intp)
    name_rank[pd.Index(name_uniques, dtype=object).argsort()] = np.arange(len(name_uniques))
    order = np.lexsort((name_rank, -counts))
    top = order[counts[order] > 0][:TOP_LEVELS]
    return (row_codes[:, None] == top[None, :]).astype(np.float64)


def _numeric_values(
    columns: list[str], ref: pd.DataFrame, cur: pd.DataFrame
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per numeric column: its values (NaN and +-inf -> pooled median of the finite values,
    winsorised) and, when any value is missing, a 0/1 missing indicator; each as an n x 1 block.

    All columns at once: one median and one quantile call over a matrix instead of one per column.
    """
    nr = len(ref)
    v = np.empty((nr + len(cur), len(columns)), order="F")
    for j, c in enumerate(columns):
        v[:nr, j], v[nr:, j] = as_float(ref[c]), as_float(cur[c])
    bad = ~np.isfinite(v)
    v[bad] = np.nan
    v[:, bad.all(axis=0)] = 0.0  # no finite value: fill with 0 (and no all-NaN median warning)
    fill = np.nanmedian(v, axis=0) if v.size else np.zeros(len(columns))
    np.copyto(v, np.broadcast_to(fill, v.shape), where=bad)
    if v.size:  # winsorised at pooled quantiles (see _winsorise)
        lo, hi = np.quantile(v, [CLIP_QUANTILE, 1.0 - CLIP_QUANTILE], axis=0)
        np.clip(v, lo, hi, out=v)
    values = {c: v[:, j : j + 1] for j, c in enumerate(columns)}
    missing = {c: bad[:, j : j + 1].astype(np.float64) for j, c in enumerate(columns) if bad[:, j].any()}
    return values, missing


def build_features(ref: pd.DataFrame, cur: pd.DataFrame, kinds: Mapping[str, str], summary: Any) -> FeatureMatrix:
    """Stacked base features (reference rows first) and each feature's source column.

    Columns in sorted order of their names (as strings), whatever order ``kinds`` and the frames
    give them: the classifier's result must not depend on column order. Each row's features depend
    only on that row and on label-free pooled statistics (medians, quantiles, level counts), never on
    row positions.
    """
    blocks, sources, continuous = [], [], []

    def add(block: np.ndarray, column: str, is_continuous: bool) -> None:
        blocks.append(block)
        sources.extend([column] * block.shape[1])
        continuous.extend([is_continuous] * block.shape[1])

    columns = sorted(kinds, key=str)
    values, missing = _numeric_values([c for c in columns if kinds[c] == "numeric"], ref, cur)
    for c in columns:
        kind = kinds[c]
        if kind == "numeric":
            add(values[c], c, True)
            if c in missing:
                add(missing[c], c, False)
        elif kind == "text":
            add(np.apply_along_axis(_winsorise, 0, _text_features(ref[c], cur[c], summary.columns[c])), c, True)
        else:  # categorical (and any other level-valued kind)
            add(_top_level_indicators(ref[c], cur[c]), c, False)
    x = np.hstack(blocks) if blocks else np.zeros((len(ref) + len(cur), 0))
    return FeatureMatrix(x, sources, np.asarray(continuous, dtype=bool))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean 0, sd 1 over both sides (label-free); constant columns dropped.

    Each column is first divided by its largest magnitude, so neither values of 1e-13 (which an
    absolute cut-off would call constant) nor of 1e160 (whose squares overflow) lose their signal.
    Overwrites ``x`` (callers pass temporaries; this keeps one copy of the features in memory).
    """
    peak = np.maximum(x.max(axis=0, initial=0.0), -x.min(axis=0, initial=0.0))  # max |x|, no |x| copy
    x /= np.where(peak > 0, peak, 1.0)
    x -= x.mean(axis=0)
    sd = np.sqrt(np.einsum("ij,ij->j", x, x) / max(x.shape[0], 1))
    keep = sd > 1e-12  # relative to the column's largest magnitude, which is now 1
    x /= np.where(keep, sd, 1.0)
    return (x if keep.all() else x[:, keep]), keep


# splitmix64's finaliser constants (Steele, Lea & Flood 2014): a bijective mix of 64-bit words
_MIX_A, _MIX_B, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on a uint64 array (wrapping arithmetic), in place."""
    h ^= h >> np.uint64(30)
    h *= _MIX_A
    h ^= h >> np.uint64(27)
    h *= _MIX_B
    h ^= h >> np.uint64(31)
    return h


def row_keys(x: np.ndarray, seed: int, side: int) -> np.ndarray:
    """A pseudo-random uint64 key per row of ``x``, from its values, ``seed`` and ``side`` only.

    Identical rows get distinct keys: the k-th copy (k = 0, 1, ...) of a row mixes ``k`` in, so the
    keys of a side are distinct words of one hash, as independent of the data as the hash is
    random, and the set of (row, key) pairs is the same for the rows in any order. Sorting a side by
    key is then a seeded shuffle that row order cannot change.

    Parameters
    ----------
    x : ndarray of float, shape (n, p)
        One side's base features (finite values).
    seed : int
        Non-negative seed.
    side : int
        0 for the reference, 1 for the current rows (their keys are unrelated).

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    values = np.ascontiguousarray(x, dtype=np.float64) + 0.0  # -0.0 -> 0.0: equal values, equal bits
    words = values.view(np.uint64).reshape(x.shape[0], -1)
    start = _mix64(np.array([seed % (1 << 64)], dtype=np.uint64) ^ _mix64(np.array([side + 1], dtype=np.uint64)))
    h = np.repeat(start, x.shape[0])
    for j in range(words.shape[1]):  # one pass per column, each a few vector operations on n words
        h ^= words[:, j]
        _mix64(h)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    first = np.r_[True, hs[1:] != hs[:-1]] if hs.size else np.zeros(0, dtype=bool)
    copy = np.arange(hs.size) - np.maximum.accumulate(np.where(first, np.arange(hs.size), 0))
    hs += _mix64(copy.astype(np.uint64) * _GOLDEN + _GOLDEN)  # copy 0 is shifted too: one rule for all
    keys = np.empty_like(h)
    keys[order] = _mix64(hs)
    return keys


def pair_weight(n_continuous: int, max_interactions: int) -> float:
    """Weight of each pairwise product: 1 up to ``max_interactions`` continuous features, beyond
    that the same for every pair and such that all pairs together weigh as much as the pairs of
    ``max_interactions`` features, ``m(m-1)/2`` (0: no products).

    A weight ``g`` scales a product's feature by ``sqrt(g)``: under one ridge penalty, the prior
    variance of its coefficient by ``g``. Without the cap the products of 200 columns (19,900 of them)
    drowned a 1.3x variance change of one column that its square alone shows at 20 columns;
    with it, the products keep the share of the fit they had when only the first 20 columns got them,
    now spread over every pair.
    """
    n_pairs = n_continuous * (n_continuous - 1) // 2
    budget = max_interactions * (max_interactions - 1) // 2
    return 1.0 if n_pairs <= budget else budget / n_pairs


def quadratic_features(z: np.ndarray, cont: np.ndarray, pair_weight: float = 1.0) -> np.ndarray:
    """The quadratic kernel's explicit features: ``[z, c_j^2 / sqrt(2), sqrt(g) c_j c_k (j < k)]``
    with ``c = z[:, cont]`` and ``g = pair_weight``; products in the order of
    ``np.triu_indices(q, k=1)``, none when ``g = 0``.

    Their inner products are the kernel of :func:`fit_quadratic`. Filled into one column-major
    matrix a block at a time (no n x q(q-1)/2 temporaries).
    """
    q = cont.size
    c = np.asfortranarray(z[:, cont])
    p = z.shape[1]
    out = np.empty((z.shape[0], p + q + (q * (q - 1) // 2 if pair_weight > 0 else 0)), order="F")
    out[:, :p] = z
    np.square(c, out=out[:, p : p + q])
    out[:, p : p + q] *= np.sqrt(0.5)
    if pair_weight > 0:
        k = p + q
        for a in range(q - 1):  # the order of np.triu_indices(q, k=1): (0,1), (0,2), ..., (1,2), ...
            m = q - 1 - a
            np.multiply(c[:, a : a + 1], c[:, a + 1 :], out=out[:, k : k + m])
            k += m
        if pair_weight != 1.0:
            out[:, p + q :] *= np.sqrt(pair_weight)
    return out


@dataclass(frozen=True)
class QuadraticDiscriminant:
    """A fitted discriminant ``score(z) = z.linear + c' quadratic c`` (``c = z[:, continuous]``),
    up to an intercept (which no AUC or score gap needs)."""

    linear: np.ndarray
    quadratic: np.ndarray
    continuous: np.ndarray
    n_features: int
    solver: str

    def scores(self, z: np.ndarray) -> np.ndarray:
        c = z[:, self.continuous]
        return z @ self.linear + np.einsum("ij,ij->i", c @ self.quadratic, c)


def choose_solver(n: int, p: int, q: int) -> str:
    """``"primal"`` (explicit features) or ``"dual"`` (kernel), whichever costs fewer flops for ``n``
    training rows, ``p`` base and ``q`` continuous features (both give the same discriminant)."""
    f = p + q * (q + 1) / 2
    primal = n * f * f + f**3 / 3
    dual = n * n * (p + 2 * q) + n**3 / 3 + n * q * q
    return "primal" if primal <= dual else "dual"


def fit_quadratic(
    z: np.ndarray,
    y: np.ndarray,
    cont: np.ndarray,
    ridge: float,
    rows: Sequence[slice] = (slice(None),),
    pair_weight: float = 1.0,
    solver: str | None = None,
) -> QuadraticDiscriminant:
    """Ridge least squares of the side label on the quadratic kernel's features of ``z[rows]``.

    The kernel is ``k(x, x') = z.z' + sum_j c_j^2 c'_j^2 / 2 + g sum_{j<k} c_j c_k c'_j c'_k`` with
    ``c`` the continuous columns of ``z`` and ``g = pair_weight``; for ``g = 1`` it is
    ``z.z' + (c.c')^2 / 2``. Its explicit features are :func:`quadratic_features`.

    Parameters
    ----------
    z : ndarray, shape (n, p)
        Standardised base features.
    y : ndarray, shape (n,)
        Side labels (0 reference, 1 current).
    cont : ndarray of int
        Columns of ``z`` that enter squares and products.
    ridge : float
        Penalty per training row (``ridge * n_train`` on the squared weights).
    rows : sequence of slice
        Training row blocks.
    pair_weight : float
        Weight ``g`` in [0, 1] of every pairwise product (see :func:`pair_weight`).
    solver : {"primal", "dual"}, optional
        Default: :func:`choose_solver`'s choice. The two agree to rounding (tested).

    Returns
    -------
    QuadraticDiscriminant
    """
    n = sum(np.arange(y.size)[s].size for s in rows)
    p, q = z.shape[1], cont.size
    n_features = p + q + (q * (q - 1) // 2 if pair_weight > 0 else 0)
    solver = solver or ("primal" if pair_weight == 0 else choose_solver(n, p, q))
    zt = np.concatenate([z[s] for s in rows]) if len(rows) > 1 else z[rows[0]]
    yt = np.concatenate([y[s] for s in rows]) if len(rows) > 1 else y[rows[0]]
    a = np.zeros((q, q))
    if solver == "primal":
        w, _ = ridge_discriminant(quadratic_features(zt, cont, pair_weight), yt, ridge)
        a[np.diag_indices(q)] = w[p : p + q] * np.sqrt(0.5)
        if pair_weight > 0:
            i, j = np.triu_indices(q, k=1)
            a[i, j] = a[j, i] = w[p + q :] * (np.sqrt(pair_weight) / 2)
        return QuadraticDiscriminant(w[:p], a, cont, n_features, solver)
    ct = zt[:, cont]
    c2 = ct * ct
    quad = c2 @ c2.T  # sum_j c_j^2 c'_j^2
    if pair_weight > 0:  # g (c.c')^2 + (1 - g) sum_j c_j^2 c'_j^2: squares weigh 1, products g
        cc = ct @ ct.T
        cc *= cc
        quad *= 1.0 - pair_weight
        cc *= pair_weight
        quad += cc
        del cc
    quad *= 0.5
    k = zt @ zt.T
    k += quad
    del quad
    mean = k.mean(axis=0)  # centring = an unpenalised intercept, as in the primal form
    k -= mean[None, :]
    k -= mean[:, None]
    k += mean.mean()
    k[np.diag_indices(n)] += ridge * n
    alpha = np.linalg.solve(k, yt - yt.mean())  # sums to 0, so the weights need no centring
    del k
    m = ct.T @ (alpha[:, None] * ct)  # sum_i alpha_i c_i c_i'
    a += m * (0.5 * pair_weight)
    a[np.diag_indices(q)] = 0.5 * np.diag(m)
    return QuadraticDiscriminant(zt.T @ alpha, a, cont, n_features, solver)


def n_held_out(n: int, test_share: float) -> int:
    """Rows of one side held out: ``test_share`` of ``n``, at least one (else the AUC is undefined)
    and leaving at least two to fit on."""
    return min(max(round(n * test_share), 1), max(n - 2, 1))


def ridge_discriminant(
    x: np.ndarray, y: np.ndarray, ridge: float, rows: Sequence[slice] = (slice(None),)
) -> tuple[np.ndarray, float]:
    """Weights and intercept of ridge least squares of the side label on standardised features.

    Solves ``(Xc'Xc + ridge * n * I) w = Xc'(y - mean(y))`` with ``Xc`` the centred features:
    Fisher's discriminant direction, shrunk towards the identity so that hundreds of expanded
    features on a few thousand rows stay well conditioned. Fits on the row blocks ``rows`` of
    ``x`` and ``y`` (views, so the training rows are never copied).
    """
    blocks = [(x[s], y[s]) for s in rows]
    n = sum(yb.size for _, yb in blocks)
    mean_x = sum(xb.sum(axis=0) for xb, _ in blocks) / n
    mean_y = float(sum(yb.sum() for _, yb in blocks)) / n
    g = sum(xb.T @ xb for xb, _ in blocks)
    g -= n * np.outer(mean_x, mean_x)  # centred Gram without a centred copy of x (features are standardised)
    g[np.diag_indices_from(g)] += ridge * n
    w = np.linalg.solve(g, sum(xb.T @ yb for xb, yb in blocks) - n * mean_x * mean_y)
    return w, mean_y - float(mean_x @ w)


def average_ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank (``scipy.stats.rankdata(method="average")``)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    counts = np.bincount(group)
    avg = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = np.empty(a.size)
    ranks[order] = avg[group]
    return ranks


def permutation_auc_null(
    scores: np.ndarray, y: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, np.ndarray]:
    """Observed ROC AUC of ``scores`` for labels ``y`` and its permutation null distribution."""
    ranks = average_ranks(scores)
    n1, n0 = int(y.sum()), int(y.size - y.sum())

    def auc(rank_sum: np.ndarray | float) -> Any:
        return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)

    observed = float(auc(ranks[y == 1].sum()))
    null = np.empty(n_permutations)
    block = max(1, min(PERMUTATION_BLOCK, PERMUTATION_BLOCK_VALUES // max(ranks.size, 1)))
    for start in range(0, n_permutations, block):  # blocks bound the key matrix's memory
        stop = min(start + block, n_permutations)
        null[start:stop] = random_subset_sums(ranks, n1, stop - start, rng)
    return observed, auc(null)


def random_subset_sums(values: np.ndarray, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sums of ``values`` over ``n`` independent, uniformly random ``k``-subsets (0 < k < size).

    Each subset is the positions of the ``k`` smallest of iid uniform keys, which by symmetry is a
    uniform random ``k``-subset: one ``partition`` per block instead of a shuffle per permutation
    (half the time). float32 keys can tie; a row whose k-th and (k+1)-th keys tie would select more
    than ``k`` values (probability ~size / 2^24), so it is drawn again, which keeps the subsets
    exactly uniform.
    """
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        keys = rng.random((todo.size, values.size), dtype=np.float32)
        mask = keys <= np.partition(keys, k - 1, axis=1)[:, k - 1 : k]
        ok = np.count_nonzero(mask, axis=1) == k
        out[todo[ok]] = mask[ok] @ values  # exact: sums of half-integer ranks in float64
        todo = todo[~ok]
    return out


def separation_shares(
    model: QuadraticDiscriminant, z: np.ndarray, y: np.ndarray, sources: Sequence[str], rows: np.ndarray | None = None
) -> pd.Series:
    """Each source column's share of the gap between the sides' mean scores on ``z[rows]``.

    The gap is exactly ``w.g + sum_jk A_jk G_jk`` with ``g`` and ``G`` the differences of the sides'
    means of ``z`` and of ``c c'``. Base feature ``j`` is credited ``w_j g_j`` and, if continuous,
    ``sum_k A_jk G_jk`` (so a product's term is split evenly between its two columns); features are
    summed to their ``sources``. Negative column totals (pulling the other way) get no share.
    """
    rows = np.ones(y.size, dtype=bool) if rows is None else rows
    cur, ref = (rows & (y == 1)).astype(np.float64), (rows & (y == 0)).astype(np.float64)
    d = cur / cur.sum() - ref / ref.sum()  # means as products with weight vectors: no copy of the rows
    term = model.linear * (z.T @ d)
    c = z[:, model.continuous]
    term[model.continuous] += np.einsum("jk,jk->j", model.quadratic, c.T @ (d[:, None] * c))
    codes, names = pd.factorize(pd.Index(list(sources), dtype=object))  # columns in feature order
    share = pd.Series(np.bincount(codes, weights=term, minlength=len(names)), index=names).clip(lower=0.0)
    total = share.sum()
    return (share / total if total > 0 else share).sort_values(ascending=False, kind="stable")


def domain_classifier(
    ref: pd.DataFrame, cur: pd.DataFrame | None, kinds: Mapping[str, str], summary: Any, cfg: DriftConfig
) -> dict[str, Any]:
    """Run the classifier two-sample test and return a JSON-safe result section.

    The result is the same (bit for bit) for the same rows and columns in any order.

    Parameters
    ----------
    ref, cur : DataFrame
        Row samples of the reference and current windows (same columns).
    kinds : mapping column -> kind
    summary : ReferenceSummary
        For the reference vocabularies of text columns.
    cfg : DriftConfig

    Returns
    -------
    dict
        ``auc``, ``threshold``, ``p_value``, ``drifted``, ``top_features`` (column, importance), sizes;
        or ``drifted: False`` with a ``note`` when a side has fewer than 20 rows.
    """
    mv = cfg.multivariate
    if cur is None or len(ref) < MIN_ROWS or len(cur) < MIN_ROWS or not kinds:
        return {"drifted": False, "note": f"too few rows for the domain classifier (need {MIN_ROWS} per side)"}
    nr, nc = len(ref), len(cur)
    fm = build_features(ref, cur, kinds, summary)  # row by row and pooled, so rows can be reordered after
    # Each side's rows sorted by their seeded keys (a shuffle that row order cannot change), its first
    # rows held out. The training rows are then two contiguous blocks, which the fit reads as views.
    order = np.r_[
        np.argsort(row_keys(fm.x[:nr], cfg.seed, 0), kind="stable"),
        nr + np.argsort(row_keys(fm.x[nr:], cfg.seed, 1), kind="stable"),
    ]
    tr, tc = n_held_out(nr, mv.test_share), n_held_out(nc, mv.test_share)
    held, train = (slice(0, tr), slice(nr, nr + tc)), (slice(tr, nr), slice(nr + tc, nr + nc))
    y = np.r_[np.zeros(nr), np.ones(nc)]
    test = np.zeros(nr + nc, dtype=bool)
    test[held[0]] = test[held[1]] = True
    z, keep = _standardise(fm.x[order])  # a reordered copy, standardised in place
    sources = [s for s, k in zip(fm.sources, keep, strict=True) if k]
    cont = np.flatnonzero(fm.continuous[keep])
    del fm
    rng = np.random.default_rng([cfg.seed, 3])
    # One BLAS thread for every product here, the permutations' included: they take ~10 ms
    # single-threaded, and OpenBLAS's own threads made them ~10x slower on two cores that the
    # column tests keep busy (measured; see also numeric.w1_between).
    with threadpool_limits(limits=1, user_api="blas"):
        if z.shape[1] == 0:  # every feature constant on both sides: nothing can separate them
            scores, shares, n_features, solver = np.zeros(tr + tc), pd.Series(dtype=np.float64), 0, "none"
        else:
            model = fit_quadratic(
                z, y, cont, mv.ridge, rows=train, pair_weight=pair_weight(cont.size, mv.max_interactions)
            )
            scores = np.concatenate([model.scores(z[s]) for s in held])
            shares = separation_shares(model, z, y, sources, rows=test)
            n_features, solver = model.n_features, model.solver
        auc, null = permutation_auc_null(
            scores, np.r_[np.zeros(tr), np.ones(tc)].astype(np.int64), mv.n_permutations, rng
        )
    p = float((np.sum(null >= auc) + 1) / (null.size + 1))
    q = float(np.quantile(null, 1 - cfg.alpha))
    thr = max(q, mv.min_auc)
    return {
        "method": "ridge discriminant with a quadratic kernel (values, squares, every pairwise product of "
        "continuous features), held-out ROC AUC, permutation null",
        "auc": auc,
        "threshold": thr,
        "null_quantile": q,
        "p_value": p,
        "n_permutations": int(null.size),
        "drifted": bool(auc >= thr and p < cfg.alpha),
        "n_reference": int(nr),
        "n_current": int(nc),
        "n_test": tr + tc,
        "n_features": int(n_features),
        "solver": solver,
        "top_features": [{"column": str(k), "importance": float(v)} for k, v in shares.iloc[: mv.top_features].items()],
    }
