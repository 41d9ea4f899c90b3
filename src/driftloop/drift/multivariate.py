"""Multivariate drift: a domain classifier telling reference rows from current rows.

A random forest (half-size bootstrap samples) is fitted on a seeded sample of at most ``max_rows`` rows per side (the reference
sample is stored in the summary; the current sample is a bottom-k reservoir over chunks). Its
**out-of-bag** scores are held-out predictions, so their ROC AUC measures separability without a
second fit. The threshold comes from a **permutation null**: domain labels are permuted
``n_permutations`` times over the fixed out-of-bag scores (the Mann-Whitney permutation distribution
of the AUC; the forest is not refitted, which keeps it to one fit and is exact for held-out scores
under exchangeability). p = (k + 1) / (n + 1) with k the permuted AUCs >= the observed one. The
classifier flags drift when AUC >= max(null (1 - alpha) quantile, ``min_auc``) and p < alpha.

Features: numeric values (NaN -> pooled median, plus a missing indicator), one-hot of the 20 most
frequent levels of categorical columns, and for text the length in characters, the token count and
the leave-one-out out-of-vocabulary share against the reference vocabulary (a reference document's
tokens that occur nowhere else in the reference count as OOV, so both sides are measured alike).
Feature importances (impurity-based) are summed back to source columns.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from driftloop.drift.config import DriftConfig
from driftloop.drift.numeric import as_float
from driftloop.drift.text import clean_docs
from driftloop.drift._imports import load

TOP_LEVELS = 20
# half-size bootstrap samples: fits ~1.6x faster than full-size ones and leaves each row
# out-of-bag for ~60% of the trees instead of ~37% (more out-of-bag votes per row)
BOOTSTRAP_SHARE = 0.5


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


def build_features(ref: pd.DataFrame, cur: pd.DataFrame, kinds: Mapping[str, str],
                   summary: Any) -> tuple[np.ndarray, list[str]]:
    """Stacked feature matrix (reference rows first) and each feature's source column."""
    blocks, sources = [], []
    for c, kind in kinds.items():
        if kind == "numeric":
            v = np.concatenate([as_float(ref[c]), as_float(cur[c])])
            bad = ~np.isfinite(v)
            fill = np.median(v[~bad]) if (~bad).any() else 0.0
            blocks.append(np.where(bad, fill, v)[:, None])
            sources.append(c)
            if bad.any():
                blocks.append(bad[:, None].astype(np.float64))
                sources.append(c)
        elif kind == "categorical":
            s = pd.concat([ref[c], cur[c]], ignore_index=True).astype(object).where(lambda x: x.notna(), None)
            s = s.map(lambda v: "__missing__" if v is None else str(v))
            top = s.value_counts().index[:TOP_LEVELS]
            onehot = (s.to_numpy(object)[:, None] == top.to_numpy(object)[None, :]).astype(np.float64)
            blocks.append(onehot)
            sources.extend([c] * onehot.shape[1])
        else:
            blocks.append(_text_features(ref[c], cur[c], summary.columns[c]))
            sources.extend([c] * 3)
    x = np.hstack(blocks) if blocks else np.zeros((len(ref) + len(cur), 0))
    return x, sources


def permutation_auc_null(scores: np.ndarray, y: np.ndarray, n_permutations: int,
                         rng: np.random.Generator) -> tuple[float, np.ndarray]:
    """Observed ROC AUC of ``scores`` for labels ``y`` and its permutation null distribution."""
    rankdata = load("scipy.stats").rankdata  # lazy, like every scipy.stats use in the drift package

    ranks = rankdata(scores)
    n1, n0 = int(y.sum()), int(y.size - y.sum())

    def auc(rank_sum: np.ndarray | float) -> Any:
        return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)

    observed = float(auc(ranks[y == 1].sum()))
    null = np.empty(n_permutations)
    for b in range(n_permutations):  # loop over permutations (vectorised inside)
        null[b] = ranks[rng.permutation(y.size)[:n1]].sum()
    return observed, auc(null)


def domain_classifier(ref: pd.DataFrame, cur: pd.DataFrame | None, kinds: Mapping[str, str], summary: Any,
                      cfg: DriftConfig) -> dict[str, Any]:
    """Fit the domain classifier and return a JSON-safe result section.

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
        ``auc``, ``threshold``, ``p_value``, ``drifted``, ``top_features`` (column, importance), sizes.
    """
    RandomForestClassifier = load("sklearn.ensemble").RandomForestClassifier

    mv = cfg.multivariate
    if cur is None or len(ref) < 20 or len(cur) < 20 or not kinds:
        return {"drifted": False, "note": "too few rows for the domain classifier (need 20 per side)"}
    x, sources = build_features(ref, cur, kinds, summary)
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))].astype(np.int64)
    rf = RandomForestClassifier(n_estimators=mv.n_estimators, min_samples_leaf=5, max_features="sqrt",
                                oob_score=True, max_samples=BOOTSTRAP_SHARE, random_state=cfg.seed,
                                n_jobs=1)
    rf.fit(x, y)
    oob = rf.oob_decision_function_[:, 1]
    ok = np.isfinite(oob)
    rng = np.random.default_rng([cfg.seed, 3])
    auc, null = permutation_auc_null(oob[ok], y[ok], mv.n_permutations, rng)
    p = float((np.sum(null >= auc) + 1) / (null.size + 1))
    thr = float(max(np.quantile(null, 1 - cfg.alpha), mv.min_auc))
    imp = pd.Series(rf.feature_importances_, index=sources).groupby(level=0).sum().sort_values(ascending=False)
    return {"method": "random-forest domain classifier, out-of-bag ROC AUC, permutation null",
            "auc": auc, "threshold": thr, "null_quantile": float(np.quantile(null, 1 - cfg.alpha)),
            "p_value": p, "n_permutations": int(null.size), "drifted": bool(auc >= thr and p < cfg.alpha),
            "n_reference": int(len(ref)), "n_current": int(len(cur)),
            "top_features": [{"column": str(k), "importance": float(v)} for k, v in imp.iloc[: mv.top_features].items()]}
