"""The CLI's side of issue 23, through the real `duet` in a subprocess: `duet run`'s report says
the family caveat and what differed, a lesson preset gets the aligned pane (the other prompts do
not), `duet ask` puts the answers side by side from 80 columns, `duet info` names models readably."""

import json

from models.files.embedded import embedded_path
from tests.support.duet_process import run_duet

MARS = """
[[preset]]
name = "mars"
text = "What do you think of Mars?"
"""
PRESETS = (
    MARS
    + """
[[preset]]
name = "dog-lesson"
text = "Tell me how to train my dog to sit"
lesson = true
"""
)


def test_the_run_report_has_the_caveat_what_differed_and_the_lesson_pane(tmp_path):
    presets = tmp_path / "presets.toml"
    presets.write_text(PRESETS)
    report, jsonl = tmp_path / "report.md", tmp_path / "runs.jsonl"
    result = run_duet(
        "run", str(presets), "--max-tokens", "8", "--report", str(report), "--jsonl", str(jsonl),
        env={"DUET_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    assert "> **Caveat:** These are two different model families (gemma3 and llama)" in text
    differed = text.split("## What differed", 1)[1].split("## Summary", 1)[0]
    assert "- base: ended" in differed and "- chat: ended" in differed and "- aligned: ended" in differed
    assert "identical answers from every pane:" in differed and "mean answer length in characters" in differed
    assert "answers the lesson prompts only" in text
    items = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [[p["role"] for p in item["panes"]] for item in items] == [["base", "chat"], ["base", "aligned", "chat"]]
    aligned = items[1]["panes"][1]
    assert aligned["mode"] == "aligned" and aligned["prompt"].endswith(
        "Question: Tell me how to train my dog to sit\nAnswer:"
    )
    lesson_section = text.split("## 2. dog-lesson", 1)[1]
    assert "#### **aligned** · gemma-3-270m · aligned mode" in lesson_section


def test_html_report_has_them_too(tmp_path):
    presets = tmp_path / "presets.toml"
    presets.write_text(MARS)
    report = tmp_path / "report.html"
    result = run_duet("run", str(presets), "--max-tokens", "4", "--report", str(report), "--no-save")
    assert result.returncode == 0, result.stderr
    html = report.read_text()
    assert "<strong>Caveat:</strong> These are two different model families" in html
    assert "<h2>What differed</h2>" in html and "<li>base: ended" in html
    assert "aligned" not in html  # no lesson preset: no aligned pane


def box_rows(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.strip()]


def test_ask_puts_the_answers_side_by_side_from_80_columns_and_stacks_them_below(tmp_path):
    env = {"DUET_DATA_DIR": str(tmp_path)}
    wide = run_duet("ask", "--max-tokens", "6", "--no-save", "Hello", env={**env, "COLUMNS": "80"})
    assert wide.returncode == 0, wide.stderr
    first = box_rows(wide.stdout)[0]
    assert "base · gemma-3-270m" in first and "chat · smollm2-135m-instruct" in first  # one row of two boxes
    narrow = run_duet("ask", "--max-tokens", "6", "--no-save", "Hello", env={**env, "COLUMNS": "70"})
    rows = box_rows(narrow.stdout)
    assert narrow.returncode == 0 and "base ·" in rows[0] and "chat ·" not in rows[0]
    assert any("chat · smollm2-135m-instruct" in row for row in rows[1:])


def test_ask_prints_the_answer_as_the_model_wrote_it(tmp_path):
    args = ("ask", "--max-tokens", "24", "--no-save", "Write a title in Markdown", "--chat-mode", "chat")
    as_json = json.loads(run_duet(*args, "--json", env={"DUET_DATA_DIR": str(tmp_path)}).stdout)
    shown = run_duet(*args, env={"DUET_DATA_DIR": str(tmp_path), "COLUMNS": "200"}).stdout
    for pane in as_json["panes"]:
        for word in pane["text"].split():
            assert word in shown  # every word, Markdown marks included, printed as written


def test_info_names_the_models_as_the_headers_and_the_catalog_do(tmp_path):
    result = run_duet("info", env={"DUET_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    names = [line.split(None, 1)[1] for line in result.stdout.splitlines() if line.strip().startswith("name ")]
    assert names == [
        "gemma-3-270m · Gemma 3 270M (pretrained base, Q4_K_M)",
        "smollm2-135m-instruct · SmolLM2 135M Instruct (chat, Q4_1)",
    ]
    assert "Smollm2 135M 8k" not in result.stdout


def test_info_on_a_file_outside_the_catalog_skips_the_converters_run_tag(tmp_path):
    chat = embedded_path("smollm2-135m-instruct")  # its general.name is "Smollm2 135M 8k Lc100K Mix1 Ep2"
    result = run_duet("info", "--chat", str(chat), env={"DUET_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert f"name             {chat.name} · smollm2 · 135M · Q4_1" in result.stdout
    as_json = json.loads(run_duet("info", "--chat", str(chat), "--json", env={"DUET_DATA_DIR": str(tmp_path)}).stdout)
    assert as_json["models"][1]["info"]["name"] == "smollm2"
