"""Size and shape of the `aelib` core: the measures the "lean core" issue reports.

    python benchmarks/code_measures.py [SRC_DIR]

Prints, for the core (``src/aelib/*.py``, not ``aelib/chapters``): executable lines (lines
spanned by statements, docstrings excluded), the largest module, the longest function body, and
the guard share — the fraction of executable lines that only validate input: ``raise``
statements, ``if`` blocks whose body only raises, simple statements that call one of the
validators of ``aelib._checks`` (however the call is wrapped: an assignment, a ``return``, an
argument of another call), and ``_checks.py`` itself. It also checks that no core module imports a
chapter helper.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "aelib"


def _validators(src: Path) -> set[str]:
    tree = ast.parse((src / "_checks.py").read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def _docstring_lines(tree) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _span(node) -> set[int]:
    return set(range(node.lineno, node.end_lineno + 1))


def _is_guard(node, validators) -> bool:
    if isinstance(node, ast.Raise):
        return True
    if isinstance(node, ast.If) and not node.orelse and all(isinstance(b, ast.Raise) for b in node.body):
        return True
    if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try, ast.FunctionDef, ast.ClassDef,
                         ast.AsyncFunctionDef)):
        return False
    # A simple statement that calls a validator anywhere (``x = f(validator(...))``, ``return
    # validator(...)``, ``a, b = validator(...), validator(...)``) is a check, not only
    # ``x = validator(...)``: otherwise a check counts or not depending on how the line is written.
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            func = call.func
            if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")) in validators:
                return True
    return False


def measure_module(path: Path, validators: set[str]) -> dict:
    tree = ast.parse(path.read_text())
    docs = _docstring_lines(tree)
    executable, guards, longest = set(), set(), (0, "")
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not isinstance(node, (ast.FunctionDef, ast.ClassDef,
                                                                  ast.AsyncFunctionDef)):
            lines = _span(node) - docs
            if isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                lines = set(range(node.lineno, node.body[0].lineno)) - docs  # the header only
            executable |= lines
            if _is_guard(node, validators):
                guards |= _span(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body_lines = len(set().union(*(_span(b) for b in node.body)) - docs)
            if body_lines > longest[0]:
                longest = (body_lines, node.name)
    if path.name == "_checks.py":
        guards = set(executable)
    return {"lines": len(executable), "guards": len(guards & executable), "longest": longest,
            "imports_chapters": "chapters" in path.read_text() and any(
                isinstance(n, ast.ImportFrom) and n.module and "chapters" in n.module for n in ast.walk(tree))}


def main(src: Path = SRC) -> dict:
    validators = _validators(src)
    modules = {p.name: measure_module(p, validators) for p in sorted(src.glob("*.py"))}
    total = sum(m["lines"] for m in modules.values())
    guards = sum(m["guards"] for m in modules.values())
    largest = max(modules.items(), key=lambda kv: kv[1]["lines"])
    longest = max(((m["longest"][0], f"{name}:{m['longest'][1]}") for name, m in modules.items()))
    offenders = [name for name, m in modules.items() if m["imports_chapters"]]
    print(f"core modules: {len(modules)}   executable lines: {total}")
    print(f"largest module: {largest[0]} ({largest[1]['lines']} lines)")
    print(f"longest function body: {longest[1]} ({longest[0]} lines)")
    print(f"guard share: {guards}/{total} = {100 * guards / total:.1f} %")
    print(f"core modules importing aelib.chapters: {offenders or 'none'}")
    for name, m in modules.items():
        print(f"  {name:<16} {m['lines']:>5} lines  {m['guards']:>4} guard  longest {m['longest'][1]} "
              f"({m['longest'][0]})")
    return {"lines": total, "guard_share": guards / total, "offenders": offenders}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC)
