"""What a start-up must not pay for: imports and processes that only some panes need (issue 28,
figure 6). Each runs in a fresh interpreter, where sys.modules shows what was really imported."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.duet_process import ROOT


def _fresh(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True, timeout=60
    ).stdout.strip()


def test_an_embedded_panes_intro_does_not_import_the_fine_tuning_package():
    out = _fresh(
        "import sys\n"
        "from models.files.describe import describe_pane, tuned_lineage\n"
        "intro = describe_pane('embedded:gemma-3-270m', None)\n"
        "assert tuned_lineage('embedded:smollm2-135m-instruct') is None\n"
        "print(intro.title, 'models.tuning' in sys.modules)"
    )
    assert out.endswith(" False"), out


def test_the_app_launcher_does_not_import_the_aligned_prompt_file_models():
    # aligned mode's pydantic models are read when aligned mode first renders, not before the loads
    out = _fresh("import sys\nimport tui.cli.launch\nprint('models.aligned.prompt_file' in sys.modules)")
    assert out == "False"


def test_the_abort_switch_finds_strlen_without_running_ldconfig(monkeypatch):
    import ctypes.util

    from models.engines.llama import abort

    def no_subprocess(name):  # find_library runs `ldconfig -p`: a process per model load
        raise AssertionError(f"find_library({name!r}) was called")

    abort._strlen.cache_clear()
    monkeypatch.setattr(ctypes.util, "find_library", no_subprocess)
    strlen = abort._strlen()
    assert strlen is not None and strlen(b"duet") == 4
    assert abort._strlen() is strlen  # once per process, not once per load
