"""--base-lora / --chat-lora on the real `duet` command: ask --json carries the adapters, a bad
adapter fails its pane in one line while the other answers, and `duet info` names them."""

from __future__ import annotations

import json

from tests.support.duet_process import run_duet
from tests.support.panes import SMOLLM2

SAME_FILE = ("--base", SMOLLM2, "--chat", SMOLLM2, "--base-mode", "chat", "--max-tokens", "12", "--no-save")


def test_ask_json_panes_carry_their_adapters(lora_adapter):
    result = run_duet("ask", "What do you think of Mars?", *SAME_FILE, "--chat-lora", f"{lora_adapter}@0", "--json")
    assert result.returncode == 0, result.stderr
    base, chat = json.loads(result.stdout)["panes"]
    assert base["adapters"] == [] and chat["adapters"] == [{"source": lora_adapter, "scale": 0.0}]
    assert base["text"] == chat["text"] and base["text"].strip()  # scale 0: the model's own answer
    tuned = run_duet("ask", "What do you think of Mars?", *SAME_FILE, "--chat-lora", lora_adapter, "--json")
    base, chat = json.loads(tuned.stdout)["panes"]
    assert chat["adapters"] == [{"source": lora_adapter, "scale": 1.0}] and chat["text"] != base["text"]


def test_a_bad_adapter_fails_its_pane_in_one_line_and_the_other_answers(chat_path):
    result = run_duet("ask", "What do you think of Mars?", *SAME_FILE, "--chat-lora", str(chat_path), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    base, chat = json.loads(result.stdout)["panes"]
    assert base["error"] is None and base["text"].strip()
    assert "is not a LoRA adapter (general.type is 'model')" in chat["error"]
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("duet: chat pane:")]
    assert chat_path.name in line


def test_info_names_the_adapters(lora_adapter):
    result = run_duet("info", "--chat", SMOLLM2, "--chat-lora", f"{lora_adapter}@0.5", "--base", SMOLLM2)
    assert result.returncode == 0, result.stderr
    chat = result.stdout.split("[chat]")[1]
    assert "LoRA adapter" in chat and "scale 0.5 (alpha 16, 120 tensors)" in chat and lora_adapter in chat
    assert "LoRA adapter" not in result.stdout.split("[chat]")[0]
    payload = json.loads(run_duet("info", "--chat-lora", lora_adapter, "--json").stdout)["models"]
    assert payload[1]["adapters"] == [{"source": lora_adapter, "scale": 1.0}]
    assert payload[1]["info"]["adapters"][0]["path"] == lora_adapter and payload[0]["adapters"] == []


def test_an_adapter_for_a_missing_pane_is_a_usage_error():
    result = run_duet("ask", "hi", "--third-lora", "x.gguf")
    assert result.returncode == 2 and "--third-lora needs a third pane" in result.stderr


def test_run_applies_each_presets_adapters_and_goes_back_to_the_command_lines(lora_adapter, tmp_path):
    presets = tmp_path / "presets.toml"
    presets.write_text(
        "[[preset]]\nname = 'tuned'\ntext = 'What do you think of Mars?'\n"
        f"chat_lora = ['{lora_adapter}@1']\n"
        "[[preset]]\nname = 'plain'\ntext = 'What do you think of Mars?'\n"
        "[[preset]]\nname = 'missing'\ntext = 'What do you think of Mars?'\n"
        f"chat_lora = ['{tmp_path / 'nowhere.gguf'}']\n"
    )
    jsonl = tmp_path / "runs.jsonl"
    result = run_duet(
        "run", str(presets), *SAME_FILE, "--chat-lora", f"{lora_adapter}@0", "--report", str(tmp_path / "r.md"),
        "--jsonl", str(jsonl),
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # the third prompt's chat pane failed
    tuned, plain, missing = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert tuned["panes"][1]["adapters"] == [{"source": lora_adapter, "scale": 1.0}]
    assert tuned["panes"][1]["text"] != tuned["panes"][0]["text"]
    # A preset that names no adapters runs with the command line's (scale 0: the model's own answer).
    assert plain["panes"][1]["adapters"] == [{"source": lora_adapter, "scale": 0.0}]
    assert plain["panes"][1]["text"] == plain["panes"][0]["text"]
    assert "nowhere.gguf" in missing["panes"][1]["error"] and "\n" not in missing["panes"][1]["error"]
    assert missing["panes"][0]["error"] is None and missing["panes"][0]["text"].strip()
