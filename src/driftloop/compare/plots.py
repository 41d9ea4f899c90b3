"""Comparison plots (PNG) and the small data files DVC plots are declared on.

Classification: ROC and precision-recall curves (one-vs-rest, one panel per class,
both models overlaid), confusion matrices side by side, top-label calibration
curves overlaid. Regression: residuals and predicted-vs-actual, both models.

Data files (CSV, long format with a ``model`` column, so one file overlays both):
``roc.csv`` (model, class, fpr, tpr), ``pr.csv`` (model, class, recall, precision),
``calibration.csv`` (model, bin, confidence, accuracy, count), ``confusion_<model>.csv``
(actual, predicted; one row per holdout row, DVC's confusion template), and for
regression ``predictions.csv`` (model, actual, predicted, residual).

For `dvc plots` (:func:`write_dvc_plots`): one file per model under ``roc/``, ``pr/``,
``calibration/`` and ``confusion/`` (``champion.csv``, ``challenger.csv``). DVC draws each file
listed in a plot's ``y`` as its own line, named after the file, and cannot split one file by a
column, so one panel overlays both models only when each model has its own file at a fixed path
(dvc.yaml's top-level ``plots``). One curve per model: the positive class's for a binary task, the
micro-average over every one-vs-rest pair for a multiclass one (the per-class curves are in
``roc.csv``/``pr.csv`` and the PNGs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DVC_PLOT_KINDS", "write_dvc_plots", "write_plots"]

_MAX_CURVE_POINTS = 400


_DRAWN_COLUMNS = 2_000


def _thin_index(n: int) -> np.ndarray | slice:
    # Keep curve files small for DVC/MLflow; the curve's shape survives evenly spaced points.
    if n <= _MAX_CURVE_POINTS:
        return slice(None)
    return np.unique(np.linspace(0, n - 1, _MAX_CURVE_POINTS).round().astype(int))


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[_thin_index(len(frame))]


def _curve_frame(model: str, cls: str, **columns: np.ndarray) -> pd.DataFrame:
    """A curve's rows in the CSV: :func:`_thin`'s points, picked before the frame is built."""
    keep = _thin_index(len(next(iter(columns.values()))))
    return pd.DataFrame({"model": model, "class": cls, **{k: v[keep] for k, v in columns.items()}})


def _drawn(x: np.ndarray, y: np.ndarray, columns: int = _DRAWN_COLUMNS) -> tuple[np.ndarray, np.ndarray]:
    """The vertices of the polyline ``(x, y)`` that a drawing ``columns`` wide can show.

    M4 aggregation (Jugel et al. 2014, "M4: a visualization-oriented time series data aggregation"):
    along a curve whose ``x`` is monotone (ROC's false positive rate, PR's recall) the points falling
    in one of ``columns`` equal slices of ``x`` are replaced by that run's first, last, lowest and
    highest point, which draws the same line at that width. 2,000 slices are over five times the
    panels' pixel width, so a 333,000-point curve is drawn from at most 8,000 points and looks the
    same; the numbers written anywhere come from the full curve.
    """
    n = len(x)
    if n <= 4 * columns:
        return x, y
    lo, hi = float(np.min(x)), float(np.max(x))
    col = np.zeros(n, dtype=np.int64) if hi == lo else ((x - lo) * ((columns - 1) / (hi - lo))).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    ends = np.r_[starts[1:], n] - 1
    run = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n]))
    by_y = np.lexsort((y, run))  # within each run, rows from lowest to highest y
    first_in_run = np.r_[0, np.cumsum(np.diff(np.r_[starts, n]))[:-1]]
    lowest, highest = by_y[first_in_run], by_y[np.r_[first_in_run[1:], n] - 1]
    keep = np.unique(np.concatenate([starts, ends, lowest, highest]))
    return x[keep], y[keep]


def _codes(values: np.ndarray, classes: tuple) -> np.ndarray:
    # Each value's position in ``classes`` (-1 for none): one vectorised equality per class.
    codes = np.full(len(values), -1, dtype=np.int64)
    for j, c in enumerate(classes):  # a loop over classes, not rows
        codes[values == c] = j
    return codes


def _confusion(y: np.ndarray, pred: np.ndarray, classes: tuple) -> np.ndarray:
    """Counts of (actual, predicted) over ``classes`` (rows whose value is not a class are left out).

    What ``pd.crosstab`` of two ``pd.Categorical`` with ``dropna=False`` gives, by one count of
    class codes instead of categoricals and a groupby over 333,000 rows.
    """
    k = len(classes)
    a, p = _codes(np.asarray(y), classes), _codes(np.asarray(pred), classes)
    both = (a >= 0) & (p >= 0)
    return np.bincount(a[both] * k + p[both], minlength=k * k).reshape(k, k)


def _models(result):
    out = [("challenger", result.challenger_predictions)]
    if result.champion_predictions is not None:
        out.insert(0, ("champion", result.champion_predictions))
    return out


def _aligned(p, classes):
    from driftloop.compare.comparison import _aligned_proba

    return _aligned_proba(p, classes)


def write_plots(result, out_dir: Path) -> list[Path]:
    """Write the comparison's plots and plot data into ``out_dir``.

    Parameters
    ----------
    result : ComparisonResult
        From :func:`driftloop.compare.compare_models` (carries both models' predictions).
    out_dir : Path
        Created if needed.

    Returns
    -------
    list of Path
        Every file written (PNGs and CSVs), for MLflow ``log_artifact``.

    Examples
    --------
    Not run as a doctest: it writes PNG and CSV files (matplotlib); tests/compare checks them.

    >>> write_plots(result, Path("reports/plots"))  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def save(fig, name: str) -> None:
        path = out / name
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)

    def save_csv(frame: pd.DataFrame, name: str) -> None:
        path = out / name
        frame.to_csv(path, index=False)
        written.append(path)

    y = np.asarray(result.y_true)
    models = _models(result)
    if result.task == "regression":
        rows = [
            pd.DataFrame({"model": name, "actual": y, "predicted": p.pred, "residual": p.pred - y})
            for name, p in models
        ]
        data = pd.concat(rows, ignore_index=True)
        save_csv(data, "predictions.csv")
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for name, p in models:
            axes[0].scatter(y, p.pred, s=6, alpha=0.4, label=name)
            axes[1].scatter(p.pred, p.pred - y, s=6, alpha=0.4, label=name)
        lo, hi = float(np.min(y)), float(np.max(y))
        axes[0].plot([lo, hi], [lo, hi], "k--", lw=1)
        axes[0].set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
        axes[1].axhline(0, color="k", lw=1)
        axes[1].set(xlabel="predicted", ylabel="residual (predicted - actual)", title="Residuals")
        for ax in axes:
            ax.legend()
        save(fig, "predicted_vs_actual.png")
        fig, ax = plt.subplots(figsize=(5, 4))
        for name, p in models:
            ax.hist(p.pred - y, bins=40, alpha=0.5, label=name)
        ax.set(xlabel="residual", ylabel="rows", title="Residual distribution")
        ax.legend()
        save(fig, "residuals.png")
        return written

    from sklearn.metrics import precision_recall_curve, roc_curve

    classes = tuple(result.classes)
    present = [c for c in classes if np.any(y == c)]
    # Confusion matrices: per-row files for DVC's confusion template, PNG side by side.
    fig, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 4), squeeze=False)
    for ax, (name, p) in zip(axes[0], models, strict=True):
        save_csv(pd.DataFrame({"actual": y, "predicted": p.pred}), f"confusion_{name}.csv")
        cm = _confusion(y, p.pred, classes)
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        ax.set(
            xticks=range(len(classes)),
            yticks=range(len(classes)),
            xticklabels=classes,
            yticklabels=classes,
            xlabel="predicted",
            ylabel="actual",
            title=f"Confusion: {name}",
        )
    save(fig, "confusion.png")

    if any(p.proba is None for _, p in models):
        return written  # curves need probabilities

    roc_rows, pr_rows, cal_rows = [], [], []
    fig_roc, ax_roc = plt.subplots(1, len(present), figsize=(4 * len(present), 4), squeeze=False)
    fig_pr, ax_pr = plt.subplots(1, len(present), figsize=(4 * len(present), 4), squeeze=False)
    for name, p in models:
        proba = _aligned(p, classes)
        for k, cls in enumerate(present):  # a loop over classes, not rows
            col = classes.index(cls)
            fpr, tpr, _ = roc_curve(y == cls, proba[:, col])
            prec, rec, _ = precision_recall_curve(y == cls, proba[:, col])
            roc_rows.append(_curve_frame(name, cls, fpr=fpr, tpr=tpr))
            pr_rows.append(_curve_frame(name, cls, recall=rec, precision=prec))
            # Drawn from a few thousand of the curve's points (the same line at this size): every
            # point of 333,000 made tight_layout, the legend's placement and savefig take seconds.
            ax_roc[0, k].plot(*_drawn(fpr, tpr), label=name)
            ax_pr[0, k].plot(*_drawn(rec, prec), label=name)
            ax_roc[0, k].set(title=f"ROC: {cls} vs rest", xlabel="false positive rate", ylabel="true positive rate")
            ax_pr[0, k].set(title=f"PR: {cls} vs rest", xlabel="recall", ylabel="precision")
        # Top-label calibration: mean confidence vs accuracy per confidence bin.
        top = proba.argmax(axis=1)
        conf = proba[np.arange(len(y)), top]
        correct = np.asarray(classes)[top] == y
        n_bins = 10
        bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
        count = np.bincount(bins, minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            cal_rows.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "bin": np.arange(n_bins),
                        "confidence": np.bincount(bins, conf, n_bins) / count,
                        "accuracy": np.bincount(bins, correct.astype(float), n_bins) / count,
                        "count": count,
                    }
                )[count > 0]
            )
    for ax in (*ax_roc[0], *ax_pr[0]):
        ax.legend()
    for ax in ax_roc[0]:
        ax.plot([0, 1], [0, 1], "k:", lw=1)
    save(fig_roc, "roc.png")
    save(fig_pr, "precision_recall.png")
    save_csv(pd.concat(roc_rows, ignore_index=True), "roc.csv")
    save_csv(pd.concat(pr_rows, ignore_index=True), "pr.csv")
    cal = pd.concat(cal_rows, ignore_index=True)
    save_csv(cal, "calibration.csv")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="perfect")
    for name, part in cal.groupby("model", sort=False):
        ax.plot(part["confidence"], part["accuracy"], marker="o", label=name)
    ax.set(xlabel="mean confidence (top label)", ylabel="accuracy", title="Calibration")
    ax.legend()
    save(fig, "calibration.png")
    return written


