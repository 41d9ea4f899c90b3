"""What driftloop shows on a terminal and never in logs: coloured errors and progress bars.

Colour follows the common conventions: ``NO_COLOR`` (any non-empty value, https://no-color.org)
turns it off, ``FORCE_COLOR`` (non-empty, not ``0``) turns it on where the stream is not a terminal,
otherwise it is on only when the stream is a terminal (and ``TERM`` is not ``dumb``). Progress bars
(:func:`progress_on_terminal`) show only when stderr is a terminal and neither ``CI`` nor
``DRIFTLOOP_PROGRESS=0`` asks for quiet. Standard library only at import: the bar library (tqdm)
is imported when the first bar is drawn, so a stage run in CI or under a log pays nothing for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from driftloop.progress import Advance, BarFactory, reporting

_STYLES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2", "error": "1;31"}
#: Values of an on/off environment variable that mean off.
_OFF = ("", "0", "false", "no", "off")
#: How long a task runs before its bar appears: short work (most of a small cycle) shows none.
BAR_DELAY = 0.5


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def _on(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _OFF


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def color_enabled(stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour text written to ``stream`` (default stderr).

    Examples
    --------
    >>> import io
    >>> color_enabled(io.StringIO(), {}), color_enabled(io.StringIO(), {"FORCE_COLOR": "1"})
    (False, True)
    >>> color_enabled(io.StringIO(), {"FORCE_COLOR": "1", "NO_COLOR": "1"})
    False
    """
    env = _env(environ)
    if env.get("NO_COLOR"):  # no-color.org: present and not empty, whatever its value
        return False
    if _on(env.get("FORCE_COLOR")):
        return True
    if env.get("TERM") == "dumb":
        return False
    return _isatty(sys.stderr if stream is None else stream)


def paint(text: str, style: str, on: bool = True) -> str:
    """``text`` in ``style`` (red, green, yellow, bold, dim, error) as ANSI codes, or as is when not ``on``.

    Examples
    --------
    >>> paint("FAIL", "red", on=False), paint("FAIL", "red")
    ('FAIL', '\\x1b[31mFAIL\\x1b[0m')
    """
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if on else text


def error_line(message: str, prog: str = "driftloop", color: bool = False) -> str:
    """``PROG: error: MESSAGE``, the ``error:`` in bold red when ``color``.

    Examples
    --------
    >>> error_line("params.yaml not found", "driftloop drift")
    'driftloop drift: error: params.yaml not found'
    """
    return f"{prog}: {paint('error:', 'error', color)} {message}"


def print_error(message: object, prog: str = "driftloop", stream: IO[str] | None = None) -> None:
    """Print one error line on ``stream`` (default stderr), credentials masked
    (:func:`driftloop.redact.redact`), coloured only on a terminal (:func:`color_enabled`)."""
    from driftloop.redact import redact

    out = sys.stderr if stream is None else stream
    print(error_line(redact(str(message)), redact(prog), color_enabled(out)), file=out, flush=True)


# -- progress bars -------------------------------------------------------------------------------


def progress_wanted(stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Whether long work shows progress bars on ``stream`` (default stderr): only on a terminal,
    never when ``DRIFTLOOP_PROGRESS`` is off, nor under ``CI`` unless ``DRIFTLOOP_PROGRESS`` is on.

    Examples
    --------
    >>> import io
    >>> progress_wanted(io.StringIO(), {"DRIFTLOOP_PROGRESS": "1"})  # not a terminal: never
    False
    """
    env = _env(environ)
    asked = env.get("DRIFTLOOP_PROGRESS")
    if asked is not None and not _on(asked):
        return False
    if not _isatty(sys.stderr if stream is None else stream) or env.get("TERM") == "dumb":
        return False
    return not _on(env.get("CI")) or _on(asked)


def _tqdm_bars(stream: IO[str], delay: float) -> BarFactory:
    """Bars drawn by tqdm on ``stream``: each appears after ``delay`` seconds and is erased when its
    task ends (``leave=False``), so what a stage prints afterwards reads as in a log."""

    @contextmanager
    def bar(total: int | None, what: str, unit: str) -> Iterator[Advance]:
        from tqdm import tqdm  # imported by the first bar only (not at start-up, not off a terminal)

        with tqdm(
            total=total, desc=f"driftloop {what}", unit=unit, file=stream, leave=False, delay=delay, dynamic_ncols=True
        ) as shown:

            def advance(n: int = 1) -> None:
                shown.update(n)

            yield advance

    return bar


@contextmanager
def progress_on_terminal(stream: IO[str] | None = None, delay: float = BAR_DELAY) -> Iterator[bool]:
    """Inside the block, long work (:func:`driftloop.progress.task`) shows bars on ``stream`` (default
    stderr) when :func:`progress_wanted`; yields whether it does.

    Off a terminal, MLflow's own artifact download bars are turned off too for the block (unless
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` is set): they would land in logs as hundreds of
    characters of carriage returns.
    """
    out = sys.stderr if stream is None else stream
    if progress_wanted(out):
        with reporting(_tqdm_bars(out, delay)):
            yield True
        return
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    if key in os.environ:
        yield False
        return
    os.environ[key] = "false"
    try:
        yield False
    finally:
        os.environ.pop(key, None)
