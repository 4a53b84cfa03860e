"""`duet ask` and `duet run` with hostile model files end with a clear error, never a hang; Ctrl+C
ends them within 2 seconds."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from gguf import GGUFValueType

from tests.support import hostile_gguf as hostile
from tests.support.duet_process import ROOT, ctrl_c_works, run_duet


@pytest.fixture(scope="module")
def files(tmp_path_factory, chat_path):
    folder = tmp_path_factory.mktemp("hostile-cli")
    numbers = (list(range(49152)), GGUFValueType.ARRAY, GGUFValueType.INT32)
    return {
        "loops": hostile.rewrite(chat_path, folder / "loops.gguf", {"tokenizer.chat_template": hostile.NESTED_LOOPS}),
        "numbers": hostile.rewrite(chat_path, folder / "numbers.gguf", {"tokenizer.ggml.tokens": numbers}),
    }


@pytest.mark.parametrize(
    "name, message", [("loops", "ran past the 1 s"), ("numbers", "is not a list of strings")], ids=["template", "vocab"]
)
def test_ask_with_a_hostile_chat_model_is_one_line_and_the_base_answers(files, tmp_path, name, message):
    started = time.monotonic()
    result = run_duet("ask", "Hello", "--chat", str(files[name]), "--max-tokens", "8", "--json", timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    base, chat = json.loads(result.stdout)["panes"]
    assert base["error"] is None and base["text"].strip()
    assert message in chat["error"] and files[name].name in chat["error"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("duet: chat pane: ") and "Traceback" not in result.stderr


def test_run_with_a_hostile_template_fails_its_chat_runs_and_finishes(files, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Hello\nWhat is 2+2?\n")
    report = tmp_path / "report.md"
    args = ("run", str(prompts), "--chat", str(files["loops"]), "--max-tokens", "4", "--report", str(report))
    result = run_duet(*args, "--no-save", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "2 of 2 runs, 2 failed" in result.stdout
    assert "ran past the 1 s" in report.read_text() and "Traceback" not in result.stderr


def test_ctrl_c_ends_ask_within_2_s(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUET_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "tui.cli", "ask", "Write a long story about a dragon.", "--max-tokens", "2000"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_works,
    )
    try:
        time.sleep(6)  # loaded and generating
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        out, err = proc.communicate(timeout=10)
        assert time.monotonic() - interrupted < 2.0
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    finally:
        proc.kill()