#: The folders under ``reports/plots`` dvc.yaml's top-level plots read, one file per model in each.
DVC_PLOT_KINDS = ("roc", "pr", "calibration", "confusion")


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, classes: tuple) -> tuple[np.ndarray, np.ndarray]:
    # Labels and scores of one curve per model: the positive (last) class of a binary task, else
    # every (row, class) pair pooled (micro-average), so each model is one line in a DVC panel.
    if len(classes) == 2:
        return (y == classes[1]).astype(int), proba[:, 1]
    truth = (y[:, None] == np.asarray(classes)[None, :]).astype(int)
    return truth.ravel(), proba.ravel()


def write_dvc_plots(result, out_dir: Path) -> list[Path]:
    """Write the per-model files dvc.yaml's top-level plots overlay (``<kind>/<model>.csv``).

    ``roc/<model>.csv`` (fpr, tpr), ``pr/<model>.csv`` (recall, precision) and
    ``calibration/<model>.csv`` (confidence, accuracy, count) need probabilities;
    ``confusion/<model>.csv`` (actual, predicted) is one row per holdout row. Without a champion
    (a first cycle) its files hold the header only. A regression writes none: dvc.yaml's
    classification plots then have no file to show.

    Parameters
    ----------
    result : ComparisonResult
        From :func:`driftloop.compare.compare_models`.
    out_dir : Path
        ``reports/plots``; the kind folders are created in it.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    ``write_dvc_plots(result, Path("reports/plots"))`` after :func:`driftloop.compare.compare_models`
    (it needs two fitted models, so it is not a doctest; tests/test_dvc_views.py checks the files
    through a real ``dvc plots show``).
    """
    from sklearn.metrics import precision_recall_curve, roc_curve

    written: list[Path] = []
    if result.task == "regression":
        return written
    out = Path(out_dir)

    def save(frame: pd.DataFrame, kind: str, model: str) -> None:
        path = out / kind / f"{model}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        written.append(path)

    y = np.asarray(result.y_true)
    classes = tuple(result.classes)
    for name, p in _models(result):
        save(pd.DataFrame({"actual": y, "predicted": p.pred}), "confusion", name)
        if p.proba is None:
            continue  # curves need probabilities
        proba = _aligned(p, classes)
        truth, score = _one_vs_rest(y, proba, classes)
        fpr, tpr, _ = roc_curve(truth, score)
        prec, rec, _ = precision_recall_curve(truth, score)
        save(_thin(pd.DataFrame({"fpr": fpr, "tpr": tpr})).round(5), "roc", name)
        save(_thin(pd.DataFrame({"recall": rec, "precision": prec})).round(5), "pr", name)
        top = proba.argmax(axis=1)
        conf = proba[np.arange(len(y)), top]
        correct = np.asarray(classes)[top] == y
        bins = np.minimum((conf * 10).astype(int), 9)
        count = np.bincount(bins, minlength=10)
        with np.errstate(invalid="ignore", divide="ignore"):
            cal = pd.DataFrame(
                {
                    "confidence": np.bincount(bins, conf, 10) / count,
                    "accuracy": np.bincount(bins, correct.astype(float), 10) / count,
                    "count": count,
                }
            )[count > 0]
        save(cal.round(5), "calibration", name)
    if result.champion_predictions is None:
        # A first cycle: the champion's files hold the header only, so that `dvc plots diff` against
        # this revision shows the challenger alone instead of failing to load the champion's files.
        for kind in DVC_PLOT_KINDS:
            challenger = out / kind / "challenger.csv"
            if challenger.is_file():
                save(pd.read_csv(challenger, nrows=0), kind, "champion")
    return written
