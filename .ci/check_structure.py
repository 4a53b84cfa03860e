"""Rules of the code's shape that a reader relies on, checked instead of remembered.

- Layers: `models/` never imports Textual (it knows nothing of the screen); `tui/` never imports
  llama_cpp (it talks to models only through the engine contract). Every import counts, including
  the ones inside functions.
- Size: no module over 500 lines, no function over 60 (long ones get split along their seams).

Run: python .ci/check_structure.py  (exit status 1 and one line per problem when a rule is broken)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"models": ("textual",), "tui": ("llama_cpp",)}
CHECKED = ("models", "tui", "benchmarks", "tests", ".ci")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def layer_problems(path: Path, tree: ast.AST) -> list[str]:
    package = path.relative_to(ROOT).parts[0]
    problems = []
    for line, module in imported_modules(tree):
        for banned in FORBIDDEN.get(package, ()):
            if module == banned or module.startswith(banned + "."):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {package}/ must not import {module}")
    return problems


def size_problems(path: Path, source: str, tree: ast.AST) -> list[str]:
    rel = path.relative_to(ROOT)
    problems = []
    lines = source.count("\n") + 1
    if lines > MAX_MODULE_LINES:
        problems.append(f"{rel}: {lines} lines (at most {MAX_MODULE_LINES}); split it along its seams")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                problems.append(f"{rel}:{node.lineno}: {node.name}() is {length} lines (at most {MAX_FUNCTION_LINES})")
    return problems


def problems(root: Path = ROOT) -> list[str]:
    found = []
    for top in CHECKED:
        for path in sorted((root / top).rglob("*.py")):
            if any(part in (".venv", "venv", "__pycache__") for part in path.parts):
                continue
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
            found += layer_problems(path, tree)
            found += size_problems(path, source, tree)
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
