"""Human review: the queue of the champion's least confident predictions, the labels people
return, and how often those labels disagree with the model.

Pure functions on frames and files; the drift stage builds the queue from the champion's outputs
on the current window (:mod:`driftloop.drift_files`), the snapshot stage reports the problems of
the returned files (:func:`driftloop.batches.check_reviewed_ids`) and the retrain stage applies
the labels (:func:`driftloop.train.labels.apply_reviewed_labels`).

The loop, for a classifier:

1. each cycle writes ``reports/review_queue.csv``: per predicted class an equal share of the
   least confident rows of the current window (confidence = the top class's probability), the
   leftover filled by the least confident overall, plus ``control`` uniformly random rows, the
   baseline that tells whether the least confident rows are worse than any row;
2. people return files of ``id,label,reviewer`` into ``data.source.reviewed_labels``;
3. the next cycle validates them (:func:`validate_reviews`: every problem named, none dropped
   silently), trains on the corrected labels and reports per predicted class how many reviewed
   labels disagreed with the champion, with a Wilson 95 % interval (:func:`disagreement`).

A regressor has no class probabilities: its queue is empty (see :func:`review_queue`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftloop.schema import class_name

LEAST_CONFIDENT = "least_confident"
CONTROL = "control"
#: The columns after the id and the input columns, in order.
QUEUE_TAIL = ("predicted_label", "confidence", "reason")
#: What a returned file holds (``reviewer`` optional: files of ``id,label`` predate it).
REVIEW_COLUMNS = ("id", "label")
REVIEWER = "reviewer"
#: A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What :func:`escape_cell` puts before such a cell: spreadsheets show the rest as text.
FORMULA_ESCAPE = "'"


def review_queue(
    current: pd.DataFrame,
    predicted: Sequence[Any] | np.ndarray,
    confidence: Sequence[float] | np.ndarray,
    *,
    size: int,
    control: int,
    seed: int,
    id_column: str,
    features: Sequence[str],
) -> pd.DataFrame:
    """The rows to put in front of people: the least confident, stratified by predicted class,
    and a random control sample.

    Parameters
    ----------
    current : pandas.DataFrame
        The rows the model scored (the current window), with ``id_column`` and ``features``.
    predicted : array-like
        The predicted label of each row of ``current`` (same order).
    confidence : array-like of float
        The model's confidence in each prediction: the top class's probability. A missing
        (NaN) confidence ranks after every known one.
    size : int
        Least confident rows to choose. Each predicted class gets ``size // n_classes`` of its
        own least confident rows (all of them when it has fewer); what is left of ``size`` is
        filled by the least confident rows not yet chosen, whatever their class. So a class the
        model predicts rarely is still reviewed, and a class it is unsure about gets the rest.
    control : int
        Rows drawn uniformly at random from those not already chosen.
    seed : int
        Seed of the control draw (its own :class:`numpy.random.Generator`).
    id_column : str
    features : sequence of str
        The input columns written beside the id.

    Returns
    -------
    pandas.DataFrame
        ``id_column``, ``features``, ``predicted_label``, ``confidence`` and ``reason``
        (``"least_confident"`` or ``"control"``): the least confident rows first, by rising
        confidence, then the control rows in the order of ``current``. Ties in confidence are
        broken by row order, so the result depends on nothing but the inputs and ``seed``.

    Raises
    ------
    ValueError
        When ``predicted`` or ``confidence`` does not have one value per row, or ``size`` or
        ``control`` is negative.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": list("abcdef"), "x": range(6)})
    >>> q = review_queue(frame, ["p", "p", "p", "n", "n", "n"], [0.9, 0.6, 0.7, 0.55, 0.99, 0.8],
    ...                  size=2, control=1, seed=0, id_column="id", features=["x"])
    >>> q[["id", "predicted_label", "reason"]].values.tolist()[:2]
    [['d', 'n', 'least_confident'], ['b', 'p', 'least_confident']]
    """
    pred = np.asarray(predicted, dtype=object)
    conf = np.asarray(confidence, dtype=np.float64)
    n = len(current)
    if len(pred) != n or len(conf) != n:
        raise ValueError(f"review_queue: {n} rows but {len(pred)} predictions and {len(conf)} confidences.")
    if size < 0 or control < 0:
        raise ValueError(f"review_queue: size and control must be >= 0. Got size={size}, control={control}.")
    # Named once per distinct prediction (a classifier predicts few classes), spread back by code.
    codes, distinct = pd.factorize(pred, use_na_sentinel=False)
    labels = np.array([class_name(p) for p in distinct], dtype=object)[codes]
    # Rising confidence, NaN last, ties by position: lexsort sorts by its last key first.
    order = np.lexsort((np.arange(n), np.isnan(conf) * 1.0, np.nan_to_num(conf, nan=np.inf)))
    chosen = np.zeros(n, dtype=bool)
    classes = sorted(set(labels.tolist()))
    share = size // len(classes) if classes else 0
    for cls in classes:
        mine = order[labels[order] == cls][:share]
        chosen[mine] = True
    left = size - int(chosen.sum())
    if left > 0:
        chosen[order[~chosen[order]][:left]] = True
    picked = order[chosen[order]]  # the chosen rows, least confident first
    rest = np.flatnonzero(~chosen)
    rng = np.random.default_rng(seed)
    drawn = np.sort(rng.choice(rest, size=min(control, len(rest)), replace=False)) if len(rest) else rest
    rows = np.concatenate([picked, drawn]).astype(np.intp)
    out = current.iloc[rows][[id_column, *[f for f in features if f != id_column]]].reset_index(drop=True)
    out["predicted_label"] = labels[rows]
    out["confidence"] = conf[rows]
    out["reason"] = [LEAST_CONFIDENT] * len(picked) + [CONTROL] * len(drawn)
    return out


def empty_queue(id_column: str, features: Sequence[str]) -> pd.DataFrame:
    """The queue's header with no rows (a first cycle, a regressor, a model without probabilities)."""
    return pd.DataFrame(columns=[id_column, *[f for f in features if f != id_column], *QUEUE_TAIL])


