"""Notifications (issue 16, item 3): a Slack-compatible webhook, retried, never failing the cycle,
never showing its URL.

Every delivery goes to a real HTTP receiver on 127.0.0.1 (``http.server`` in a thread, an
ephemeral port) that answers with a scripted list of statuses and records what it received; a
receiver that is down is a closed port, one that hangs is a socket that listens but never answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from driftloop.notify import CycleEvent, enabled_kinds, run_url, send, slack_payload

# The secret parts of a webhook URL: Slack's token sits in the path; some services put it in the query.
PATH_TOKEN = "pathTok3nXyZ9"
QUERY_TOKEN = "queryTok3nQw7"
SECRETS = (PATH_TOKEN, QUERY_TOKEN)

PROMOTED = CycleEvent(
    "promoted",
    "challenger v4 promoted: f1_macro 0.91 vs 0.86 (+0.05, p=0.003)",
    run_url="http://127.0.0.1:5000/#/experiments/1/runs/abc",
    model="churn",
    version="4",
    drifted_columns=("age", "income"),
)


class Receiver:
    """A webhook receiver answering ``statuses`` in turn (then 200), recording each request."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(
                    {"path": self.path, "content_type": self.headers.get("Content-Type"), "body": body}
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"error")

            def log_message(self, *args: object) -> None:  # keep pytest's captured stderr clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/T0/B0/{PATH_TOKEN}?token={QUERY_TOKEN}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Closed now: nothing listens there, a connection is refused.
    return f"http://127.0.0.1:{port}/services/T0/B0/{PATH_TOKEN}?token={QUERY_TOKEN}"


def assert_no_secret(text: str, url: str) -> None:
    assert url not in text
    for secret in SECRETS:
        assert secret not in text


# -- payload ------------------------------------------------------------------------------------


def test_payload_is_slack_text_and_blocks_with_header_summary_columns_and_link():
    payload = slack_payload(PROMOTED)
    assert set(payload) == {"text", "blocks"}
    assert payload["text"].startswith("driftloop · churn v4: promoted a new champion: challenger v4 promoted")
    header, summary, columns, link = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "driftloop · churn v4: promoted a new champion", "emoji": True},
    }
    assert summary["type"] == "section" and summary["text"]["type"] == "mrkdwn"
    assert "f1_macro 0.91 vs 0.86" in summary["text"]["text"]
    assert columns["text"]["text"] == "*Drifted columns (2):* `age`, `income`"
    assert link["text"]["text"] == "<http://127.0.0.1:5000/#/experiments/1/runs/abc|Open the MLflow run>"
    json.dumps(payload)  # JSON-serialisable as it is


@pytest.mark.parametrize(
    ("event", "n_blocks", "header"),
    [
        pytest.param(
            CycleEvent("rejected", "kept v3"),
            2,
            "driftloop: kept the champion (challenger rejected)",
            id="rejected-no-link",
        ),
        pytest.param(
            CycleEvent("failed", "dvc pull failed", step="pull"),
            2,
            "driftloop: failed at step pull",
            id="failed-names-step",
        ),
        pytest.param(
            CycleEvent("drift", "x", drifted_columns=("a",), run_url="http://h/#/r"),
            4,
            "driftloop: detected drift",
            id="drift-columns-link",
        ),
    ],
)
def test_payload_blocks_follow_what_the_event_holds(event, n_blocks, header):
    payload = slack_payload(event)
    assert len(payload["blocks"]) == n_blocks
    assert payload["blocks"][0]["text"]["text"] == header


def test_payload_masks_credentials_and_escapes_slack_control_characters():
    event = CycleEvent("failed", "MLflow at http://alice:s3cretPw@mlflow:5000 refused <x> & more", step="retrain")
    payload = slack_payload(event)
    text = json.dumps(payload)
    assert "s3cretPw" not in text
    assert "http://alice:***@mlflow:5000 refused &lt;x&gt; &amp; more" in payload["blocks"][1]["text"]["text"]


def test_payload_keeps_within_slack_limits():
    event = CycleEvent("drift", "s" * 5000, model="m" * 200, drifted_columns=tuple(f"c{i}" for i in range(100)))
    header, summary, columns = slack_payload(event)["blocks"]
    assert len(header["text"]["text"]) <= 150
    assert len(summary["text"]["text"]) <= 3000
    assert columns["text"]["text"].endswith("and 70 more")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param("http://127.0.0.1:5000", "http://127.0.0.1:5000/#/experiments/7/runs/r1", id="http"),
        pytest.param(
            "https://mlflow.example/mlflow/",
            "https://mlflow.example/mlflow/#/experiments/7/runs/r1",
            id="https-prefix-slash",
        ),
        pytest.param("sqlite:///mlruns.db", None, id="sqlite"),
        pytest.param("file:///tmp/mlruns", None, id="file"),
        pytest.param("./mlruns", None, id="path"),
        pytest.param("databricks", None, id="databricks"),
        pytest.param("https://bob:s3cret@mlflow.example", None, id="credentials-refused"),
        pytest.param("https://mlflow.example?token=abcdef", None, id="token-query-refused"),
    ],
)
def test_run_url(uri, expected):
    assert run_url(uri, "7", "r1") == expected


# -- delivery -----------------------------------------------------------------------------------


def test_send_delivers_the_payload_as_json(receiver, capsys):
    assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}) is True
    (request,) = receiver.requests
    assert request["path"] == f"/services/T0/B0/{PATH_TOKEN}?token={QUERY_TOKEN}"
    assert request["content_type"].startswith("application/json")
    assert json.loads(request["body"]) == slack_payload(PROMOTED)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_send_without_a_url_sends_nothing(receiver, capsys):
    assert send(PROMOTED, {}) is False
    assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": "  "}) is False
    assert receiver.requests == []
    assert capsys.readouterr() == ("", "")


def test_send_retries_two_503s_then_delivers(capsys):
    receiver = Receiver([503, 503])
    try:
        assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}, backoff=0.01) is True
        assert len(receiver.requests) == 3
        assert capsys.readouterr() == ("", "")
    finally:
        receiver.close()


def test_send_retries_429(capsys):
    receiver = Receiver([429])
    try:
        assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}, backoff=0.01) is True
        assert len(receiver.requests) == 2
    finally:
        receiver.close()


def test_send_gives_up_after_the_attempts_with_one_line_naming_event_and_status(capsys):
    receiver = Receiver([500] * 10)
    try:
        assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}, attempts=3, backoff=0.01) is False
        assert len(receiver.requests) == 3
    finally:
        receiver.close()
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "driftloop: webhook notification 'promoted' not delivered after 3 attempt(s): HTTP 500\n"
    assert_no_secret(err, receiver.url())


def test_send_does_not_retry_a_client_error(capsys):
    receiver = Receiver([404] * 10)
    try:
        assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}, backoff=0.01) is False
        assert len(receiver.requests) == 1
    finally:
        receiver.close()
    err = capsys.readouterr().err
    assert err == "driftloop: webhook notification 'promoted' not delivered: HTTP 404\n"


def test_a_receiver_that_is_down_gives_false_quickly_and_never_the_url(capsys):
    url = closed_port_url()
    started = time.monotonic()
    assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": url}, attempts=4, backoff=0.01) is False
    assert time.monotonic() - started < 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "'promoted' not delivered after 4 attempt(s): URLError (ConnectionRefusedError)" in err
    assert_no_secret(out + err, url)


def test_a_receiver_that_never_answers_times_out(capsys):
    with socket.socket() as listener:
        # Listens (connections complete in the backlog) but never accepts nor answers.
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook/{PATH_TOKEN}"
        started = time.monotonic()
        assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": url}, timeout=0.2, attempts=2, backoff=0.01) is False
        assert time.monotonic() - started < 3
    err = capsys.readouterr().err
    assert "'promoted' not delivered after 2 attempt(s): " in err
    assert "Timeout" in err or "timed out" in err
    assert_no_secret(err, url)


def test_the_url_stays_out_of_an_error_whose_text_quotes_it(capsys):
    # http.client refuses a URL with a control character with an error that quotes the URL's path.
    url = f"http://127.0.0.1:1/hook/{PATH_TOKEN} x?token={QUERY_TOKEN}"
    assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": url}, attempts=1) is False
    err = capsys.readouterr().err
    assert err.startswith("driftloop: webhook notification 'promoted' not delivered")
    assert err.count("\n") == 1
    assert_no_secret(err, url)


def test_a_url_that_is_not_http_is_not_opened(tmp_path, capsys):
    target = tmp_path / PATH_TOKEN
    assert send(PROMOTED, {"DRIFTLOOP_WEBHOOK_URL": target.as_uri()}) is False
    assert not target.exists()
    err = capsys.readouterr().err
    assert err == "driftloop: webhook notification 'promoted' not sent: DRIFTLOOP_WEBHOOK_URL is not an http(s) URL\n"


# -- which events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "sent"),
    [
        pytest.param(None, {"promoted", "rejected", "failed", "drift"}, id="unset-all"),
        pytest.param("", {"promoted", "rejected", "failed", "drift"}, id="empty-all"),
        pytest.param("failed", {"failed"}, id="failed-only"),
        pytest.param(" Promoted , DRIFT ", {"promoted", "drift"}, id="spaces-and-case"),
    ],
)
def test_events_are_filtered_by_driftloop_webhook_events(receiver, events, sent):
    env = {"DRIFTLOOP_WEBHOOK_URL": receiver.url()}
    if events is not None:
        env["DRIFTLOOP_WEBHOOK_EVENTS"] = events
    results = {
        kind: send(CycleEvent(kind, f"a {kind} cycle"), env) for kind in ("promoted", "rejected", "failed", "drift")
    }
    assert {kind for kind, ok in results.items() if ok} == sent
    received = [json.loads(r["body"])["text"] for r in receiver.requests]
    assert len(received) == len(sent)
    assert all(any(f"a {kind} cycle" in text for text in received) for kind in sent)


def test_unknown_event_names_are_reported_and_ignored(receiver, capsys):
    env = {"DRIFTLOOP_WEBHOOK_URL": receiver.url(), "DRIFTLOOP_WEBHOOK_EVENTS": "failed,promotion"}
    assert send(CycleEvent("failed", "x", step="repro"), env) is True
    err = capsys.readouterr().err
    assert "DRIFTLOOP_WEBHOOK_EVENTS names unknown event(s) promotion" in err
    assert_no_secret(err, receiver.url())
    assert enabled_kinds(env) == (frozenset({"failed"}), ["promotion"])
