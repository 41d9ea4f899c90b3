"""Lazy imports that are safe across the drift package's threads.

The drift pass runs column work on threads, and the rare paths that need scipy or sklearn (exact
small-n KS, Fisher's test, the text tokenizer, model outputs) import them lazily, possibly from two
threads at once. Two threads initialising one package at the same time can see it half-initialised
(``ImportError: cannot import name 'clone' from partially initialized module 'sklearn.base'`` was
seen in CI), because importlib breaks the apparent lock cycle by handing out the unfinished module.
Every lazy import in the package goes through :func:`load`, which serialises first-time imports
behind one lock and skips the lock for modules already fully imported.
"""

from __future__ import annotations

import importlib
import sys
import threading
from types import ModuleType

_LOCK = threading.RLock()


def _ready(name: str) -> ModuleType | None:
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if module is None or getattr(spec, "_initializing", False):
        return None
    return module


def load(name: str) -> ModuleType:
    """``importlib.import_module(name)``, serialised with every other first-time import here."""
    module = _ready(name)
    if module is not None:
        return module
    with _LOCK:
        return importlib.import_module(name)
