"""``evaluate_drift``: fold the current data, run the registered tests, correct, decide.

Decision rule
-------------
A test drifts when its **effect statistic reaches its threshold** (per column override, else per
kind) **and** the p-value that gates it, corrected across the whole evaluation (every column, every
p-valued test: KS, chi2, token_js, oov_rate, length_ks, missing), is below the columns' level.
Effect sizes without a p-value of their own (Wasserstein, PSI, JS) are gated by their kind's p-value
test (KS for numeric, chi2 for categorical). The effect condition keeps tiny shifts from being
flagged at large n (where every p-value rejects); the corrected p-value keeps noise from being
flagged at small n (where effect sizes are noisy). A column drifts when any test in its kind's
``decide_on`` list or its missing-rate test drifts.

The **dataset drifts when any column drifts or the domain classifier rejects** ("something
important changed"); the share of drifted columns is reported beside the verdict, not decided on
(with 25 columns a 30 % rule let one clearly drifted column, or a correlation change only the
classifier sees, pass as "no drift"). Its false-alarm rate is held at ``alpha`` by splitting it
(:func:`~driftloop.drift.corrections.split_alpha`): the column family is tested at
``alpha * (1 - multivariate.alpha_share)``, the classifier at the rest; the columns get all of
alpha when the classifier is off, advisory or has too few rows.

Sizes: a test with fewer than ``min_rows`` values on a side (rows, for the missing-rate test) does
not run; it says "too few rows" and leaves the family. A column whose value tests could not run is
reported with that status (or "no values" when a side has none), never as "no drift"; a window in
which nothing could be tested has the verdict "too few rows". An empty reference or current window
is refused (a report on no data would read "no drift").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import Any

import pandas as pd

from driftloop.drift._imports import load
from driftloop.drift.categorical import CategoricalComparison
from driftloop.drift.config import DriftConfig
from driftloop.drift.corrections import Levels, adjust
from driftloop.drift.missing import MissingComparison
from driftloop.drift.numeric_summary import NumericComparison
from driftloop.drift.registry import P_SOURCE, get_test
from driftloop.drift.report import ColumnResult, DriftReport
from driftloop.drift.results import StatResult
from driftloop.drift.summary import CurrentSummary, ReferenceSummary, sampling, summarize_current
from driftloop.drift.text import TextComparison, uses_sklearn
from driftloop.errors import DataError
from driftloop.progress import task

N_WORKERS = 2  # per-column tests and the domain classifier; more brings nothing on GIL-bound parts


def _comparison(kind: str, ref: Any, acc: Any, cfg: DriftConfig) -> Any:
    if kind == "numeric":
        return NumericComparison(ref, acc)
    if kind in ("categorical", "id_like"):  # id_like: the same level counts, tested by unseen only
        o = cfg.categorical.options
        return CategoricalComparison(ref, acc, o["max_categories"], o["list_max"], o["min_expected"])
    o = cfg.text.options
    return TextComparison(ref, acc, o["js_vocab_size"], o["top_terms"])


DRIFT, NO_DRIFT, TOO_FEW, NO_VALUES = "drift", "no drift", "too few rows", "no values"


def _too_few(n_ref: int, n_cur: int, min_rows: int, what: str) -> str | None:
    """The "too few rows" note when a side has 1 to min_rows - 1 ``what``; None otherwise (a side
    with none at all is the test's own "no values" case)."""
    if 0 in (n_ref, n_cur):
        return None
    short = [f"{n} {side} {what}" for side, n in (("reference", n_ref), ("current", n_cur)) if n < min_rows]
    return f"{TOO_FEW}: {' and '.join(short)} (drift.min_rows = {min_rows})" if short else None


def _skipped(kind: str, test: str, threshold: float, note: str) -> StatResult:
    """A test that did not run: no statistic, no p-value (so it leaves the correction family)."""
    p_source = test if get_test(kind, test).own_p_value else P_SOURCE[kind]
    return StatResult(test, None, None, threshold, p_source, details={"note": note})


def _run_column(name: str, kind: str, ref: Any, acc: Any, cfg: DriftConfig) -> tuple[dict[str, StatResult], Any]:
    kc = cfg.kind(kind)
    cmp = _comparison(kind, ref, acc, cfg)
    wanted = list(kc.tests)
    src = P_SOURCE[kind]
    if any(not get_test(kind, t).own_p_value for t in wanted) and src not in wanted:
        wanted.insert(0, src)  # the gating p-value must exist even if not listed
    short = _too_few(ref.n, acc.n, cfg.min_rows, "values")
    results = {
        t: (
            get_test(kind, t).fn(cmp, cfg.threshold(name, kind, t))
            if short is None
            else _skipped(kind, t, cfg.threshold(name, kind, t), short)
        )
        for t in wanted
    }
    if cfg.missing.enabled:
        thr = cfg.threshold(name, kind, "missing")
        short = _too_few(ref.n_total, acc.n_total, cfg.min_rows, "rows")
        results["missing"] = (
            _skipped(kind, "missing", thr, short)
            if short
            else get_test(kind, "missing").fn(
                MissingComparison(ref.n_missing, ref.n_total, acc.n_missing, acc.n_total), thr
            )
        )
    return results, cmp


def _only_chunk(current: object, chunk_size: int) -> pd.DataFrame | None:
    """``current`` as its one non-empty chunk: a DataFrame of at most ``chunk_size`` rows or a
    one-element sequence of chunks (what ``chunks.iter_file_chunks`` returns for a small file);
    else None (an iterator is never consumed here)."""
    if isinstance(current, pd.DataFrame):
        return current if 0 < len(current) <= chunk_size else None
    if isinstance(current, Sequence) and len(current) == 1 and isinstance(current[0], pd.DataFrame):
        return current[0] if len(current[0]) > 0 else None
    return None


def _submit_classifier(
    pool: Executor, summary: ReferenceSummary, cs: CurrentSummary, cols: list[str], cfg: DriftConfig
) -> Future:
    from driftloop.drift.multivariate import domain_classifier

    # tested at its share of alpha (its section's threshold and "drifted" say so), or at alpha when advisory.
    # Without id-like columns: indicators of near-unique values would only let it memorise rows.
    cols = [c for c in cols if summary.kinds[c] != "id_like"]
    return pool.submit(
        domain_classifier,
        summary.sample[cols],
        cs.sample,
        {c: summary.kinds[c] for c in cols},
        summary,
        cfg.with_overrides(alpha=cfg.multivariate_level()),
    )


def _update_and_run(
    values: Any, name: str, kind: str, ref: Any, acc: Any, cfg: DriftConfig
) -> tuple[dict[str, StatResult], Any]:
    acc.update(values)
    return _run_column(name, kind, ref, acc, cfg)


def evaluate_drift(
    summary: ReferenceSummary,
    current: pd.DataFrame | Iterable[pd.DataFrame] | CurrentSummary,
    cfg: DriftConfig | None = None,
    columns: Iterable[str] | None = None,
    model_outputs: Any = None,
) -> DriftReport:
    """Compare current data with a reference summary.

    Parameters
    ----------
    summary : ReferenceSummary
        From :func:`summarize_reference` (or :meth:`ReferenceSummary.load`).
    current : DataFrame or iterable of DataFrame or CurrentSummary
        The current window, whole or in chunks (chunk summaries merge; memory is flat in rows), or
        already folded: the merged partition summaries of a partitioned window (``driftloop.engine``).
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
        A requested column is not in the summary, a summary column is absent from ``current``, or
        the reference or the current window has no rows.

    Examples
    --------
    >>> from driftloop.drift import summarize_reference
    >>> ref = pd.DataFrame({"x": range(100)})
    >>> s = summarize_reference(ref, {"x": "numeric"})
    >>> evaluate_drift(s, ref).drifted, evaluate_drift(s, pd.DataFrame({"x": range(50, 150)})).drifted
    (False, True)
    """
    cfg = cfg or DriftConfig()
    if summary.n_rows == 0:
        raise DataError("The reference has 0 rows: there is nothing to compare the current window with.")
    cols = [c for c in summary.columns if not (c in cfg.columns and cfg.columns[c].skip)]
    if columns is not None:
        columns = list(columns)
        unknown = [c for c in columns if c not in summary.columns]
        if unknown:
            raise DataError(f"Column(s) {unknown} are not in the reference summary; it has {list(summary.columns)}.")
        cols = [c for c in cols if c in columns]
    run_mv = cfg.multivariate.enabled and len(summary.sample) > 0
    if any(summary.kinds[c] == "text" and uses_sklearn(summary.columns[c].options) for c in cols):
        # This text pass needs sklearn's tokenizer: import it here, in this thread, before the pool's
        # threads touch sklearn. Two threads initialising the sklearn package at the same time get a
        # partially initialised module (ImportError: cannot import name 'clone'), seen in CI.
        load("sklearn.feature_extraction.text")
    # Threads, because the heavy parts release the GIL: sorting and counting columns in the data
    # pass, the large-n KS p-values (ks.smirnov_sf) and the domain classifier's linear algebra.
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
            mv_short = _too_few(summary.n_rows, cs.n_rows, cfg.min_rows, "rows")
            mv_future = _submit_classifier(pool, summary, cs, cols, cfg) if run_mv and not mv_short else None
            futures = {
                c: pool.submit(
                    _update_and_run, whole[c], c, summary.kinds[c], summary.columns[c], cs.accumulators[c], cfg
                )
                for c in cols
            }
        else:
            if isinstance(current, CurrentSummary):  # folded per partition, then merged
                absent = [c for c in cols if c not in current.accumulators]
                if absent:
                    raise DataError(f"The current window's summary lacks column(s) {absent} of the reference summary.")
                cs = current
            else:
                cs = summarize_current(summary, current, cols, cfg, pool)
            if cs.n_rows == 0:  # refused rather than reported: a report on no data would read "no drift"
                raise DataError("The current window has 0 rows: there is nothing to test for drift.")
            mv_short = _too_few(summary.n_rows, cs.n_rows, cfg.min_rows, "rows")
            mv_future = _submit_classifier(pool, summary, cs, cols, cfg) if run_mv and not mv_short else None
            futures = {
                c: pool.submit(_run_column, c, summary.kinds[c], summary.columns[c], cs.accumulators[c], cfg)
                for c in cols
            }
        # A bar over the columns on a terminal (driftloop.console installs it); a no-op elsewhere.
        with task(len(futures), "drift", "column") as advance:
            for _ in as_completed(futures.values()):
                advance(1)
        per_col: dict[str, tuple[dict[str, StatResult], Any]] = {c: f.result() for c, f in futures.items()}
        multivariate = mv_future.result() if mv_future is not None else None
    if run_mv and mv_short:  # drift.min_rows holds for the classifier too (its own floor is 20 a side)
        multivariate = {"drifted": False, "note": f"{mv_short} for the domain classifier"}

    mv_tests = multivariate is not None and "auc" in multivariate  # it ran: a matter of sizes, not values
    levels = cfg.levels(classifier_tests=mv_tests)
    # one family of p-values across every column and p-valued test (tests that did not run are out)
    keys = [(c, n) for c, (res, _) in per_col.items() for n, t in res.items() if t.p_source == n]
    adj = adjust([per_col[c][0][n].p_value for c, n in keys], cfg.correction)
    adjusted = dict(zip(keys, adj, strict=True))
    col_results = {
        c: _column_result(c, summary, cs, res, cmp, adjusted, levels, cfg) for c, (res, cmp) in per_col.items()
    }
    verdict, reasons = dataset_verdict(col_results, multivariate, levels)
    n_drifted = sum(r.drifted for r in col_results.values())
    share = n_drifted / len(col_results) if col_results else 0.0

    rule = (
        f"a test drifts when statistic >= threshold and the {cfg.correction}-corrected p of its p_source "
        f"< {levels.columns:g}; a column drifts when a decide_on or missing test drifts; the dataset drifts "
        "when any column drifts"
    )
    if levels.multivariate:
        rule += (
            f" or the domain classifier's permutation p < {levels.multivariate:g} (and its AUC reaches "
            "multivariate.min_auc)"
        )
    settings = {
        "alpha": cfg.alpha,
        "correction": cfg.correction,
        "min_rows": cfg.min_rows,
        "level_columns": levels.columns,
        "level_multivariate": levels.multivariate,
        "multivariate_alpha_share": cfg.multivariate.alpha_share,
        "n_p_values": sum(p is not None for p in adj),
        "rule": rule + "; the share of drifted columns is reported, not decided on",
    }
    report = DriftReport(
        verdict == DRIFT,
        share,
        summary.n_rows,
        cs.n_rows,
        col_results,
        multivariate,
        settings=settings,
        verdict=verdict,
        reasons=reasons,
    )
    return with_model_outputs(report, model_outputs, cfg)


def with_model_outputs(report: DriftReport, model_outputs: Any, cfg: DriftConfig | None = None) -> DriftReport:
    """``report`` with the sections the champion's outputs give: output drift, concept drift (with
    labels) and the CBPE estimate. They decide no column and not the verdict, so the column tests
    can run while the champion is still scoring (the drift stage does); ``evaluate_drift(...,
    model_outputs=m)`` is ``with_model_outputs(evaluate_drift(...), m)``. ``None``: unchanged."""
    if model_outputs is None:
        return report
    from driftloop.drift.model_outputs import evaluate_model_outputs

    output, concept, estimate = evaluate_model_outputs(model_outputs, cfg or DriftConfig())
    return replace(report, output=output, concept=concept, performance_estimate=estimate)


def _column_result(
    c: str,
    summary: ReferenceSummary,
    cs: CurrentSummary,
    res: dict[str, StatResult],
    cmp: Any,
    adjusted: dict[tuple[str, str], float | None],
    levels: Levels,
    cfg: DriftConfig,
) -> ColumnResult:
    """One column's tests with their corrected p-values and decisions, its status and report extras."""
    kind = summary.kinds[c]
    final = {}
    for n, t in res.items():
        pa = adjusted.get((c, t.p_source)) if t.p_source is not None else None
        drifted = t.statistic is not None and pa is not None and t.statistic >= t.threshold and pa < levels.columns
        final[n] = replace(t, p_adjusted=pa, drifted=bool(drifted))
    decide = cfg.kind(kind).decide_on
    col_drifted = any(final[n].drifted for n in (*decide, "missing") if n in final)
    notes = sorted({t.details["note"] for t in final.values() if "note" in t.details})
    ref, acc = summary.columns[c], cs.accumulators[c]
    if col_drifted:
        status = DRIFT
    elif all(final[n].statistic is None for n in decide):  # no value test could run
        status = TOO_FEW if any(n.startswith(TOO_FEW) for n in notes) else NO_VALUES
    else:
        status = NO_DRIFT
    if kind == "numeric" and ref.n > 0 and ref.std == 0:
        notes.append(f"constant in the reference ({ref.mean:.6g}): Wasserstein is scaled by |mean| (or 1)")
    elif kind == "categorical" and ref.n > 0 and ref.counts.size == 1 and not ref.untracked_levels:
        notes.append(f"constant in the reference (one level, {ref.counts.index[0]!r})")
    rates = (ref.n_missing / ref.n_total if ref.n_total else None, acc.n_missing / acc.n_total if acc.n_total else None)
    extra: dict[str, Any] = {}
    if kind == "numeric":
        extra["n_inf"] = {"reference": ref.n_inf, "current": acc.n_inf}
        hist = cmp.histogram()
    elif kind in ("categorical", "id_like"):
        hist = cmp.histogram()
        if not cmp.empty_note:
            extra["levels"] = cmp.level_changes()
    else:
        hist = NumericComparison(ref.length, acc.length).histogram()
        extra["n_invalid_utf8"] = {"reference": ref.n_invalid_utf8, "current": acc.n_invalid_utf8}
        if not cmp.empty_note:
            extra["terms"] = cmp.term_shifts()
    return ColumnResult(c, kind, col_drifted, rates, final, tuple(decide), hist, tuple(notes), extra, status)


def dataset_verdict(
    columns: Mapping[str, ColumnResult], multivariate: Mapping[str, Any] | None, levels: Levels
) -> tuple[str, tuple[str, ...]]:
    """The dataset verdict and what made it, from decided columns and the classifier's section.

    Parameters
    ----------
    columns : mapping of column -> ColumnResult
        Decided at ``levels.columns``.
    multivariate : mapping or None
        The domain classifier's section (deciding only when ``levels.multivariate > 0``).
    levels : Levels

    Returns
    -------
    verdict : {"drift", "no drift", "too few rows"}
        "drift" when any column drifted or the deciding classifier rejected; "too few rows" when
        some column had too few rows, none could be tested and the classifier did not run; else
        "no drift" (columns without values or with too few rows are listed by the report).
    reasons : tuple of str
        Every drifted column with its strongest test (statistic over threshold), then the classifier.
    """
    reasons = []
    for c, r in columns.items():
        if r.drifted:
            hits = [t for t in r.tests.values() if t.drifted]
            top = max(hits, key=lambda t: (t.statistic or 0.0) / t.threshold if t.threshold else float("inf"))
            reasons.append(
                f"column {c}: {top.name} {top.statistic:.4g} >= {top.threshold:g}, "
                f"corrected p {top.p_adjusted:.3g} < {levels.columns:g}"
            )
    mv = multivariate or {}
    if levels.multivariate > 0 and mv.get("drifted"):
        reasons.append(
            f"domain classifier: AUC {mv['auc']:.3f} >= {mv['threshold']:.3f}, "
            f"permutation p {mv['p_value']:.3g} < {levels.multivariate:g}"
        )
    if reasons:
        return DRIFT, tuple(reasons)
    statuses = {r.status for r in columns.values()}
    if "auc" not in mv and TOO_FEW in statuses and NO_DRIFT not in statuses:  # nothing was tested
        return TOO_FEW, ()
    return NO_DRIFT, ()


def run_single_test(
    kind: str, name: str, reference: Any, current: Any, cfg: DriftConfig | None = None, threshold: float | None = None
) -> StatResult:
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
    ref_df = pd.DataFrame(
        {
            "x": pd.Series(
                list(reference) if kind != "numeric" else reference, dtype=object if kind != "numeric" else None
            )
        }
    )
    summary = summarize_reference(ref_df, {"x": kind}, cfg)
    acc = summary.columns["x"].accumulator()
    acc.update(pd.Series(list(current), dtype=object) if kind != "numeric" else current)
    thr = cfg.threshold("x", kind, name) if threshold is None else threshold
    ref = summary.columns["x"]
    if name == "missing":
        return spec.fn(MissingComparison(ref.n_missing, ref.n_total, acc.n_missing, acc.n_total), thr)
    return spec.fn(_comparison(kind, ref, acc, cfg), thr)
