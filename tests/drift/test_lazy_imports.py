"""Every lazy scipy/sklearn import in the drift package goes through the thread-safe loader.

Two threads first-importing sklearn at once saw a half-initialised package in CI
(``cannot import name 'clone' from partially initialized module 'sklearn.base'``); the loader
serialises first-time imports. A raw function-level ``import scipy…``/``from sklearn…`` would
reopen that race, so this test fails on one.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from driftloop.drift import _imports

PACKAGE = Path(_imports.__file__).parent
RAW_LAZY = re.compile(r"^\s+(from|import)\s+(scipy|sklearn)\b", re.MULTILINE)


def test_no_raw_lazy_imports_of_scipy_or_sklearn():
    offenders = [
        f"{p.name}: {m.group(0).strip()}"
        for p in sorted(PACKAGE.glob("*.py"))
        for m in RAW_LAZY.finditer(p.read_text())
    ]
    assert offenders == []


def test_loader_returns_the_module_from_many_threads():
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(_imports.load("json"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import json

    assert results == [json] * 8
