"""The registry as a changelog: markdown for model version and registered model descriptions.

MLflow shows a registered model's description on its page (Models -> the model) and a version's
on the version's page. driftloop writes both, so that what the JSON tags record can be read there:

* a **version description**: a first line saying what the version is now (serving, ``previous``,
  replaced, rolled back, never served), the decision it was registered with (one sentence, one line
  per gate, the headline comparison), its lineage, and the alias moves that touched it;
* the **registered model description**: a header naming what the aliases point at, the last
  decision (promoted, rejected or no challenger) and the alias history as a table, newest first.

Pure: typed inputs in, text out; the registry edge (:mod:`driftloop.promote.registry`) reads the
inputs and writes the text. Every text is cut to :data:`MAX_DESCRIPTION` characters and passed
through :func:`driftloop.redact.redact` (a data path or a reason may hold a URI with credentials).

A version description is re-rendered on every alias move that changes the version's status: its
first line and its moves section are regenerated from the alias history, and the part in between
(the decision it was registered with, see :func:`version_body`) is kept as it was written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftloop.contracts import Gate
from driftloop.promote.alias_history import AliasMove
from driftloop.promote.gates import Decision
from driftloop.redact import redact
from driftloop.tags import (
    TAG_CYCLE_RUN_ID,
    TAG_DRIFT_SUMMARY,
    TAG_GIT_COMMIT,
    TAG_HOLDOUT_MD5,
    TAG_HOLDOUT_PATH,
    TAG_TRAIN_MD5,
    TAG_TRAIN_PATH,
)

#: MLflow's SQL registry stores both descriptions in ``String(5000)`` columns
#: (``mlflow/store/model_registry/dbmodels/models.py``: ``SqlRegisteredModel.description`` and
#: ``SqlModelVersion.description``). SQLite does not enforce it, PostgreSQL and MySQL refuse longer.
MAX_DESCRIPTION = 5000
#: The part of a version description written at registration; the rest is left for its status
#: line and its alias moves, which grow with every move.
MAX_BODY = 3600
#: One gate sentence, one reason in a table cell: longer ones are cut.
MAX_SENTENCE = 400
MAX_CELL = 160

#: The first line of a version description (regenerated on every move).
STATUS_PREFIX = "**Now:** "
#: The heading of a version description's last part (regenerated on every move).
MOVES_HEADING = "#### Alias moves of this version (newest first)"


# -- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """The primary metric of a comparison: both models' values and the paired delta's interval.

    Parameters
    ----------
    metric : str
    champion, challenger : float or None
        None when unknown (no champion on a first cycle).
    greater_is_better : bool
    ci_low, ci_high : float or None
        The paired interval of ``challenger - champion``; None when not recorded.
    confidence : float or None
        Its level (0.95).
    """

    metric: str
    champion: float | None
    challenger: float | None
    greater_is_better: bool = True
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None

    @property
    def delta(self) -> float | None:
        """``challenger - champion``, None when either is unknown."""
        if self.champion is None or self.challenger is None:
            return None
        return self.challenger - self.champion

    @classmethod
    def from_gates(cls, gates: Sequence[Gate]) -> Headline | None:
        """The headline read from the gates' evidence: the first enforced ``min_gain`` gate (the
        primary rule), else any ``min_gain``, ``max_regression`` or ``threshold`` gate; None when
        no gate carries a metric.

        Examples
        --------
        >>> ev = {"metric": "f1_macro", "champion": 0.7, "challenger": 0.76, "greater_is_better": True,
        ...       "ci_low": 0.02, "ci_high": 0.1, "confidence": 0.95}
        >>> h = Headline.from_gates([Gate("min_gain.f1_macro", True, "...", evidence=ev)])
        >>> (h.metric, round(h.delta, 2), h.ci_low)
        ('f1_macro', 0.06, 0.02)
        """

        def rank(g: Gate) -> tuple[int, int]:
            kind = g.name.split(".", 1)[0]
            order = {"min_gain": 0, "max_regression": 1, "threshold": 2}.get(kind, 9)
            return order, 0 if g.blocking else 1

        with_metric = [g for g in gates if isinstance(g.evidence.get("metric"), str)]
        if not with_metric:
            return None
        ev = min(with_metric, key=rank).evidence
        return cls(
            metric=str(ev["metric"]),
            champion=_num(ev.get("champion")),
            challenger=_num(ev.get("challenger")),
            greater_is_better=ev.get("greater_is_better") is not False,
            ci_low=_num(ev.get("ci_low")),
            ci_high=_num(ev.get("ci_high")),
            confidence=_num(ev.get("confidence")),
        )


@dataclass(frozen=True)
class Lineage:
    """Where a version came from.

    Parameters
    ----------
    source_run_id : str or None
        The run that logged the model.
    cycle_run_id : str or None
        The cycle's MLflow parent run.
    git_commit : str or None
    training_data_path, training_data_md5, holdout_data_path, holdout_data_md5 : str or None
        The DVC-tracked data it was trained and judged on.
    drifted_columns : tuple of str or None
        The drift that triggered the retrain (None when not recorded).
    compared_with : str or None
        The champion version it was compared against (None: there was none).
    """

    source_run_id: str | None = None
    cycle_run_id: str | None = None
    git_commit: str | None = None
    training_data_path: str | None = None
    training_data_md5: str | None = None
    holdout_data_path: str | None = None
    holdout_data_md5: str | None = None
    drifted_columns: tuple[str, ...] | None = None
    compared_with: str | None = None

    @classmethod
    def from_tags(cls, tags: Mapping[str, str], source_run_id: str | None, compared_with: str | None) -> Lineage:
        """The lineage from a version's lineage tags (:mod:`driftloop.promote.lineage_tags`).

        Examples
        --------
        >>> tags = {"driftloop.git_commit": "0123abc", "driftloop.drift_summary": '{"columns": ["stars"]}'}
        >>> Lineage.from_tags(tags, "r1", "3").drifted_columns
        ('stars',)
        """
        columns: tuple[str, ...] | None = None
        raw = tags.get(TAG_DRIFT_SUMMARY)
        if raw:
            try:
                summary = json.loads(raw)
            except ValueError:
                summary = None  # truncated or hand-written: leave the drift out
            if isinstance(summary, Mapping):
                found = summary.get("columns", summary.get("drifted_columns"))
                if isinstance(found, list):
                    columns = tuple(str(c) for c in found)
        return cls(
            source_run_id=source_run_id,
            cycle_run_id=tags.get(TAG_CYCLE_RUN_ID),
            git_commit=tags.get(TAG_GIT_COMMIT),
            training_data_path=tags.get(TAG_TRAIN_PATH),
            training_data_md5=tags.get(TAG_TRAIN_MD5),
            holdout_data_path=tags.get(TAG_HOLDOUT_PATH),
            holdout_data_md5=tags.get(TAG_HOLDOUT_MD5),
            drifted_columns=columns,
            compared_with=compared_with,
        )


@dataclass(frozen=True)
class ModelChangelog:
    """What the registered model's description shows.

    Parameters
    ----------
    model_name : str
    alias, previous_alias : str
        The serving alias and the one kept on the version it replaced.
    aliases : mapping
        Alias -> version, as the registry holds them now.
    moves : sequence of AliasMove
        The alias history, in any order (shown newest first).
    last_decision : mapping or None
        The registry's last-decision record (``driftloop.last_decision``).
    """

    model_name: str
    alias: str
    previous_alias: str
    aliases: Mapping[str, str]
    moves: Sequence[AliasMove]
    last_decision: Mapping[str, Any] | None = None


# -- small pieces ---------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def _cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _cell(text: str | None) -> str:
    """A markdown table cell: one line, pipes escaped, at most :data:`MAX_CELL` characters."""
    return "-" if not text else _cut(text, MAX_CELL).replace("|", "\\|")


def _scope(first_cycle: bool) -> str:
    return " (first cycle: no champion, only absolute thresholds applied)" if first_cycle else ""


def decision_sentence(decision: Decision) -> str:
    """The decision in one sentence: promoted or not, and the gates that decided it.

    Falls back to the decision's own summary (cut) when the gates do not explain the verdict (a
    decision not acted on, e.g. in a ``dvc exp run``, or one without gates).

    Examples
    --------
    >>> g = (Gate("min_gain.f1_macro", False, "gain +0.0010 < min_gain 0.01"), Gate("threshold.f1_macro", True, "ok"))
    >>> decision_sentence(Decision(False, False, g, "Rejected: ..."))
    'Not promoted: 1 of 2 enforced gates failed: `min_gain.f1_macro`.'
    >>> decision_sentence(Decision(True, True, g[1:], "Promoted: ..."))
    'Promoted: all 1 enforced gates passed (first cycle: no champion, only absolute thresholds applied).'
    """
    enforced = [g for g in decision.gates if g.blocking]
    failed = decision.failed
    if enforced and decision.promoted and not failed:
        return f"Promoted: all {len(enforced)} enforced gates passed{_scope(decision.first_cycle)}."
    if enforced and not decision.promoted and failed:
        names = ", ".join(f"`{g.name}`" for g in failed)
        return (
            f"Not promoted: {len(failed)} of {len(enforced)} enforced gates failed{_scope(decision.first_cycle)}: "
            f"{names}."
        )
    if enforced and not decision.promoted:  # every gate passed, yet not acted on (a `dvc exp run`)
        return (
            f"Not promoted, although all {len(enforced)} enforced gates passed{_scope(decision.first_cycle)}: "
            "the alias was not moved."
        )
    return _cut(decision.summary, MAX_SENTENCE) or ("Promoted." if decision.promoted else "Not promoted.")


def gate_line(gate: Gate) -> str:
    """One markdown list line for ``gate``: its verdict, its mode when not enforced, its sentence.

    Examples
    --------
    >>> gate_line(Gate("min_gain.f1_macro", False, "gain +0.0010 < min_gain 0.01"))
    '- **FAILED** `min_gain.f1_macro`: gain +0.0010 < min_gain 0.01'
    >>> gate_line(Gate("max_regression.recall_a", False, "regression 0.08 > 0.05", "advisory", "noisy class"))
    '- failed (advisory: noisy class) `max_regression.recall_a`: regression 0.08 > 0.05'
    """
    if gate.mode == "off":
        verdict = "off"
    elif gate.passed:
        verdict = "passed"
    elif gate.blocking:
        verdict = "**FAILED**"
    else:
        verdict = "failed"
    if gate.mode != "enforce" and gate.mode != "off":
        verdict += f" ({gate.mode}: {_cut(gate.reason, 120)})" if gate.reason else f" ({gate.mode})"
    return f"- {verdict} `{gate.name}`: {_cut(gate.detail, MAX_SENTENCE)}"


def headline_line(headline: Headline) -> str:
    """The headline comparison in one line.

    Examples
    --------
    >>> headline_line(Headline("f1_macro", 0.7, 0.76, True, 0.02, 0.1, 0.95))
    '`f1_macro` (higher is better): champion 0.7000, challenger 0.7600, delta +0.0600 (95% interval [+0.0200, +0.1000])'
    >>> headline_line(Headline("f1_macro", None, 0.76))
    '`f1_macro` (higher is better): challenger 0.7600; no champion to compare with'
    """
    better = "higher" if headline.greater_is_better else "lower"
    head = f"`{headline.metric}` ({better} is better): "
    chall = "missing" if headline.challenger is None else f"{headline.challenger:.4f}"
    if headline.champion is None:
        return head + f"challenger {chall}; no champion to compare with"
    text = head + f"champion {headline.champion:.4f}, challenger {chall}"
    delta = headline.delta
    if delta is None:
        return text
    text += f", delta {delta:+.4f}"
    if headline.ci_low is not None and headline.ci_high is not None:
        level = f"{headline.confidence:.0%} " if headline.confidence is not None else ""
        text += f" ({level}interval [{headline.ci_low:+.4f}, {headline.ci_high:+.4f}])"
    else:
        text += " (interval not recorded)"
    return text


def lineage_lines(lineage: Lineage) -> list[str]:
    """The lineage as markdown list lines (a field not known is left out; "compared against" never is).

    Examples
    --------
    >>> lineage_lines(Lineage(source_run_id="r1", git_commit="0123abc", compared_with="3"))
    ['- source run: `r1`', '- git commit: `0123abc`', '- compared against: version 3 (the champion then)']
    """
    out = []
    if lineage.cycle_run_id:
        out.append(f"- cycle run: `{lineage.cycle_run_id}`")
    if lineage.source_run_id:
        out.append(f"- source run: `{lineage.source_run_id}`")
    if lineage.git_commit:
        out.append(f"- git commit: `{lineage.git_commit}`")
    for what, path, md5 in (
        ("training data", lineage.training_data_path, lineage.training_data_md5),
        ("holdout", lineage.holdout_data_path, lineage.holdout_data_md5),
    ):
        if path or md5:
            shown = f"`{path}`" if path else "(path not recorded)"
            out.append(f"- {what}: {shown}" + (f", md5 `{md5}`" if md5 else ""))
    if lineage.drifted_columns is not None:
        cols = ", ".join(f"`{c}`" for c in lineage.drifted_columns) or "none"
        out.append(f"- drifted columns: {_cut(cols, MAX_SENTENCE)}")
    against = "none (first cycle)" if lineage.compared_with is None else f"version {lineage.compared_with}"
    out.append(f"- compared against: {against}" + (" (the champion then)" if lineage.compared_with else ""))
    return out


def _fit(head: list[str], rows: Sequence[str], tail: list[str], limit: int, omitted: Callable[[int], str]) -> list[str]:
    """``head + rows + tail`` as lines, keeping as many of ``rows`` (in order) as fit in ``limit``
    characters together with a line ``omitted(n)`` for the ``n`` rows left out."""

    def size(lines: Sequence[str]) -> int:
        return sum(len(line) + 1 for line in lines)

    fixed = size(head) + size(tail)
    kept: list[str] = []
    for i, row in enumerate(rows):
        left = len(rows) - i - 1
        room = limit - fixed - size(kept) - len(row) - 1 - (len(omitted(left)) + 1 if left else 0)
        if room < 0:
            break
        kept.append(row)
    left_out = len(rows) - len(kept)
    return head + kept + ([omitted(left_out)] if left_out else []) + tail


def _bounded(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """The last resort: ``text`` redacted and cut to ``limit`` characters."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 40].rstrip() + "\n\n_(cut to fit MLflow's limit)_"


# -- a version ------------------------------------------------------------------------------------


def version_body(
    decision: Decision, lineage: Lineage, headline: Headline | None = None, note: str | None = None
) -> str:
    """The part of a version description written when it is registered: the decision in one
    sentence, the headline comparison, one line per gate, the lineage and an optional note.

    At most :data:`MAX_BODY` characters: gates that do not fit are counted in a line saying so
    (the failed ones are listed first, so they are the last to go).

    Examples
    --------
    >>> d = Decision(False, False, (Gate("min_gain.f1_macro", False, "gain +0.0010 < min_gain 0.01"),), "Rejected.")
    >>> print(version_body(d, Lineage(source_run_id="r1", compared_with="3")))
    **Decision:** Not promoted: 1 of 1 enforced gates failed: `min_gain.f1_macro`.
    <BLANKLINE>
    **Gates:**
    - **FAILED** `min_gain.f1_macro`: gain +0.0010 < min_gain 0.01
    <BLANKLINE>
    **Lineage:**
    - source run: `r1`
    - compared against: version 3 (the champion then)
    """
    head = [f"**Decision:** {decision_sentence(decision)}", ""]
    if headline is not None:
        head += [f"**Headline:** {headline_line(headline)}", ""]
    head.append("**Gates:**" if decision.gates else "**Gates:** none were evaluated.")
    tail = ["", "**Lineage:**", *lineage_lines(lineage)]
    if note:
        tail += ["", f"**Note:** {_cut(note, 800)}"]
    # Failed enforced gates first: when some must be left out, the reasons for a rejection stay.
    ordered = sorted(decision.gates, key=lambda g: 0 if (not g.passed and g.blocking) else 1)
    rows = [gate_line(g) for g in ordered]
    lines = _fit(head, rows, tail, MAX_BODY, lambda n: f"- … {n} more gates (see the cycle run's decision.json)")
    return redact("\n".join(lines))


def _who(actor: str) -> str:
    return f"by {actor}" if actor else "by someone unrecorded"


def version_move_line(version: str, move: AliasMove) -> str:
    """One markdown list line: what ``move`` did to ``version``.

    Examples
    --------
    >>> m = AliasMove(4, "champion", "3", "2", "rollback", "alice", "v3 misclassifies refunds", "2026-12-01T10:00:00Z")
    >>> version_move_line("3", m)
    '- 2026-12-01T10:00:00Z: rolled back by alice (version 2 serves again): v3 misclassifies refunds'
    >>> version_move_line("2", m)
    '- 2026-12-01T10:00:00Z: restored as `champion` by a rollback by alice: v3 misclassifies refunds'
    """
    why = _cut(move.reason, 240)
    if move.to_version == version:
        if move.action == "promote":
            replaced = f"replacing version {move.from_version}" if move.from_version else "the first champion"
            return f"- {move.at}: promoted to `{move.alias}` by a cycle, {replaced} ({_who(move.actor)})"
        if move.action == "manual":
            return f"- {move.at}: promoted to `{move.alias}` by hand {_who(move.actor)}: {why}"
        if move.action == "rollback":
            return f"- {move.at}: restored as `{move.alias}` by a rollback {_who(move.actor)}: {why}"
        return f"- {move.at}: recorded as `{move.alias}` (the move's record had been lost)"
    if move.action == "rollback":
        return f"- {move.at}: rolled back {_who(move.actor)} (version {move.to_version} serves again): {why}"
    how = {"promote": "promoted by a cycle", "manual": "promoted by hand", "recorded": "recorded"}[move.action]
    return f"- {move.at}: replaced as `{move.alias}` by version {move.to_version} ({how}, {_who(move.actor)})"


def version_status(
    version: str, moves: Sequence[AliasMove], aliases: Mapping[str, str], alias: str, previous_alias: str
) -> str:
    """The first line of a version description: what the version is now, and since when.

    Examples
    --------
    >>> m = AliasMove(1, "champion", None, "1", "promote", "ci", "...", "2026-12-01T10:00:00Z")
    >>> version_status("1", [m], {"champion": "1"}, "champion", "previous")
    '**Now:** serving as `champion` since 2026-12-01T10:00:00Z (promoted by a cycle).'
    >>> version_status("2", [m], {"champion": "1"}, "champion", "previous")
    '**Now:** not serving: it has never held `champion`.'
    """
    mine = sorted((m for m in moves if version in (m.from_version, m.to_version)), key=lambda m: m.seq)
    if aliases.get(alias) == version:
        to_me = [m for m in mine if m.to_version == version]
        if not to_me:
            return f"{STATUS_PREFIX}serving as `{alias}` (no alias move recorded)."
        last = to_me[-1]
        how = {
            "promote": "promoted by a cycle",
            "manual": f"promoted by hand {_who(last.actor)}",
            "rollback": f"restored by a rollback {_who(last.actor)}",
            "recorded": "recorded after a crash",
        }[last.action]
        return f"{STATUS_PREFIX}serving as `{alias}` since {last.at} ({how})."
    held = ""
    if aliases.get(previous_alias) == version:
        held = f" It holds `{previous_alias}`: `driftloop rollback` restores it."
    away = [m for m in mine if m.from_version == version]
    if not away:
        return f"{STATUS_PREFIX}not serving: it has never held `{alias}`.{held}"
    last = away[-1]
    if last.action == "rollback":
        return (
            f"{STATUS_PREFIX}not serving: rolled back at {last.at} {_who(last.actor)} "
            f"(version {last.to_version} serves instead).{held}"
        )
    return f"{STATUS_PREFIX}not serving: replaced by version {last.to_version} at {last.at}.{held}"


def split_body(description: str | None) -> str:
    """The registration-time part of a version description: without the status line and the
    moves section that :func:`version_description` regenerates (a description written by hand is
    returned as it is).

    Examples
    --------
    >>> text = version_description("1", "**Decision:** Promoted.", [], {"champion": "1"})
    >>> split_body(text)
    '**Decision:** Promoted.'
    >>> split_body("trained by hand")
    'trained by hand'
    """
    text = description or ""
    if text.startswith(STATUS_PREFIX):
        _, _, text = text.partition("\n\n")
    if text.startswith(MOVES_HEADING):
        return ""
    cut = text.find("\n\n" + MOVES_HEADING)
    return (text if cut < 0 else text[:cut]).strip()


def version_description(
    version: str,
    body: str,
    moves: Sequence[AliasMove],
    aliases: Mapping[str, str],
    alias: str = "champion",
    previous_alias: str = "previous",
) -> str:
    """A version's whole description: its status line, ``body`` and the moves that touched it,
    newest first, within :data:`MAX_DESCRIPTION` characters (older moves are counted, not shown).

    Examples
    --------
    >>> m = AliasMove(1, "champion", None, "1", "promote", "ci", "...", "2026-12-01T10:00:00Z")
    >>> print(version_description("1", "**Decision:** Promoted.", [m], {"champion": "1"}))
    **Now:** serving as `champion` since 2026-12-01T10:00:00Z (promoted by a cycle).
    <BLANKLINE>
    **Decision:** Promoted.
    <BLANKLINE>
    #### Alias moves of this version (newest first)
    - 2026-12-01T10:00:00Z: promoted to `champion` by a cycle, the first champion (by ci)
    """
    status = version_status(version, moves, aliases, alias, previous_alias)
    body = body.strip()
    if len(body) > MAX_BODY:  # a long hand-written description: keep room for the status and moves
        body = body[: MAX_BODY - 1] + "…"
    head = [status, ""] + ([body, ""] if body else [])
    mine = sorted((m for m in moves if version in (m.from_version, m.to_version)), key=lambda m: -m.seq)
    if not mine:
        return _bounded("\n".join(head).rstrip())
    rows = [version_move_line(version, m) for m in mine]
    lines = _fit(
        [*head, MOVES_HEADING], rows, [], MAX_DESCRIPTION - 100, lambda n: f"- … {n} older moves (`driftloop history`)"
    )
    return _bounded("\n".join(lines))


# -- the registered model -------------------------------------------------------------------------


def last_decision_line(record: Mapping[str, Any] | None) -> str:
    """The registry's last decision in one line (what the latest cycle decided, also a rejection
    that registered nothing).

    Examples
    --------
    >>> rec = {"promoted": False, "version": None, "run_id": "r9", "summary": "Rejected.",
    ...        "gates": [{"name": "min_gain.f1_macro", "passed": False, "detail": "gain too small"}],
    ...        "recorded_at": "2026-12-01T10:00:00Z"}
    >>> print(last_decision_line(rec))  # doctest: +NORMALIZE_WHITESPACE
    **Last decision** (2026-12-01T10:00:00Z): rejected, not registered (run `r9`).
    Not promoted: 1 of 1 enforced gates failed: `min_gain.f1_macro`.
    """
    if record is None:
        return "**Last decision:** none recorded yet."
    when = f" ({record['recorded_at']})" if record.get("recorded_at") else ""
    run = f" (run `{record['run_id']}`)" if record.get("run_id") else ""
    try:
        decision = Decision.from_dict({"promoted": False, **record})
    except (KeyError, TypeError, ValueError):  # a hand-edited record: show its summary only
        decision = Decision(bool(record.get("promoted")), False, (), str(record.get("summary") or ""))
    version = record.get("version")
    if "promoted" not in record:  # a truncated or hand-written record: its text is all there is
        return f"**Last decision**{when}: {_cut(str(record.get('summary') or record), MAX_SENTENCE)}"
    if record.get("challenger_trained") is False:
        what = "no challenger was trained"
    elif decision.promoted:
        what = f"promoted version {version}" if version else "promoted"
    elif version:
        what = f"rejected, version {version} registered without an alias"
    else:
        what = "rejected, not registered"
    return f"**Last decision**{when}: {what}{run}. {decision_sentence(decision)}"


_ACTION = {
    "promote": "promoted by a cycle",
    "manual": "promoted by hand",
    "rollback": "rollback",
    "recorded": "recorded",
}


def history_row(move: AliasMove) -> str:
    """One row of the alias history table.

    Examples
    --------
    >>> move = AliasMove(4, "champion", "3", "2", "rollback", "alice", "v3 | v4 broke refunds", "2026-12-01T10:00Z")
    >>> print(history_row(move))
    | 4 | 2026-12-01T10:00Z | champion | 2 | 3 | rollback | alice | v3 \\| v4 broke refunds |
    """
    cells = [
        str(move.seq),
        _cell(move.at),
        _cell(move.alias),
        _cell(move.to_version),
        _cell(move.from_version),
        _ACTION.get(move.action, move.action),
        _cell(move.actor),
        _cell(move.reason),
    ]
    return "| " + " | ".join(cells) + " |"


HISTORY_HEADER = (
    "| # | when (UTC) | alias | version | previous version | action | who | why |",
    "|---|---|---|---|---|---|---|---|",
)


def model_description(log: ModelChangelog, limit: int = MAX_DESCRIPTION) -> str:
    """The registered model's description: what serves, the last decision and the alias history
    as a markdown table, newest first, within ``limit`` characters (older rows are counted in a
    line saying how many were left out).

    Examples
    --------
    >>> m = AliasMove(1, "champion", None, "1", "promote", "ci", "first", "2026-12-01T10:00:00Z")
    >>> log = ModelChangelog("sentiment", "champion", "previous", {"champion": "1"}, [m])
    >>> print(model_description(log))  # doctest: +NORMALIZE_WHITESPACE
    ### sentiment: the `champion` alias and why it moved
    `champion`: version 1 · `previous`: none
    <BLANKLINE>
    **Last decision:** none recorded yet.
    <BLANKLINE>
    #### Alias history (newest first)
    | # | when (UTC) | alias | version | previous version | action | who | why |
    |---|---|---|---|---|---|---|---|
    | 1 | 2026-12-01T10:00:00Z | champion | 1 | - | promoted by a cycle | ci | first |
    <BLANKLINE>
    Written by driftloop on every alias move and decision. Each version's description says why it
    was or was not promoted; `driftloop history` prints every move.
    """

    def points(a: str) -> str:
        v = log.aliases.get(a)
        return f"`{a}`: " + ("none" if v is None else f"version {v}")

    head = [
        f"### {log.model_name}: the `{log.alias}` alias and why it moved",
        f"{points(log.alias)} · {points(log.previous_alias)}",
        "",
        last_decision_line(log.last_decision),
        "",
        "#### Alias history (newest first)",
    ]
    tail = [
        "",
        "Written by driftloop on every alias move and decision. Each version's description says why it "
        "was or was not promoted; `driftloop history` prints every move.",
    ]
    moves = sorted(log.moves, key=lambda m: -m.seq)
    if not moves:
        return _bounded("\n".join([*head, "No alias move recorded yet.", *tail]), limit)
    rows = [history_row(m) for m in moves]
    lines = _fit(
        [*head, *HISTORY_HEADER],
        rows,
        tail,
        limit - 100,  # redaction may lengthen nothing, but a masked value may be a few characters longer
        lambda n: f"\n_{n} older moves not shown: `driftloop history` lists them all._",
    )
    return _bounded("\n".join(lines), limit)