def escape_cell(value: Any) -> Any:
    """A text cell a spreadsheet shows as text, never runs: one that starts like a formula
    (:data:`FORMULA_STARTS`) or with the escape itself gets a leading apostrophe (OWASP's advice
    against CSV injection). Anything else, numbers included, is returned as it is.

    >>> escape_cell("=1+2"), escape_cell("-5"), escape_cell(-5.0), escape_cell("ok")
    ("'=1+2", "'-5", -5.0, 'ok')
    """
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, FORMULA_ESCAPE)):
        return FORMULA_ESCAPE + value
    return value


def unescape_cell(value: Any) -> Any:
    """The text :func:`escape_cell` was given (it prefixes every text that starts with the escape,
    so removing one apostrophe is exact)."""
    if isinstance(value, str) and value.startswith(FORMULA_ESCAPE):
        return value[1:]
    return value


def queue_csv(queue: pd.DataFrame) -> str:
    """The queue as CSV text a spreadsheet opens (write it as UTF-8 bytes: :func:`write_queue`).

    Fields holding the delimiter, a quote or a line break are quoted by the csv module (a
    comment's line breaks stay inside its cell); every kind of missing value (NaN, None,
    ``pd.NA``, NaT) is an empty field. An empty *string* is an empty field too: CSV has one
    empty value, so it reads back as missing (:func:`read_queue`).

    The cells come from incoming data, which anyone upstream may have written: a text cell that
    starts like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return) would run when
    a reviewer opens the file in a spreadsheet, so every text cell, the id's included, goes
    through :func:`escape_cell`. :func:`read_queue` undoes it, and returned files may give an id
    either way (:func:`validate_reviews`).
    """
    text_columns = [c for c in queue.columns if not pd.api.types.is_numeric_dtype(queue[c])]
    safe = queue.assign(**{str(c): queue[c].map(escape_cell) for c in text_columns}) if text_columns else queue
    # Rows end with CRLF (RFC 4180): the csv module quotes a field holding any character of the
    # line terminator, so a lone carriage return in a comment stays inside its cell too.
    return str(safe.to_csv(index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"))


def write_queue(queue: pd.DataFrame, path: Path) -> None:
    """Write :func:`queue_csv` to ``path`` as UTF-8 bytes (no newline translation on any platform)."""
    Path(path).write_bytes(queue_csv(queue).encode("utf-8"))


def read_queue(path: Path) -> pd.DataFrame:
    """Read a queue written by :func:`write_queue`: empty fields are missing, and only they
    (text such as ``NA``, ``null`` or ``None`` stays text); ids are read as text."""
    table = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={0: str}, encoding="utf-8")
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            table[column] = table[column].map(unescape_cell)
    return table


# -- the labels people return ------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewProblem:
    """One thing wrong in a returned file: where, and what was expected.

    ``line`` is the file's line number (the header is line 1), ``None`` for the whole file.
    """

    file: str
    line: int | None
    problem: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        return f"reviewed labels file {where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_reviews(
    files: Iterable[Path],
    known_ids: Iterable[Any] | None,
    classes: Sequence[str] | None,
    *,
    task: str = "classification",
) -> tuple[pd.Series, list[ReviewProblem]]:
    """Read returned label files and say everything wrong with them.

    Parameters
    ----------
    files : iterable of Path
        CSV files with a header ``id,label,reviewer`` (``reviewer`` optional, other columns
        ignored), read in the order given: a later file's label for an id replaces an earlier one.
    known_ids : iterable or None
        The ids a label may name (compared as text); ``None``: any id.
    classes : sequence of str or None
        The classes a label may take (classification); ``None`` or empty: any.
    task : {"classification", "regression"}
        A regression label must read as a number.

    Returns
    -------
    labels : pandas.Series
        The usable label of each reviewed id (index: the id as text; classification labels in
        :func:`driftloop.schema.class_name` spelling, regression labels as floats).
    problems : list of ReviewProblem
        Each row or file not used, and each id given two different labels, naming the file, the
        line and what was expected. Nothing is left out without a problem saying so:

        - ``unreadable`` / ``missing_column``: the whole file is skipped;
        - ``empty``: an id or label is empty, the row is skipped;
        - ``unknown_id``: the id is not in ``known_ids``, the row is skipped;
        - ``unknown_class`` / ``not_numeric``: the label is not one of ``classes`` (not a number),
          the row is skipped;
        - ``conflict``: an id labelled differently earlier (this or an earlier file): this
          row's label is used (the last one wins), the problem says which label it replaced.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.csv").write_text("id,label,reviewer\\n1,pos,ann\\n2,great,ann\\n")
    >>> labels, problems = validate_reviews([folder / "a.csv"], ["1", "2"], ["neg", "pos"])
    >>> labels.to_dict(), [p.problem for p in problems]
    ({'1': 'pos'}, ['unknown_class'])
    """
    files = list(files)
    # The ids as text, once, and only when there is a file to check against them.
    known = None if known_ids is None or not files else {str(i) for i in known_ids}
    allowed = set(classes or ())
    problems: list[ReviewProblem] = []
    labels: dict[str, Any] = {}
    where: dict[str, tuple[str, int]] = {}
    for path in files:
        name = str(path)
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
            problems.append(ReviewProblem(name, None, "unreadable", f"cannot be read as UTF-8 CSV ({exc}); skipped."))
            continue
        table.columns = [str(c).strip() for c in table.columns]
        missing = [c for c in REVIEW_COLUMNS if c not in table.columns]
        if missing:
            problems.append(
                ReviewProblem(
                    name,
                    1,
                    "missing_column",
                    f"missing column(s) {missing}; expected a header 'id,label,reviewer' (reviewer optional). "
                    f"Got columns {list(table.columns)}; the file is skipped.",
                )
            )
            continue
        for i, (raw_id, raw_label) in enumerate(zip(table["id"], table["label"], strict=True)):
            line = i + 2  # the header is line 1 (a field with a line break shifts the lines after it)
            rid, text = str(raw_id).strip(), str(raw_label).strip()
            if known is not None and rid not in known and unescape_cell(rid) in known:
                rid = unescape_cell(rid)  # copied from the queue's text with its formula escape
            if rid == "" or text == "":
                column = "id" if rid == "" else "label"
                problems.append(ReviewProblem(name, line, "empty", f"column {column!r} is empty; the row is skipped."))
                continue
            if known is not None and rid not in known:
                problems.append(
                    ReviewProblem(
                        name,
                        line,
                        "unknown_id",
                        f"id {rid!r} is in no batch of the incoming data; expected an id of the data's id "
                        "column. The row is skipped.",
                    )
                )
                continue
            value: Any
            if task == "regression":
                value = pd.to_numeric(text, errors="coerce")
                if pd.isna(value):
                    problems.append(
                        ReviewProblem(name, line, "not_numeric", f"label {text!r} is not a number; the row is skipped.")
                    )
                    continue
                value = float(value)
            else:
                value = class_name(text)  # "1.0" and "1" are one class
                if allowed and value not in allowed:
                    problems.append(
                        ReviewProblem(
                            name,
                            line,
                            "unknown_class",
                            f"label {text!r} is not one of the classes {sorted(allowed)} "
                            "(data.schema.classes); the row is skipped.",
                        )
                    )
                    continue
            if rid in labels and labels[rid] != value:
                first_file, first_line = where[rid]
                problems.append(
                    ReviewProblem(
                        name,
                        line,
                        "conflict",
                        f"id {rid!r} is labelled {value!r} here and {labels[rid]!r} in {first_file}, line "
                        f"{first_line}; the last one read ({value!r}) is used.",
                    )
                )
            labels[rid] = value
            where[rid] = (name, line)
    series = pd.Series(labels, dtype=float if task == "regression" else object, name="label")
    series.index = series.index.astype(str)
    return series, problems


