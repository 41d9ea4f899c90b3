"""dvc.yaml's deps are honest: every stage depends on all the code its process can import.

For each stage the entry point's import closure is computed statically: the script named in
``cmd`` (``python pipelines/<stage>.py``), the ``driftloop.stages.<stage>`` module it runs, and
transitively every ``driftloop`` module any of them imports — at module level or inside a
function (lazy imports are still imports of the stage), with relative imports resolved and
``from package import name`` counted as importing the submodule ``package.name`` when it exists.
Importing a module runs its packages' ``__init__`` too, so those are in the closure. Imports under
``if TYPE_CHECKING:`` are not: they never run. Each file of the closure, and the entry point, must
lie under one of the stage's ``deps`` (a directory dep covers everything below it).

So a change in any file a stage can run reruns that stage under ``dvc repro``, and a new import
that crosses into a package the stage does not declare fails here, naming the stage, the file and
the import chain that reached it.
"""

from __future__ import annotations

import ast
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "driftloop"


# --- static import analysis over src/driftloop (shared with test_package_imports.py) ---------------


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``a/b.py`` or ``a/b/__init__.py``), or None if it is not ours."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def is_package(name: str) -> bool:
    return SRC.joinpath(*name.split(".")).is_dir()


def module_name(path: Path) -> str:
    rel = path.resolve().relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages' ``__init__``."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imports_of_file(path: Path, package: str | None) -> set[str]:
    """The ``driftloop`` modules that the file at ``path`` imports (``package``: its package, for
    relative imports; None for a script outside the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                assert package is not None, f"{path}: relative import outside a package"
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = [base]
            # `from pkg import name`: name may be a submodule (imported) or an attribute of pkg
            targets += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        for target in targets:
            for name in _with_parents(target):
                if module_file(name) is not None:
                    found.add(name)
    return found


@cache
def imports_of(name: str) -> frozenset[str]:
    """The ``driftloop`` modules that module ``name`` imports directly (parents included)."""
    path = module_file(name)
    assert path is not None, name
    package = name if is_package(name) else name.rpartition(".")[0]
    return frozenset(imports_of_file(path, package) - {name})


def closure(roots: set[str]) -> dict[str, str | None]:
    """Every module reachable from ``roots``, each mapped to the module that first imported it."""
    via: dict[str, str | None] = {}
    todo: list[tuple[str, str | None]] = []
    for root in sorted(roots):
        todo += [(n, None) for n in _with_parents(root)]
    while todo:
        name, parent = todo.pop()
        if name in via:
            continue
        via[name] = parent
        todo += [(dep, name) for dep in sorted(imports_of(name)) if dep not in via]
    return via


def chain(via: dict[str, str | None], name: str) -> str:
    path = [name]
    while (parent := via[path[-1]]) is not None:
        path.append(parent)
    return " <- ".join(path)


def all_modules() -> list[str]:
    return sorted(module_name(p) for p in (SRC / PACKAGE).rglob("*.py") if "__pycache__" not in p.parts)


# --- dvc.yaml ------------------------------------------------------------------------------------


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def entry_point(stage: dict) -> Path:
    scripts = [t for t in shlex.split(stage["cmd"]) if t.endswith(".py")]
    assert len(scripts) == 1, f"expected one python script in cmd {stage['cmd']!r}"
    return ROOT / scripts[0]


def stage_roots(name: str, script: Path) -> set[str]:
    """What the entry point imports, plus the stage module it runs by name (``run_stage("drift")``
    imports ``driftloop.stages.drift`` through importlib, which no import statement shows)."""
    roots = imports_of_file(script, None)
    tree = ast.parse(script.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "run_stage"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(f"{PACKAGE}.stages.{node.args[0].value}")
    if module_file(f"{PACKAGE}.stages.{name}") is not None:
        roots.add(f"{PACKAGE}.stages.{name}")
    return {r for r in roots if module_file(r) is not None}


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.resolve().relative_to(ROOT)
    for dep in deps:
        if "${" in dep:  # data paths from params.yaml, never code
            continue
        dep_path = Path(dep.rstrip("/"))
        if rel == dep_path or dep_path in rel.parents:
            return True
    return False


STAGES = _stages()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_its_import_closure(stage):
    spec = STAGES[stage]
    deps = [str(d) for d in spec.get("deps", [])]
    script = entry_point(spec)
    assert script.is_file(), f"{stage}: entry point {script} does not exist"
    via = closure(stage_roots(stage, script))
    assert any(m.startswith(f"{PACKAGE}.") for m in via), f"{stage}: found no driftloop import in {script}"
    missing = [] if covered(script, deps) else [f"{script.relative_to(ROOT)} (the entry point)"]
    for name in sorted(via):
        path = module_file(name)
        assert path is not None
        if not covered(path, deps):
            missing.append(f"{path.relative_to(ROOT)}  (imported via {chain(via, name)})")
    assert not missing, (
        f"dvc.yaml stage {stage!r} runs code its deps do not list, so a change there would not rerun it; "
        "add these (or their directory) to its deps:\n  " + "\n  ".join(missing)
    )


def test_closure_follows_lazy_relative_and_submodule_imports(tmp_path):
    """The analyser itself: an import inside a function, a relative import and
    ``from package import submodule`` are all followed; TYPE_CHECKING imports are not."""
    script = tmp_path / "entry.py"
    script.write_text(
        "from typing import TYPE_CHECKING\n"
        "from driftloop.drift import registry\n"
        "if TYPE_CHECKING:\n"
        "    from driftloop.promote import gates\n"
        "def main():\n"
        "    from driftloop import errors\n",
        encoding="utf-8",
    )
    roots = imports_of_file(script, None)
    assert {"driftloop", "driftloop.drift", "driftloop.drift.registry", "driftloop.errors"} <= roots
    assert "driftloop.promote.gates" not in roots
    via = closure(roots)
    assert "driftloop.drift.numeric" in via  # registry -> `from driftloop.drift import numeric`
    assert chain(via, "driftloop.drift.numeric").startswith("driftloop.drift.numeric <- ")
