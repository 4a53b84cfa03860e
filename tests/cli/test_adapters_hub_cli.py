"""An `hf:` adapter pulled like a model and opened offline on the first pair, the catalog's sizes
as `duet models` says them, and the adapters named in `duet ask`'s boxes and `duet run`'s reports.

The hub is the local stand-in (tests/support/fake_hub.py): the embedded SmolLM2 file plays both
files of the first pair, and the tests' LoRA (`lora_adapter`, tests/conftest.py) plays a published
adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.duet_process import run_duet
from tests.support.panes import SMOLLM2

BASE = ("QuantFactory/SmolLM2-135M-GGUF", "SmolLM2-135M.Q4_K_M.gguf")
CHAT = ("bartowski/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct-Q4_K_M.gguf")
HF_ADAPTER = "hf:test-org/smollm2-loras/style.gguf"


def _catalog(env) -> dict:
    listed = run_duet("models", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return {m["name"]: m for m in json.loads(listed.stdout)["models"]}


def test_duet_models_says_which_sizes_are_estimates(env):
    models = _catalog(env)
    base, chat = models["smollm2-135m/base"], models["smollm2-135m/chat"]
    assert (base["repo"], base["file"]) == BASE and (chat["repo"], chat["file"]) == CHAT
    assert base["size_approximate"] and not chat["size_approximate"]
    assert models["llama-2-7b/chat"]["size"] == 4081004224 and models["smollm2-1.7b/chat"]["size"] == 1055609824
    row = next(line for line in run_duet("models", "list", env=env).stdout.splitlines() if "smollm2-135m/base" in line)
    assert "~" in row
    shown = run_duet("models", "info", "smollm2-135m/base", env=env).stdout
    assert "about" in shown and "approximate" in shown


def test_an_hf_adapter_is_pulled_like_a_model_then_opens_offline(fake_hub, env, chat_path, lora_adapter):
    for repo, name in (BASE, CHAT):
        fake_hub.add(repo, name, chat_path)
    repo, name = HF_ADAPTER.removeprefix("hf:").rsplit("/", 1)
    fake_hub.add(repo, name, Path(lora_adapter))
    early = run_duet("ask", "--base", SMOLLM2, "--chat", SMOLLM2, "--chat-lora", HF_ADAPTER, "hi", env=env)
    assert f"the adapter {HF_ADAPTER} is not downloaded yet; run: duet models pull {HF_ADAPTER}" in early.stderr
    for spec in ("smollm2-135m", HF_ADAPTER):
        pulled = run_duet("models", "pull", spec, env=env)
        assert pulled.returncode == 0 and "sha256 verified" in pulled.stdout, pulled.stderr
    models = _catalog(env)
    assert models["smollm2-135m/base"]["state"] == "installed" and not models["smollm2-135m/base"]["size_approximate"]

    seen = len(fake_hub.requests)
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    argv = ("--max-tokens", "8", "--json", "--pair", "smollm2-135m", "--chat-lora", f"{HF_ADAPTER}@0.5", "Hello")
    asked = run_duet("ask", *argv, env=offline)
    assert asked.returncode == 0, asked.stderr
    base, chat = json.loads(asked.stdout)["panes"]
    assert base["error"] is None and chat["error"] is None and chat["text"]
    assert base["adapters"] == [] and chat["adapters"] == [{"source": HF_ADAPTER, "scale": 0.5}]
    info = run_duet("info", "--pair", "smollm2-135m", "--chat-lora", HF_ADAPTER, env=offline)
    assert info.returncode == 0 and "scale 1 (alpha 16, 120 tensors)" in info.stdout, info.stderr
    assert len(fake_hub.requests) == seen  # the models and the adapter open from the cache alone


def test_ask_and_run_name_the_adapter_and_its_scale(lora_adapter, tmp_path):
    panes = ("--base", SMOLLM2, "--chat", SMOLLM2, "--chat-lora", f"{lora_adapter}@0.75", "--max-tokens", "4")
    shown = run_duet("ask", *panes, "Hello", env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    titles = [line for line in shown.stdout.splitlines() if "smollm2-135m-instruct" in line]
    assert len(titles) == 1 and titles[0].count("+my-style ×0.75") == 1  # the chat pane's box only

    prompts = tmp_path / "prompts.txt"
    prompts.write_text("The capital of France is\nOnce upon a time\n")
    env = {"DUET_DATA_DIR": str(tmp_path / "data")}
    jsonl = tmp_path / "runs.jsonl"
    for suffix in ("md", "html"):
        report = tmp_path / f"report.{suffix}"
        ran = run_duet("run", *panes, "--report", str(report), "--jsonl", str(jsonl), str(prompts), env=env)
        assert ran.returncode == 0, ran.stderr
        assert "+my-style ×0.75" in report.read_text()
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert records and all(
        [p["adapters"] for p in r["panes"]] == [[], [{"source": lora_adapter, "scale": 0.75}]] for r in records
    )
