"""--amplify A on the real `duet` command: ask --json carries the factor, the two models and what
the answer pushed; the history and `duet run` reports record them; refusals are one line."""

from __future__ import annotations

import json

import pytest

from tests.support.duet_process import run_duet
from tests.support.lora_gguf import write_lora

SMOLLM2 = "embedded:smollm2-135m-instruct"
PAIR = ("--base", SMOLLM2, "--chat", SMOLLM2, "--base-mode", "chat", "--max-tokens", "12")


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> str:
    return str(write_lora(tmp_path_factory.mktemp("lora") / "my-style.gguf"))


def test_ask_json_and_history_record_a_and_the_two_models(adapter, tmp_path):
    env = {"DUET_DATA_DIR": str(tmp_path)}
    result = run_duet("ask", "Name a planet.", *PAIR, "--chat-lora", adapter, "--amplify", "0", "--json", env=env)
    assert result.returncode == 0, result.stderr
    base, chat, amplified = json.loads(result.stdout)["panes"]
    assert "amplify" not in base and "amplify" not in chat
    assert amplified["role"] == "amplified" and amplified["text"] == chat["text"]  # a = 0: the tuned model
    record = amplified["amplify"]
    assert record["factor"] == 0.0
    assert record["tuned"] == {"source": SMOLLM2, "adapters": [{"source": adapter, "scale": 1.0}]}
    assert record["base"] == {"source": SMOLLM2, "adapters": []}
    pushes = record["pushes"]
    assert "".join(t["text"] for t in pushes["tokens"]) == amplified["text"]
    assert pushes["kl_max"] >= pushes["kl_mean"] > 0 and pushes["raised_most"]
    shown = run_duet("history", "show", "1", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    (stored,) = [p for p in json.loads(shown.stdout)["turns"][0]["panes"] if p["role"] == "amplified"]
    assert stored["amplify"] == {k: v for k, v in record.items() if k != "pushes"}
    exported = run_duet("history", "export", "1", env=env)
    assert "amplified ×0 over smollm2-135m-instruct" in exported.stdout


def test_run_reports_name_a_and_the_base(adapter, tmp_path):
    prompts = tmp_path / "one.txt"
    prompts.write_text("Name a planet.\n")
    report = tmp_path / "report.md"
    result = run_duet(
        "run", str(prompts), *PAIR[:4], "--max-tokens", "8", "--chat-lora", adapter, "--amplify", "2",
        "--report", str(report), "--no-save",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "amplified ×2 over smollm2-135m-instruct" in report.read_text()


def test_pairs_with_different_vocabularies_are_refused_in_one_line():
    result = run_duet("ask", "Hi", "--amplify", "2", "--max-tokens", "4", "--no-save")  # Gemma 3 base, SmolLM2 chat
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("duet: amplified pane:")]
    assert "cannot amplify smollm2-135m-instruct over gemma-3-270m: their vocabularies differ" in line


@pytest.mark.parametrize(("value", "reason"), [("9", "outside -1 (the base) to 8"), ("nan", "outside -1")])
def test_a_out_of_range_is_a_usage_error(value, reason):
    result = run_duet("ask", "Hi", "--amplify", value, "--no-save")
    assert result.returncode == 2 and reason in result.stderr and "Traceback" not in result.stderr
