"""The package's structure rules that import-linter does not check: no bprop module
imported inside a function (a cycle dodged), and modules of a readable size."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "bprop"
MODULES = sorted(SRC.rglob("*.py"))

#: lazy imports of modules that import an optional third-party package (numba)
LAZY_OPTIONAL = {("training/fast/__init__.py", "bprop.training.fast")}

#: modules over the size limit, each with the reason it is left whole
LARGE = {
    "training/fast/_kernels.py": "one numba composition; split, its kernels recompile",
}
MAX_LINES = 440


def _function_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    if sub.level or (sub.module or "").startswith("bprop"):
                        yield sub.lineno, "." * sub.level + (sub.module or "")
                elif isinstance(sub, ast.Import):
                    for alias in sub.names:
                        if alias.name.startswith("bprop"):
                            yield sub.lineno, alias.name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_bprop_import_inside_a_function(path):
    rel = str(path.relative_to(SRC))
    found = [
        (line, module)
        for line, module in _function_imports(ast.parse(path.read_text()))
        if (rel, module) not in LAZY_OPTIONAL
    ]
    assert not found, f"{rel}: bprop imports inside functions at {found}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small(path):
    rel = str(path.relative_to(SRC))
    lines = len(path.read_text().splitlines())
    if rel in LARGE:
        return
    assert lines <= MAX_LINES, f"{rel} has {lines} lines (at most {MAX_LINES}): split it"


def test_the_exceptions_are_still_needed():
    for rel in LARGE:
        assert len((SRC / rel).read_text().splitlines()) > MAX_LINES, f"{rel} is small now"
