"""``evaluate_drift``: fold the current data, run the registered tests, correct, decide.

Decision rule
-------------
A test drifts when its **effect statistic reaches its threshold** (per column override, else per
kind) **and** the p-value that gates it, corrected across the whole evaluation (every column, every
p-valued test: KS, chi2, token_js, oov_rate, length_ks, missing), is below ``alpha``. Effect sizes
without a p-value of their own (Wasserstein, PSI, JS) are gated by their kind's p-value test (KS for
numeric, chi2 for categorical). The effect condition keeps tiny shifts from being flagged at large n
(where every p-value rejects); the corrected p-value keeps noise from being flagged at small n (where
effect sizes are noisy). A column drifts when any test in its kind's ``decide_on`` list or its
missing-rate test drifts. The dataset drifts when the share of drifted columns reaches
``share_threshold`` (and, when ``multivariate_decides``, also when the domain classifier flags).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Iterable, Sequence

import pandas as pd

from driftloop.drift.categorical import CategoricalComparison
from driftloop.drift.config import DriftConfig
from driftloop.drift.corrections import adjust
from driftloop.drift._imports import load
from driftloop.drift.missing import MissingComparison
from driftloop.drift.numeric import NumericComparison
from driftloop.drift.registry import P_SOURCE, get_test
from driftloop.drift.report import ColumnResult, DriftReport
from driftloop.drift.results import StatResult
from driftloop.drift.summary import CurrentSummary, ReferenceSummary, sampling, summarize_current
from driftloop.drift.text import TextComparison
from driftloop.errors import DataError

N_WORKERS = 2  # per-column tests and the domain classifier; more brings nothing on GIL-bound parts


def _comparison(kind: str, ref: Any, acc: Any, cfg: DriftConfig) -> Any:
    if kind == "numeric":
        return NumericComparison(ref, acc)
    if kind == "categorical":
        o = cfg.categorical.options
        return CategoricalComparison(ref, acc, o["max_categories"], o["list_max"])
    o = cfg.text.options
    return TextComparison(ref, acc, o["js_vocab_size"], o["top_terms"])


def _run_column(name: str, kind: str, ref: Any, acc: Any, cfg: DriftConfig) -> tuple[dict[str, StatResult], Any]:
    kc = cfg.kind(kind)
    cmp = _comparison(kind, ref, acc, cfg)
    wanted = list(kc.tests)
    src = P_SOURCE[kind]
    if any(not get_test(kind, t).own_p_value for t in wanted) and src not in wanted:
        wanted.insert(0, src)  # the gating p-value must exist even if not listed
    results = {t: get_test(kind, t).fn(cmp, cfg.threshold(name, kind, t)) for t in wanted}
    if cfg.missing.enabled:
        results["missing"] = get_test(kind, "missing").fn(
            MissingComparison(ref.n_missing, ref.n_total, acc.n_missing, acc.n_total),
            cfg.threshold(name, kind, "missing"))
    return results, cmp


def _only_chunk(current: pd.DataFrame | Iterable[pd.DataFrame], chunk_size: int) -> pd.DataFrame | None:
    """``current`` as its one non-empty chunk: a DataFrame of at most ``chunk_size`` rows or a
    one-element sequence of chunks (what ``chunks.iter_file_chunks`` returns for a small file);
    else None (an iterator is never consumed here)."""
    if isinstance(current, pd.DataFrame):
        return current if 0 < len(current) <= chunk_size else None
    if isinstance(current, Sequence) and len(current) == 1 and isinstance(current[0], pd.DataFrame):
        return current[0] if len(current[0]) > 0 else None
    return None


def _submit_classifier(pool: Executor, summary: ReferenceSummary, cs: CurrentSummary, cols: list[str],
                       cfg: DriftConfig) -> Future:
    from driftloop.drift.multivariate import domain_classifier

    return pool.submit(domain_classifier, summary.sample[cols], cs.sample, {c: summary.kinds[c] for c in cols},
                       summary, cfg)


def _update_and_run(values: Any, name: str, kind: str, ref: Any, acc: Any,
                    cfg: DriftConfig) -> tuple[dict[str, StatResult], Any]:
    acc.update(values)
    return _run_column(name, kind, ref, acc, cfg)


def evaluate_drift(summary: ReferenceSummary, current: pd.DataFrame | Iterable[pd.DataFrame],
                   cfg: DriftConfig | None = None, columns: Iterable[str] | None = None,
                   model_outputs: Any = None) -> DriftReport:
    """Compare current data with a reference summary.

    Parameters
    ----------
    summary : ReferenceSummary
        From :func:`summarize_reference` (or :meth:`ReferenceSummary.load`).
    current : DataFrame or iterable of DataFrame
        The current window, whole or in chunks (chunk summaries merge; memory is flat in rows).
    cfg : DriftConfig, optional
        Defaults to ``DriftConfig()``.
    columns : iterable of str, optional
        Subset of the summary's columns to test (default: all; skipped columns stay skipped).
    model_outputs : ModelOutputs, optional
        Champion predictions on reference and current: adds output drift, concept drift (with
        labels) and a CBPE performance estimate.

    Returns
    -------
    DriftReport

    Raises
    ------
    DataError
        A requested column is not in the summary, or a summary column is absent from ``current``.

    Examples
    --------
    >>> ref = pd.DataFrame({"x": range(100)})
    >>> s = summarize_reference(ref, {"x": "numeric"})  # doctest: +SKIP
    >>> evaluate_drift(s, ref).drifted  # doctest: +SKIP
    False
    """
    cfg = cfg or DriftConfig()
    cols = [c for c in summary.columns if not (c in cfg.columns and cfg.columns[c].skip)]
    if columns is not None:
        columns = list(columns)
        unknown = [c for c in columns if c not in summary.columns]
        if unknown:
            raise DataError(f"Column(s) {unknown} are not in the reference summary; it has {list(summary.columns)}.")
        cols = [c for c in cols if c in columns]
    run_mv = cfg.multivariate.enabled and len(summary.sample) > 0
    if any(summary.kinds[c] == "text" for c in cols):
        # The text pass needs sklearn's tokenizer: import it here, in this thread, before the pool's
        # threads touch sklearn. Two threads initialising the sklearn package at the same time get a
        # partially initialised module (ImportError: cannot import name 'clone'), seen in CI.
        load("sklearn.feature_extraction.text")
    # Threads, because the heavy parts release the GIL: sorting and counting columns in the data
    # pass, the large-n KS p-values (numeric.smirnov_sf) and the domain classifier's linear algebra.
    # Numeric and categorical columns import no scipy or sklearn at all (each costs 0.3-1.2 s, as
    # much as the whole pass over 100k rows). Results do not depend on the scheduling.
    with ThreadPoolExecutor(max_workers=N_WORKERS) as pool:
        whole = _only_chunk(current, cfg.chunk_size)
        if whole is not None:
            # One chunk (the common case up to chunk_size rows): draw the row sample first, start the
            # classifier at once and test each column right after its update. The data pass's
            # sorting and counting release the GIL while the tests and the classifier's feature
            # building mostly hold it, so overlapping them saves wall time; two phases left one
            # core idle in turn (~25 ms at 100k rows). Same sample and results as the chunked path.
            cs = CurrentSummary.start(summary, cols)
            cs.check_columns(whole)
            cs.update_sample(whole, *sampling(cfg))
            mv_future = _submit_classifier(pool, summary, cs, cols, cfg) if run_mv else None
            futures = {c: pool.submit(_update_and_run, whole[c], c, summary.kinds[c], summary.columns[c],
                                      cs.accumulators[c], cfg) for c in cols}
        else:
            cs = summarize_current(summary, current, cols, cfg, pool)
            mv_future = _submit_classifier(pool, summary, cs, cols, cfg) if run_mv and cs.n_rows > 0 else None
            futures = {c: pool.submit(_run_column, c, summary.kinds[c], summary.columns[c], cs.accumulators[c],
                                      cfg) for c in cols}
        per_col: dict[str, tuple[dict[str, StatResult], Any]] = {c: f.result() for c, f in futures.items()}
        multivariate = mv_future.result() if mv_future is not None else None

    # one family of p-values across every column and p-valued test
    keys = [(c, n) for c, (res, _) in per_col.items() for n, t in res.items() if t.p_source == n]
    adj = adjust([per_col[c][0][n].p_value for c, n in keys], cfg.correction)
    adjusted = dict(zip(keys, adj))

    col_results: dict[str, ColumnResult] = {}
    for c, (res, cmp) in per_col.items():
        kind = summary.kinds[c]
        final = {}
        for n, t in res.items():
            pa = adjusted.get((c, t.p_source))
            drifted = (t.statistic is not None and pa is not None
                       and t.statistic >= t.threshold and pa < cfg.alpha)
            final[n] = replace(t, p_adjusted=pa, drifted=bool(drifted))
        decide = cfg.kind(kind).decide_on
        col_drifted = any(final[n].drifted for n in (*decide, "missing") if n in final)
        ref, acc = summary.columns[c], cs.accumulators[c]
        rates = (ref.n_missing / ref.n_total if ref.n_total else None,
                 acc.n_missing / acc.n_total if acc.n_total else None)
        notes = tuple(sorted({t.details["note"] for t in final.values() if "note" in t.details}))
        extra: dict[str, Any] = {}
        if kind == "numeric":
            extra["n_inf"] = {"reference": ref.n_inf, "current": acc.n_inf}
            hist = cmp.histogram()
        elif kind == "categorical":
            hist = cmp.histogram()
            if not cmp.empty_note:
                extra["levels"] = cmp.level_changes()
        else:
            hist = NumericComparison(ref.length, acc.length).histogram()
            extra["n_invalid_utf8"] = {"reference": ref.n_invalid_utf8, "current": acc.n_invalid_utf8}
            if not cmp.empty_note:
                extra["terms"] = cmp.term_shifts()
        col_results[c] = ColumnResult(c, kind, col_drifted, rates, final, tuple(decide), hist, notes, extra)

    notes: list[str] = []
    if cs.n_rows == 0:
        notes.append("empty current window: no test could run, verdict is 'not drifted'")
    n_drifted = sum(r.drifted for r in col_results.values())
    share = n_drifted / len(col_results) if col_results else 0.0
    drifted = bool(col_results) and cs.n_rows > 0 and share >= cfg.share_threshold and n_drifted > 0

    if multivariate is not None and cfg.multivariate_decides and multivariate.get("drifted"):
        drifted = True
    output = concept = estimate = None
    if model_outputs is not None:
        from driftloop.drift.model_outputs import evaluate_model_outputs

        output, concept, estimate = evaluate_model_outputs(model_outputs, cfg)
    settings = {"alpha": cfg.alpha, "correction": cfg.correction, "share_threshold": cfg.share_threshold,
                "multivariate_decides": cfg.multivariate_decides, "n_p_values": len(keys),
                "rule": "test drifts when statistic >= threshold and corrected p of its p_source < alpha; "
                        "column drifts when a decide_on or missing test drifts"}
    return DriftReport(drifted, share, summary.n_rows, cs.n_rows, col_results, multivariate, output, concept,
                       estimate, settings, tuple(notes))


def run_single_test(kind: str, name: str, reference: Any, current: Any, cfg: DriftConfig | None = None,
                    threshold: float | None = None) -> StatResult:
    """Run one registered test on two raw 1-D samples (no correction; for tests and notebooks).

    Parameters
    ----------
    kind : {"numeric", "categorical", "text"}
    name : str
        Registered test name (see ``TEST_REGISTRY``).
    reference, current : array-like
    cfg : DriftConfig, optional
    threshold : float, optional
        Defaults to the configured threshold of the kind.

    Returns
    -------
    StatResult
        Raw p-value only (``p_adjusted`` is None, ``drifted`` False).
    """
    from driftloop.drift.summary import summarize_reference

    cfg = cfg or DriftConfig()
    spec = get_test(kind, name)
    ref_df = pd.DataFrame({"x": pd.Series(list(reference) if kind != "numeric" else reference, dtype=object
                                          if kind != "numeric" else None)})
    summary = summarize_reference(ref_df, {"x": kind}, cfg)
    acc = summary.columns["x"].accumulator()
    acc.update(pd.Series(list(current), dtype=object) if kind != "numeric" else current)
    thr = cfg.threshold("x", kind, name) if threshold is None else threshold
    ref = summary.columns["x"]
    if name == "missing":
        return spec.fn(MissingComparison(ref.n_missing, ref.n_total, acc.n_missing, acc.n_total), thr)
    return spec.fn(_comparison(kind, ref, acc, cfg), thr)