def review_files(folder: Path | None) -> list[Path]:
    """The ``*.csv`` files of the reviewed-labels folder, in name order (later files win); none
    when the folder is not configured or does not exist yet."""
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(Path(folder).glob("*.csv"))


# -- how often reviewers disagreed with the model ----------------------------------------------


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials (scipy's, no continuity correction).

    It stays inside [0, 1] and keeps its coverage for rates near 0 or 1 and small ``n``, where
    the normal (Wald) interval collapses to a point.
    """
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


DISAGREEMENT_COLUMNS = ("predicted_class", "reviewed", "disagreed", "rate", "low", "high")


def disagreement(reviews: pd.Series, predicted: pd.Series, confidence: float = 0.95) -> pd.DataFrame:
    """Per predicted class: how many reviewed rows, how many reviewers relabelled, the rate and
    its Wilson interval.

    Parameters
    ----------
    reviews : pandas.Series
        The reviewed label by id (:func:`validate_reviews`).
    predicted : pandas.Series
        The model's predicted label by id. Ids in only one of the two are not counted.
    confidence : float
        Of the interval.

    Returns
    -------
    pandas.DataFrame
        One row per predicted class with at least one reviewed row, in class order: columns
        ``predicted_class``, ``reviewed``, ``disagreed``, ``rate``, ``low``, ``high``. A class the
        model over-predicts (a "neutral" class ballooning) shows as a high rate for that class.

    Examples
    --------
    >>> reviews = pd.Series({"1": "neg", "2": "pos", "3": "pos"})
    >>> predicted = pd.Series({"1": "neu", "2": "neu", "3": "pos", "4": "neu"})
    >>> disagreement(reviews, predicted)[["predicted_class", "reviewed", "disagreed", "rate"]].values.tolist()
    [['neu', 2, 2, 1.0], ['pos', 1, 0, 0.0]]
    """
    r = reviews.copy()
    r.index = r.index.astype(str)
    p = predicted.copy()
    p.index = p.index.astype(str)
    p = p[~p.index.duplicated(keep="last")]
    ids = r.index.intersection(p.index)
    pred = p.reindex(ids).map(class_name)
    given = r.reindex(ids).map(class_name)
    rows = []
    for cls in sorted(set(pred)):
        mask = (pred == cls).to_numpy()
        n, k = int(mask.sum()), int((given[mask] != pred[mask]).sum())
        low, high = wilson_interval(k, n, confidence)
        rows.append({"predicted_class": cls, "reviewed": n, "disagreed": k, "rate": k / n, "low": low, "high": high})
    return pd.DataFrame(rows, columns=list(DISAGREEMENT_COLUMNS))


def reviewed_section(
    table: pd.DataFrame,
    *,
    n_reviewed: int,
    problems: Sequence[ReviewProblem],
    model: str,
    outside: Sequence[str] = (),
    max_problems: int = 50,
) -> dict[str, Any]:
    """The drift report's ``reviewed_labels`` section.

    ``n_reviewed`` counts every usable reviewed id; those the table does not count are in
    neither window of this cycle (or in no batch at all: the snapshot warns about those), and
    ``outside`` names them (the first 20 are listed).
    """
    scored = int(table["reviewed"].sum()) if len(table) else 0
    return {
        "model": model,
        "n_reviewed": int(n_reviewed),
        "n_scored": scored,
        "n_outside_windows": int(n_reviewed) - scored,
        "outside_windows": [str(i) for i in list(outside)[:20]],
        "interval": "Wilson 95%",
        "per_class": [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ],
        "n_problems": len(problems),
        "problems": [p.to_dict() for p in list(problems)[:max_problems]],
    }
