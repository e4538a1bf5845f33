"""The library's shape: imports run one way, stages take their settings by keyword.

Each property is read from the source (imports, signatures) or from a fresh interpreter, so a
change that breaks one fails here with the module or function named.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
LIBRARY = SCRIPTS / "galaxy_cnn"
MAX_POSITIONAL = 6


def module_name(path: Path) -> str:
    parts = path.relative_to(SCRIPTS).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(LIBRARY.rglob("*.py"))}


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """Library modules that `path` imports at any level (module or function scope)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + [node.module] if node.module else base)
            target = target if node.level else node.module
            found |= {target} | {f"{target}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return (found & known) - {name}


def import_graph() -> dict[str, set[str]]:
    modules = library_modules()
    return {n: imported_modules(p, n, set(modules)) for n, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None. A package's own __init__ re-exporting its
    submodules is not a cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if dep.startswith(node + ".") or node.startswith(dep + "."):
                continue
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep, path + [dep])):
                return cycle
        state[node] = 2
        return None

    for start in graph:
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_has_no_import_cycle():
    graph = import_graph()
    assert "galaxy_cnn.predict" in graph and graph["galaxy_cnn.predict"], "graph not read"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def modules_loaded_by(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=SCRIPTS, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("galaxy_cnn.predict", "fastai"),
        ("galaxy_cnn.ensemble", "fastai"),
        ("galaxy_cnn.apply", "fastai"),
        ("galaxy_cnn.fast", "fastai"),
        ("galaxy_cnn.images", "galaxy_cnn.synthetic"),
        ("galaxy_cnn.cutouts", "galaxy_cnn.synthetic"),
        ("galaxy_cnn.apply", "galaxy_cnn.synthetic"),
    ],
)
def test_stages_do_not_import_what_they_do_not_use(module, forbidden):
    loaded = modules_loaded_by(module)
    assert module in loaded
    assert forbidden not in loaded, f"importing {module} loads {forbidden}"


def positional_parameters(fn: ast.FunctionDef) -> list[str]:
    names = [a.arg for a in fn.args.posonlyargs + fn.args.args]
    return names[1:] if names[:1] in (["self"], ["cls"]) else names


def test_no_library_function_takes_more_than_six_positional_arguments():
    long = [
        f"{module_name(path)}.{node.name} ({len(positional_parameters(node))})"
        for path in library_modules().values()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and len(positional_parameters(node)) > MAX_POSITIONAL
    ]
    assert not long, f"past the first few, arguments are keyword-only: {long}"
