"""Headless Chromium for the browser tests: where the binary is, how to launch it on a closed
network, where screenshots go, and what a page logged (console errors, requests)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: CI keeps this folder as an artifact (.ci/run); DRIFTLOOP_SCREENSHOTS moves it.
SCREENSHOTS = Path(os.environ.get("DRIFTLOOP_SCREENSHOTS") or ROOT / "artifacts" / "screenshots")

#: Set by .ci/run: a missing browser fails the browser tests instead of skipping them.
REQUIRE_ENV = "DRIFTLOOP_REQUIRE_BROWSER"

#: Chromium's own background traffic (component updates, sync, safe browsing, QUIC probes) is
#: refused on a closed network and slows every start; none of it is needed to render a page.
#: --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: Schemes a self-contained report may load from: itself, inline data, in-page blobs.
LOCAL_SCHEMES = ("file://", "data:", "blob:", "about:")


def find_chromium() -> str | None:
    """The Chromium (or Chrome) binary to drive: ``$DRIFTLOOP_CHROMIUM``, else the first of the
    distribution's names on ``PATH``; None when there is none."""
    explicit = os.environ.get("DRIFTLOOP_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(page: Any, name: str, **kwargs: Any) -> Path:
    """Save ``page`` (a Playwright page) as ``SCREENSHOTS/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    return path


@dataclass
class PageLog:
    """What a page reported while a test drove it.

    Attributes
    ----------
    errors : list of str
        Console messages of type ``error`` and uncaught page exceptions.
    requests : list of str
        Every URL the page requested (documents, scripts, images, fetches).
    """

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Any) -> PageLog:
        log = cls()
        page.on("console", lambda msg: log.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: log.errors.append(f"uncaught: {exc}"))
        page.on("request", lambda req: log.requests.append(req.url))
        return log

    def off_machine(self, allowed: tuple[str, ...] = LOCAL_SCHEMES) -> list[str]:
        """The requested URLs that do not start with one of ``allowed``."""
        return [url for url in self.requests if not url.startswith(allowed)]


@dataclass(frozen=True)
class UIProject:
    """A project after two production cycles and one `dvc exp run`, with an `mlflow server` on it.

    Attributes
    ----------
    project : Path
        The project (git + DVC), its ``mlflow.db`` and ``mlartifacts/``.
    uri : str
        The sqlite URI of its MLflow store (for the expected values).
    ui : str
        The server's base URL, ``http://127.0.0.1:<port>``.
    """

    project: Path
    uri: str
    ui: str
