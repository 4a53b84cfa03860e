"""Rules of the code's shape that a reader relies on, checked instead of remembered.

- Layers: `models/` never imports Textual (it knows nothing of the screen); `tui/` never imports
  llama_cpp (it talks to models only through the engine contract). Every import counts, including
  the ones inside functions.
- Size: no module over 500 lines, no function over 60 (long ones get split along their seams).
- No import circles inside `models/` or `tui/`: every module depends one way. Every import counts,
  the ones inside functions and under `if TYPE_CHECKING:` too (hiding one there is how a circle
  survives, and a reader still meets it). A circle is cut by moving the shared types down.
- Layout of `tui/`: its top level holds only app.py (DuetApp) and config.py (config.toml); every
  other module lives in the folder that says what it holds (actions/, export/, keys/, text/,
  screens/, widgets/, cli/), and DuetApp's mixins (the classes named ...Actions) live in actions/.

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
TUI_TOP_LEVEL = ("__init__.py", "app.py", "config.py")
MIXIN_SUFFIX, MIXIN_FOLDER = "Actions", ("tui", "actions")


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


def tui_layout_problems(root: Path, path: Path, tree: ast.AST) -> list[str]:
    rel = path.relative_to(root)
    if rel.parts[0] != "tui":
        return []
    problems = []
    if len(rel.parts) == 2 and rel.name not in TUI_TOP_LEVEL:
        problems.append(
            f"{rel}: tui/'s top level holds only {', '.join(TUI_TOP_LEVEL[1:])}; "
            "move it into the folder that says what it holds (actions/, export/, keys/, text/, screens/, widgets/)"
        )
    if rel.parts[:2] != MIXIN_FOLDER:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name.endswith(MIXIN_SUFFIX):
                problems.append(f"{rel}:{node.lineno}: {node.name} is a DuetApp mixin; it lives in tui/actions/")
    return problems


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _first_party_imports(tree: ast.AST) -> list[str]:
    """Every module named by an import, and every name imported from one (it may be a submodule)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def cycle_problems(root: Path, trees: dict[str, ast.AST]) -> list[str]:
    """Import circles among the modules of each of models/ and tui/ (Tarjan's strongly connected components)."""
    graph = {
        name: sorted(
            {
                m
                for m in _first_party_imports(tree)
                if m in trees and m != name and m.split(".")[0] == name.split(".")[0]
            }
        )
        for name, tree in trees.items()
        if name.split(".")[0] in FORBIDDEN
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [
        f"import circle: {' <-> '.join(circle)}; move what they share into a module both import" for circle in circles
    ]


def problems(root: Path = ROOT) -> list[str]:
    found = []
    trees: dict[str, ast.AST] = {}
    for top in CHECKED:
        for path in sorted((root / top).rglob("*.py")):
            if any(part in (".venv", "venv", "__pycache__") for part in path.parts):
                continue
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
            trees[_module_name(root, path)] = tree
            found += layer_problems(path, tree)
            found += size_problems(path, source, tree)
            found += tui_layout_problems(root, path, tree)
    return found + cycle_problems(root, trees)


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
