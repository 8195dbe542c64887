"""Architecture rules, read from the source with ``ast`` (imports inside functions included).

* ``model/`` knows no Telegram or SQL; ``bot/`` knows no TensorFlow or Keras.
* ``bot/`` reaches ``model/`` through ``model.api`` only.
* No import cycles among the modules of ``bot/`` and ``model/``.
* ``model.predictor`` (the dispatch) sits at the top: only ``model.api`` and the command lines
  import it.
* ``import model.api`` stays free of TensorFlow, Keras and NumPy.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "model")
# the API and the command-line entry points, which nothing in model/ imports
PREDICTOR_IMPORTERS = {"model.api", "model.__main__", "model.promotion_gate",
                       "model.backtranslate"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


MODULES = source_modules()


def imported_names(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports anywhere in its file. ``from x import y`` imports ``x.y``
    when that is a module of ours, else ``x`` (a package's ``__init__``, which Python runs
    before any of its modules, is not counted as imported by them)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            submodules = {f"{module}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= submodules
            if len(submodules) < len(node.names):  # names defined in the module itself
                found.add(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """First-party module -> the first-party modules it imports."""
    return {name: {n for n in imported_names(name, path) if n in MODULES and n != name}
            for name, path in MODULES.items()}


def first_party_imports(name: str, path: Path) -> set[str]:
    return {n for n in imported_names(name, path) if n.split(".")[0] in PACKAGES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_model_never_imports_telegram_or_sqlalchemy() -> None:
    for name, path in MODULES.items():
        if name.startswith("model"):
            names = imported_names(name, path)
            bad = {n for n in names if n.split(".")[0] in {"telegram", "sqlalchemy", "alembic"}}
            assert not bad, f"{name} imports {bad}"


def test_bot_imports_only_model_api_from_model() -> None:
    for name, path in MODULES.items():
        if name.startswith("bot"):
            names = imported_names(name, path)
            bad = {n for n in names if n.split(".")[0] in {"tensorflow", "keras"}}
            bad |= {n for n in first_party_imports(name, path)
                    if n.split(".")[0] == "model" and n != "model.api"}
            assert not bad, f"{name} imports {bad}"


def test_every_first_party_import_exists() -> None:
    """A stale module name fails here (mypy ignores missing imports in this project)."""
    for name, path in MODULES.items():
        for imported in first_party_imports(name, path):
            assert imported in MODULES, f"{name} imports {imported}"


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_predictor_dispatch_is_imported_only_from_the_top() -> None:
    importers = {name for name, targets in import_graph().items() if "model.predictor" in targets}
    assert importers <= PREDICTOR_IMPORTERS, importers - PREDICTOR_IMPORTERS


def test_importing_the_model_api_loads_no_tensorflow() -> None:
    code = ("import sys, model.api; heavy = {'tensorflow', 'keras', 'numpy'} & set(sys.modules); "
            "print(sorted(heavy))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout
