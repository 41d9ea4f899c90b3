"""Tell people what a cycle decided: a Slack-compatible webhook on promotion, rejection, failure and drift.

The webhook's URL comes from the environment (``DRIFTLOOP_WEBHOOK_URL``) and nowhere else: a
Slack incoming-webhook URL *is* its secret (``https://hooks.slack.com/services/T0/B0/<token>``),
so it must never reach ``params.yaml``, MLflow or a log line. :func:`send` never prints it, not
even inside an exception's text (urllib's errors may quote it).

A dead webhook never fails the cycle: :func:`send` retries transient failures (connection errors,
timeouts, HTTP 429 and 5xx) with exponential backoff through tenacity, then gives up with one line
on stderr and returns False; it never raises.

Standard library plus tenacity (imported only when a delivery failed), so the cycle command can
import it cheaply.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from driftloop.redact import MASK, has_credentials, redact

__all__ = [
    "EVENTS_ENV",
    "EVENT_KINDS",
    "URL_ENV",
    "CycleEvent",
    "enabled_kinds",
    "run_url",
    "send",
    "slack_payload",
]

URL_ENV = "DRIFTLOOP_WEBHOOK_URL"
EVENTS_ENV = "DRIFTLOOP_WEBHOOK_EVENTS"
EVENT_KINDS: tuple[str, ...] = ("promoted", "rejected", "failed", "drift")

_TITLES = {
    "promoted": "promoted a new champion",
    "rejected": "kept the champion (challenger rejected)",
    "failed": "failed",
    "drift": "detected drift",
}
_EMOJI = {"promoted": ":white_check_mark:", "rejected": ":no_entry_sign:", "failed": ":x:", "drift": ":warning:"}
# Slack's limits: a header's plain text holds 150 characters, a section's text 3000.
_HEADER_MAX = 150
_SECTION_MAX = 3000
_MAX_COLUMNS_SHOWN = 30


@dataclass(frozen=True)
class CycleEvent:
    """What a cycle has to tell.

    Attributes
    ----------
    kind
        ``"promoted"``, ``"rejected"``, ``"failed"`` or ``"drift"``.
    summary
        The decision summary, one or a few lines (credentials are masked before sending).
    run_url
        The MLflow UI link to the cycle's run (:func:`run_url`), or None when there is none.
    model, version
        The registered model and the version concerned, when known.
    drifted_columns
        The columns found drifting.
    step
        The failing step, for ``"failed"``.
    """

    kind: str
    summary: str
    run_url: str | None = None
    model: str | None = None
    version: str | None = None
    drifted_columns: tuple[str, ...] = ()
    step: str | None = None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn_escape(text: str) -> str:
    # Slack's three control characters in mrkdwn; the rest is shown as written.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _title(event: CycleEvent) -> str:
    what = _TITLES.get(event.kind, event.kind)
    if event.kind == "failed" and event.step:
        what = f"failed at step {event.step}"
    subject = "driftloop"
    if event.model:
        subject += f" · {event.model}" + (f" v{event.version}" if event.version else "")
    return f"{subject}: {what}"


def slack_payload(event: CycleEvent) -> dict[str, Any]:
    """The Slack-compatible JSON body for ``event`` (pure).

    ``text`` is the fallback shown in notifications and by receivers that ignore blocks;
    ``blocks`` hold a header, the summary, the drifted columns (when any) and a link to the MLflow
    run (when ``run_url`` is set). Credentials in the summary and the link are masked
    (:func:`driftloop.redact.redact`).

    >>> p = slack_payload(CycleEvent("drift", "2 of 5 columns drifted", drifted_columns=("age", "income")))
    >>> p["text"]
    'driftloop: detected drift: 2 of 5 columns drifted'
    >>> [b["type"] for b in p["blocks"]]
    ['header', 'section', 'section']
    """
    summary = redact(event.summary).strip() or "(no summary)"
    title = redact(_title(event))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, _HEADER_MAX), "emoji": True}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _clip(f"{_EMOJI.get(event.kind, '')} {_mrkdwn_escape(summary)}".strip(), _SECTION_MAX),
            },
        },
    ]
    if event.drifted_columns:
        shown = ", ".join(f"`{_mrkdwn_escape(c)}`" for c in event.drifted_columns[:_MAX_COLUMNS_SHOWN])
        more = len(event.drifted_columns) - _MAX_COLUMNS_SHOWN
        if more > 0:
            shown += f" and {more} more"
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": _clip(f"*Drifted columns ({len(event.drifted_columns)}):* {shown}", _SECTION_MAX),
                },
            }
        )
    text = f"{title}: {summary.splitlines()[0]}" if summary else title
    link = redact(event.run_url) if event.run_url else None
    if link:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open the MLflow run>"}},
        )
        text += f" ({link})"
    return {"text": text, "blocks": blocks}


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str | None:
    """The MLflow UI link to a run, for an ``http(s)`` tracking URI; None otherwise.

    A ``sqlite:`` or file store has no UI address to link to. A URI holding credentials gives
    None too: a link would either carry the secret to the chat or be broken by masking it.

    >>> run_url("http://127.0.0.1:5000/", "3", "abc123")
    'http://127.0.0.1:5000/#/experiments/3/runs/abc123'
    >>> run_url("sqlite:///mlflow.db", "3", "abc123") is None
    True
    >>> run_url("https://bob:pw@mlflow.example", "1", "r") is None
    True
    """
    parts = urllib.parse.urlsplit(tracking_uri.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or has_credentials(tracking_uri):
        return None
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    exp = urllib.parse.quote(str(experiment_id), safe="")
    run = urllib.parse.quote(str(run_id), safe="")
    return f"{base}/#/experiments/{exp}/runs/{run}"


def enabled_kinds(env: Mapping[str, str]) -> tuple[frozenset[str], list[str]]:
    """The event kinds ``DRIFTLOOP_WEBHOOK_EVENTS`` enables (a comma list; unset or empty: all
    four), and the names in it that are not event kinds.

    >>> kinds, unknown = enabled_kinds({"DRIFTLOOP_WEBHOOK_EVENTS": "failed, Promoted,typo"})
    >>> sorted(kinds), unknown
    (['failed', 'promoted'], ['typo'])
    """
    raw = env.get(EVENTS_ENV, "").strip()
    if not raw:
        return frozenset(EVENT_KINDS), []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    return frozenset(n for n in names if n in EVENT_KINDS), [n for n in names if n not in EVENT_KINDS]


class _Transient(Exception):
    """A delivery failure worth retrying; ``what`` is safe to print (no URL)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class _Permanent(Exception):
    """A delivery failure not worth retrying (a 4xx other than 429); ``what`` is safe to print."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _scrub(text: str, url: str) -> str:
    """``text`` without ``url`` or any of its parts that may be a secret (its path, query, userinfo)."""
    parts = urllib.parse.urlsplit(url)
    for secret in sorted(
        {url, parts.path, parts.query, parts.netloc, urllib.parse.unquote(url)}, key=len, reverse=True
    ):
        if len(secret) > 1:
            text = text.replace(secret, MASK)
    return redact(text)


def _error_class(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        return f"{type(exc).__name__} ({type(reason).__name__})"
    return type(exc).__name__


def _post_once(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        what = f"HTTP {exc.code}"
        exc.close()
        if exc.code == 429 or exc.code >= 500:
            raise _Transient(what) from None
        raise _Permanent(what) from None
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
        # Raised ``from None``: the original's text may quote the URL and must not travel on.
        raise _Transient(_error_class(exc)) from None


def send(
    event: CycleEvent,
    env: Mapping[str, str] = os.environ,
    *,
    timeout: float = 5.0,
    attempts: int = 4,
    backoff: float = 1.0,
    stderr: TextIO | None = None,
) -> bool:
    """POST :func:`slack_payload` of ``event`` to ``$DRIFTLOOP_WEBHOOK_URL``; True when delivered.

    Parameters
    ----------
    event
        What to tell.
    env
        Where ``DRIFTLOOP_WEBHOOK_URL`` (no URL: nothing is sent, False) and
        ``DRIFTLOOP_WEBHOOK_EVENTS`` (a comma list of the kinds to send; default all four) are read.
    timeout
        Seconds per attempt.
    attempts
        Attempts in all; connection errors, timeouts, HTTP 429 and 5xx are retried.
    backoff
        The first wait between attempts, in seconds; it doubles after each (at most 30 s).
    stderr
        Where the one failure line goes (default ``sys.stderr``).

    Returns
    -------
    bool
        True when the receiver answered 2xx; False when no URL is set, the kind is not enabled, or
        delivery failed. Never raises: a dead webhook never fails the cycle. On failure one line
        names the event and the HTTP status or error class, never the URL.
    """
    err = sys.stderr if stderr is None else stderr
    try:
        url = env.get(URL_ENV, "").strip()
        if not url:
            return False
        kinds, unknown = enabled_kinds(env)
        if unknown:
            print(
                f"driftloop: {EVENTS_ENV} names unknown event(s) {', '.join(sorted(unknown))} "
                f"(expected a comma list of {', '.join(EVENT_KINDS)}); ignored",
                file=err,
            )
        if event.kind not in kinds:
            return False
        if urllib.parse.urlsplit(url).scheme.lower() not in ("http", "https"):
            print(f"driftloop: webhook notification '{event.kind}' not sent: {URL_ENV} is not an http(s) URL", file=err)
            return False
        body = json.dumps(slack_payload(event)).encode("utf-8")
        try:
            _deliver(url, body, timeout=timeout, attempts=max(1, attempts), backoff=backoff)
        except (_Transient, _Permanent) as exc:
            tries = "" if isinstance(exc, _Permanent) else f" after {max(1, attempts)} attempt(s)"
            print(f"driftloop: webhook notification '{event.kind}' not delivered{tries}: {exc.what}", file=err)
            return False
        return True
    except Exception as exc:  # a notification must never fail the cycle
        print(
            f"driftloop: webhook notification '{event.kind}' not delivered: {_error_class(exc)}: "
            f"{_scrub(str(exc), env.get(URL_ENV, ''))}",
            file=err,
        )
        return False


def _deliver(url: str, body: bytes, *, timeout: float, attempts: int, backoff: float) -> None:
    # Imported here: most cycles notify once, and the cycle command should start fast.
    import tenacity

    policy = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(_Transient),
        stop=tenacity.stop_after_attempt(attempts),
        # backoff, 2 * backoff, 4 * backoff, ... at most 30 s between attempts.
        wait=tenacity.wait_exponential(multiplier=backoff, max=30),
        reraise=True,
    )
    policy(_post_once, url, body, timeout)
