"""Every ``>>>`` example runs (pytest --doctest-modules on src/driftloop), except those that need
MLflow, DVC or files: each of those says why, in a "Not run as a doctest: ..." line just above it."""

from __future__ import annotations

from pathlib import Path

import driftloop

SRC = Path(driftloop.__file__).parent
REASON = "Not run as a doctest:"


def skipped_examples_without_a_reason() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if "doctest: +SKIP" not in line or not line.strip().startswith((">>>", "...")):
                continue
            i = n - 1  # back over the example's own lines and blank lines, to the prose before it
            while i >= 0 and (not lines[i].strip() or lines[i].strip().startswith((">>>", "..."))):
                i -= 1
            if i < 0 or REASON not in lines[i]:
                found.append(f"{path.relative_to(SRC)}:{n + 1}: {line.strip()}")
    return found


def test_every_skipped_doctest_says_why():
    missing = skipped_examples_without_a_reason()
    assert not missing, f"a skipped example needs a '{REASON} <why>' line above it:\n" + "\n".join(missing)


def test_few_examples_are_skipped():
    skipped = sum(
        line.count("doctest: +SKIP") for path in SRC.rglob("*.py") for line in path.read_text("utf-8").splitlines()
    )
    assert skipped <= 8, f"{skipped} skipped doctest lines: run new examples on small inline data instead"
