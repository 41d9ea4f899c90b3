"""The hook long work reports its progress through, silent unless an edge installs a bar.

The statistics (the drift pass over columns, the bootstrap, training) call :func:`task` and
never import a progress library: by default ``advance`` does nothing and costs nothing. A
command-line edge that knows it runs on a terminal (:func:`driftloop.console.progress_on_terminal`)
installs a bar factory with :func:`reporting`; then each task shows a bar while it runs. Standard
library only, so importing it adds nothing to a stage's start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

#: Moves a task forward by ``n`` units.
Advance = Callable[[int], None]
#: ``(total, what, unit) -> context manager yielding an Advance``: one bar while the task runs.
BarFactory = Callable[[int | None, str, str], AbstractContextManager[Advance]]

# Process-wide rather than a ContextVar: the bootstrap and the column tests may run in pool threads,
# which do not inherit context variables, and a process runs one stage.
_factory: BarFactory | None = None


def _nothing(n: int = 1) -> None:
    """The advance of a task nobody watches."""


@contextmanager
def reporting(factory: BarFactory | None) -> Iterator[None]:
    """Show every :func:`task` started inside the block through ``factory`` (None: silent)."""
    global _factory
    before, _factory = _factory, factory
    try:
        yield
    finally:
        _factory = before


@contextmanager
def task(total: int | None, what: str, unit: str = "it") -> Iterator[Advance]:
    """One piece of long work: yields ``advance(n)``, a no-op unless a bar factory is installed.

    Parameters
    ----------
    total : int or None
        Units of work in all (None: unknown).
    what : str
        What is being done, as the bar's label (e.g. ``"drift"``).
    unit : str
        The unit counted (``"column"``, ``"resample"``, ``"step"``).

    Examples
    --------
    >>> with task(3, "drift", "column") as advance:
    ...     for _ in range(3):
    ...         advance(1)
    """
    factory = _factory
    if factory is None:
        yield _nothing
        return
    with factory(total, what, unit) as advance:
        yield advance
