"""Aligned mode and the lesson layout from the command line: --lesson, --base-mode aligned, the
lesson prompts in `duet run`, and a user's aligned.toml (valid, or broken: one line, built-in used)."""

import hashlib
import json
from importlib.resources import files

from tests.support.duet_process import run_duet

BUILTIN_SHA = hashlib.sha256(files("models.aligned").joinpath("aligned.toml").read_bytes()).hexdigest()
USER_FILE = """header = "Short answers follow."

[[example]]
question = "Two plus two?"
answer = "Four."
"""


def ask_json(tmp_path, *args: str) -> tuple[dict, str]:
    env = {"DUET_DATA_DIR": str(tmp_path / "data"), "DUET_CONFIG_DIR": str(tmp_path / "config")}
    result = run_duet("ask", "What is the capital of France?", "--json", "--max-tokens", "6", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def test_ask_with_the_lesson_layout_answers_in_three_panes(tmp_path):
    data, stderr = ask_json(tmp_path, "--lesson")
    panes = data["panes"]
    assert [(p["role"], p["mode"]) for p in panes] == [("base", "raw"), ("aligned", "aligned"), ("chat", "chat")]
    assert panes[0]["model"] == panes[1]["model"] and all(p["error"] is None for p in panes)
    assert panes[1]["prompt"].endswith("Question: What is the capital of France?\nAnswer:")
    assert panes[1]["prompt_file"] == {"path": "built-in", "sha256": BUILTIN_SHA}
    assert "prompt_file" not in panes[0] and stderr == ""


def test_a_user_prompt_file_is_used_and_a_broken_one_is_one_line(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "aligned.toml").write_text(USER_FILE)
    data, stderr = ask_json(tmp_path, "--base-mode", "aligned")
    base = data["panes"][0]
    assert base["prompt"] == "Short answers follow.\n\nQuestion: Two plus two?\nAnswer: Four.\n<end>\n\n" + (
        "Question: What is the capital of France?\nAnswer:"
    )
    assert base["prompt_file"] == {
        "path": str(config / "aligned.toml"),
        "sha256": hashlib.sha256(USER_FILE.encode()).hexdigest(),
    }
    (config / "aligned.toml").write_text(USER_FILE.replace('answer = "Four."', 'answer = ""'))
    data, stderr = ask_json(tmp_path, "--base-mode", "aligned")
    assert stderr.splitlines() == [
        f"duet: aligned prompt file {config / 'aligned.toml'}, line 5, field 'example.0.answer': "
        "String should have at least 1 character (aligned mode uses the built-in prompt)"
    ]
    assert data["panes"][0]["prompt_file"]["path"] == "built-in" and data["panes"][0]["error"] is None


def test_run_the_lesson_prompts_in_three_panes(tmp_path):
    report = tmp_path / "lesson.md"
    result = run_duet(
        "run", "lesson", "--lesson", "--max-tokens", "4", "--report", str(report), "--no-save",
        env={"DUET_CONFIG_DIR": str(tmp_path / "config")},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "5 of 5 runs, 0 failed" in result.stdout
    text = report.read_text()
    assert "- aligned pane: gemma-3-270m" in text.replace("\\-", "-") and "(aligned mode by default)" in text
    assert text.count(f"aligned mode (prompt built-in, sha256 {BUILTIN_SHA[:12]})") == 5
