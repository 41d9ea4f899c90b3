"""Multivariate drift: a domain classifier telling reference rows from current rows.

This is a classifier two-sample test (Lopez-Paz & Oquab, 2017): if a classifier scored on rows it
was not fitted on separates reference from current better than chance, the joint distributions
differ. Any classifier gives a valid test; the choice only moves power and cost.

Classifier
    A ridge-regularised least-squares discriminant (Fisher's linear discriminant up to scale) on a
    quadratic expansion of the columns: standardised values, their squares (variance and shape
    changes) and pairwise products of up to ``max_interactions`` continuous features (correlation
    changes, which no per-column test can see), plus missing indicators, one-hot top levels of
    categorical columns and three statistics per text column. It is solved in closed form with
    numpy, so the test costs tens of milliseconds and imports nothing: a random forest cost ~1 s
    to fit and sklearn ~1.2 s to import, which broke the suite's time budget at 100k rows.
Held-out scores
    One split, stratified by side: ``test_share`` of each side's rows is held out, the
    discriminant is fitted on the rest and scores the held-out rows. Given the fitted model, the
    held-out scores are fixed and, under no drift, their side labels exchangeable, so the
    permutation null below is exact. Pooling k-fold cross-fitted scores would use every row but
    is not: each fold's model is fitted on the other folds' labels, the pooled AUC then varies
    ~sqrt(2) times more than the permutation null says, and false alarms run ~3x alpha (measured;
    the control in tests/drift/test_multivariate.py). (The random forest this module used before
    scored rows out of bag and held its level: 0.055 in 200 no-drift trials; it was replaced for
    its cost, not its validity.)
Null and decision
    ROC AUC of the held-out scores with a **permutation null**: side labels are permuted
    ``n_permutations`` times over the fixed held-out scores (the Mann-Whitney permutation
    distribution). p = (k + 1) / (n + 1) with k the permuted AUCs >= the observed one. Drift is
    flagged when AUC >= max(null (1 - alpha) quantile, ``min_auc``) and p < alpha. The false-alarm
    rate and the power against a correlation-only change are checked by simulation in
    tests/drift/test_multivariate.py.
Features that drive it
    On the held-out rows, the gap between the two sides' mean scores splits exactly into one term
    per feature, ``w_j * (mean_cur(x_j) - mean_ref(x_j))``; terms are summed back to their
    source columns (a product's term half to each column) and reported as shares of the positive
    total (a column pulling the other way has no share).

Features: numeric values (NaN and inf -> pooled median, plus a missing indicator), one-hot of the 20
most frequent levels of categorical columns, and for text the length in characters, the token count
and the leave-one-out out-of-vocabulary share against the reference vocabulary (a reference
document's tokens that occur nowhere else in the reference count as OOV, so both sides are measured
alike). Categorical-by-numeric interactions are not expanded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from driftloop.drift.categorical import level_names, name_each
from driftloop.drift.config import DriftConfig
from driftloop.drift.numeric import as_float
from driftloop.drift.text import clean_docs
from driftloop.drift._imports import load

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
    cv = CountVectorizer(lowercase=o.get("lowercase", True), token_pattern=o.get("token_pattern", r"(?u)\b\w\w+\b"),
                         ngram_range=tuple(o.get("ngram_range", (1, 1))), dtype=np.int64)
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


def _numeric_values(columns: list[str], ref: pd.DataFrame, cur: pd.DataFrame
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
    values = {c: v[:, j:j + 1] for j, c in enumerate(columns)}
    missing = {c: bad[:, j:j + 1].astype(np.float64) for j, c in enumerate(columns) if bad[:, j].any()}
    return values, missing


def build_features(ref: pd.DataFrame, cur: pd.DataFrame, kinds: Mapping[str, str], summary: Any) -> FeatureMatrix:
    """Stacked base features (reference rows first) and each feature's source column."""
    blocks, sources, continuous = [], [], []

    def add(block: np.ndarray, column: str, is_continuous: bool) -> None:
        blocks.append(block)
        sources.extend([column] * block.shape[1])
        continuous.extend([is_continuous] * block.shape[1])

    values, missing = _numeric_values([c for c, k in kinds.items() if k == "numeric"], ref, cur)
    for c, kind in kinds.items():
        if kind == "numeric":
            add(values[c], c, True)
            if c in missing:
                add(missing[c], c, False)
        elif kind == "categorical":
            add(_top_level_indicators(ref[c], cur[c]), c, False)
        else:
            add(np.apply_along_axis(_winsorise, 0, _text_features(ref[c], cur[c], summary.columns[c])), c, True)
    x = np.hstack(blocks) if blocks else np.zeros((len(ref) + len(cur), 0))
    return FeatureMatrix(x, sources, np.asarray(continuous, dtype=bool))


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean 0, sd 1 over both sides (label-free); constant columns dropped.

    Each column is first divided by its largest magnitude, so neither values of 1e-13 (which an
    absolute cut-off would call constant) nor of 1e160 (whose squares overflow) lose their signal.
    Overwrites ``x`` (callers pass temporaries; this keeps one copy of the expansion in memory).
    """
    peak = np.maximum(x.max(axis=0, initial=0.0), -x.min(axis=0, initial=0.0))  # max |x|, no |x| copy
    x /= np.where(peak > 0, peak, 1.0)
    x -= x.mean(axis=0)
    sd = np.sqrt(np.einsum("ij,ij->j", x, x) / max(x.shape[0], 1))
    keep = sd > 1e-12  # relative to the column's largest magnitude, which is now 1
    x /= np.where(keep, sd, 1.0)
    return (x if keep.all() else x[:, keep]), keep


def expand(fm: FeatureMatrix, max_interactions: int) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    """Standardised quadratic expansion and, per feature, the source column(s) it comes from.

    Squares of every continuous feature; products of each pair among the first ``max_interactions``
    continuous features (their count grows as k(k-1)/2, hence the cap). Standardises ``fm.x`` in place.
    """
    z, keep = _standardise(fm.x)  # in place: the base matrix is only ever a step towards this one
    srcs = [s for s, k in zip(fm.sources, keep) if k]
    cont = np.flatnonzero(fm.continuous[keep])
    pairs = cont[:max_interactions]
    i, j = np.triu_indices(pairs.size, k=1)
    left, right = np.r_[cont, pairs[i]].astype(np.int64), np.r_[cont, pairs[j]].astype(np.int64)
    base = z.shape[1]
    # one preallocated matrix, filled a block at a time: no n x k(k-1)/2 temporaries
    # column-major: each block below is written, and each feature later standardised, contiguously
    z = np.asfortranarray(z)
    out = np.empty((z.shape[0], base + left.size), order="F")
    out[:, :base] = z
    np.square(z[:, cont], out=out[:, base:base + cont.size])
    k = base + cont.size
    for a in range(pairs.size - 1):  # the order of np.triu_indices(k=1): (0,1), (0,2), ..., (1,2), ...
        m = pairs.size - 1 - a
        np.multiply(z[:, pairs[a]:pairs[a] + 1], z[:, pairs[a + 1:]], out=out[:, k:k + m])
        k += m
    owners = [(s,) for s in srcs] + [(srcs[a],) if a == b else (srcs[a], srcs[b]) for a, b in zip(left, right)]
    if left.size:
        _, keep2 = _standardise(out[:, base:])  # squares, then products of pairs, in place
        if not keep2.all():
            kept = np.r_[np.ones(base, dtype=bool), keep2]
            out, owners = out[:, kept], [o for o, k in zip(owners, kept) if k]
    return out, owners


def n_held_out(n: int, test_share: float) -> int:
    """Rows of one side held out: ``test_share`` of ``n``, at least one (else the AUC is undefined)
    and leaving at least two to fit on."""
    return min(max(int(round(n * test_share)), 1), max(n - 2, 1))


def ridge_discriminant(x: np.ndarray, y: np.ndarray, ridge: float,
                       rows: Sequence[slice] = (slice(None),)) -> tuple[np.ndarray, float]:
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


def permutation_auc_null(scores: np.ndarray, y: np.ndarray, n_permutations: int,
                         rng: np.random.Generator) -> tuple[float, np.ndarray]:
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
        mask = keys <= np.partition(keys, k - 1, axis=1)[:, k - 1:k]
        ok = np.count_nonzero(mask, axis=1) == k
        out[todo[ok]] = mask[ok] @ values  # exact: sums of half-integer ranks in float64
        todo = todo[~ok]
    return out


def separation_shares(w: np.ndarray, x: np.ndarray, y: np.ndarray, owners: list[tuple[str, ...]],
                      rows: np.ndarray | None = None) -> pd.Series:
    """Each source column's share of the gap between the sides' mean scores on ``x[rows]``.

    The gap is ``sum_j w_j * (mean_cur(x_j) - mean_ref(x_j))`` exactly; a product feature's term is
    split evenly between its two columns. Negative column totals (pulling the other way) get no share.
    """
    rows = np.ones(y.size, dtype=bool) if rows is None else rows
    cur, ref = (rows & (y == 1)).astype(np.float64), (rows & (y == 0)).astype(np.float64)
    # means as products with 0/1 vectors: no copy of the selected rows
    gap = w * (x.T @ (cur / cur.sum() - ref / ref.sum()))
    per_column: dict[str, float] = {}
    for g, cols in zip(gap, owners):
        for c in cols:
            per_column[c] = per_column.get(c, 0.0) + g / len(cols)
    share = pd.Series(per_column, dtype=np.float64).clip(lower=0.0)
    total = share.sum()
    return (share / total if total > 0 else share).sort_values(ascending=False, kind="stable")


def domain_classifier(ref: pd.DataFrame, cur: pd.DataFrame | None, kinds: Mapping[str, str], summary: Any,
                      cfg: DriftConfig) -> dict[str, Any]:
    """Run the classifier two-sample test and return a JSON-safe result section.

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
    rng = np.random.default_rng([cfg.seed, 3])
    # A stratified random split: each side shuffled, its first rows held out. The training rows are
    # then two contiguous blocks of the expanded matrix, which the fit reads as views (no copy).
    nr, nc = len(ref), len(cur)
    shuffled = np.r_[rng.permutation(nr), nr + rng.permutation(nc)]  # rows of each side, shuffled
    tr, tc = n_held_out(nr, mv.test_share), n_held_out(nc, mv.test_share)
    held, train = (slice(0, tr), slice(nr, nr + tc)), (slice(tr, nr), slice(nr + tc, nr + nc))
    y = np.r_[np.zeros(nr), np.ones(nc)]
    test = np.zeros(nr + nc, dtype=bool)
    test[held[0]] = test[held[1]] = True
    fm = build_features(ref, cur, kinds, summary)  # row by row and pooled, so rows can be shuffled after
    x, owners = expand(FeatureMatrix(fm.x[shuffled], fm.sources, fm.continuous), mv.max_interactions)
    del fm
    # One BLAS thread for every product here, the permutations' included: they take ~10 ms
    # single-threaded, and OpenBLAS's own threads made them ~10x slower on two cores that the
    # column tests keep busy (measured; see also numeric.w1_between).
    with threadpool_limits(limits=1, user_api="blas"):
        if x.shape[1] == 0:  # every feature constant on both sides: nothing can separate them
            scores, shares = np.zeros(tr + tc), pd.Series(dtype=np.float64)
        else:
            w, b = ridge_discriminant(x, y, mv.ridge, rows=train)
            scores = np.concatenate([x[s] @ w for s in held]) + b
            shares = separation_shares(w, x, y, owners, rows=test)
        auc, null = permutation_auc_null(scores, np.r_[np.zeros(tr), np.ones(tc)].astype(np.int64),
                                         mv.n_permutations, rng)
    p = float((np.sum(null >= auc) + 1) / (null.size + 1))
    q = float(np.quantile(null, 1 - cfg.alpha))
    thr = max(q, mv.min_auc)
    return {"method": "ridge discriminant on a quadratic expansion, held-out ROC AUC, permutation null",
            "auc": auc, "threshold": thr, "null_quantile": q, "p_value": p, "n_permutations": int(null.size),
            "drifted": bool(auc >= thr and p < cfg.alpha), "n_reference": int(len(ref)), "n_current": int(len(cur)),
            "n_test": tr + tc, "n_features": int(x.shape[1]),
            "top_features": [{"column": str(k), "importance": float(v)} for k, v in shares.iloc[: mv.top_features].items()]}
