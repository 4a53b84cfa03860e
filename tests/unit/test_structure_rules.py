"""The structure check's rules (.ci/check_structure.py): it finds an import circle, also one hidden
in a function or under TYPE_CHECKING; it keeps tui/'s top level to app.py and config.py and
DuetApp's mixins in tui/actions/; and the project itself breaks none of them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _checker():
    spec = importlib.util.spec_from_file_location("check_structure", ROOT / ".ci" / "check_structure.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _circles(tmp_path: Path, files: dict[str, str]) -> list[str]:
    check = _checker()
    check.ROOT = _tree(tmp_path, {"models/__init__.py": "", "tui/__init__.py": "", **files})
    check.CHECKED = ("models", "tui")
    return [line for line in check.problems(check.ROOT) if "import circle" in line]


def test_a_circle_through_a_function_level_import_is_found(tmp_path):
    found = _circles(
        tmp_path,
        {
            "models/a.py": "from models.b import thing\n",
            "models/b.py": "def thing():\n    from models.a import other\n    return other\n",
        },
    )
    assert found == ["import circle: models.a <-> models.b; move what they share into a module both import"]


def test_a_circle_under_type_checking_and_through_a_package_is_found(tmp_path):
    found = _circles(
        tmp_path,
        {
            "models/files/__init__.py": "",
            "models/files/reader.py": "from models.files import checks\n",
            "models/files/checks.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from models.files.reader import Header\n",
        },
    )
    assert len(found) == 1 and "models.files.checks <-> models.files.reader" in found[0]


def test_one_way_dependencies_pass(tmp_path):
    files = {
        "models/types.py": "X = 1\n",
        "models/a.py": "from models.types import X\n",
        "models/b.py": "from models.types import X\nfrom models.a import X as Y\n",
        "tui/app.py": "from models.a import X\n",
    }
    assert _circles(tmp_path, files) == []


def test_the_project_has_no_import_circle():
    check = _checker()
    assert [line for line in check.problems() if "import circle" in line] == []


def _layout(tmp_path: Path, files: dict[str, str]) -> list[str]:
    check = _checker()
    check.ROOT = _tree(tmp_path, {"models/__init__.py": "", "tui/__init__.py": "", **files})
    check.CHECKED = ("models", "tui")
    return [line for line in check.problems(check.ROOT) if _is_layout(line)]


def _is_layout(line: str) -> bool:
    return "tui/'s top level holds only" in line or "is a DuetApp mixin" in line


def test_a_loose_module_at_tuis_top_level_is_found(tmp_path):
    found = _layout(tmp_path, {"tui/app.py": "", "tui/config.py": "", "tui/helpers.py": "", "tui/text/__init__.py": ""})
    assert len(found) == 1 and found[0].startswith("tui/helpers.py: tui/'s top level holds only app.py, config.py")


def test_a_mixin_outside_tui_actions_is_found(tmp_path):
    mixin = "class LensActions:\n    pass\n"
    found = _layout(
        tmp_path, {"tui/widgets/__init__.py": "", "tui/widgets/lens.py": mixin, "tui/actions/lens.py": mixin}
    )
    assert found == ["tui/widgets/lens.py:1: LensActions is a DuetApp mixin; it lives in tui/actions/"]


def test_the_project_keeps_its_layout():
    check = _checker()
    assert [line for line in check.problems() if _is_layout(line)] == []
