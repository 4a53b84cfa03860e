"""`duet ask` and `duet info` as a user runs them: the real entry point in a subprocess."""

import json
import re
import textwrap

import pytest

from tests.support.duet_process import run_duet

DOG = "Tell me how to train my dog to sit"


def ask_json(*args):
    result = run_duet("ask", *args, "--json")
    return result, json.loads(result.stdout)


def test_ask_json_contract():
    result, payload = ask_json(DOG, "--max-tokens", "24")
    assert result.returncode == 0, result.stderr
    assert list(payload) == ["panes"]
    base, chat = payload["panes"]
    assert (base["role"], base["mode"], base["model"]) == ("base", "raw", "gemma-3-270m")
    assert (chat["role"], chat["mode"], chat["model"]) == ("chat", "chat", "smollm2-135m-instruct")
    for pane in payload["panes"]:
        assert set(pane) == {"role", "model", "mode", "prompt", "text", "error", "metrics", "adapters", "placement"}
        placement = pane["placement"]  # llama.cpp's count, not the request: 0 on a CPU-only build
        assert placement["total_layers"] == {"base": 19, "chat": 31}[pane["role"]]
        on_gpu = placement["gpu_layers"]
        assert placement["where"].startswith(f"GPU {on_gpu}/{placement['total_layers']} layers" if on_gpu else "CPU")
        assert pane["error"] is None and pane["text"].strip()
        metrics = pane["metrics"]
        assert set(metrics) == {"ttft_s", "tokens", "tokens_per_s", "stop_reason"}
        assert isinstance(metrics["ttft_s"], float) and metrics["ttft_s"] > 0
        assert isinstance(metrics["tokens"], int) and 0 < metrics["tokens"] <= 24
        assert metrics["tokens_per_s"] > 0
        assert metrics["stop_reason"] in ("eos", "length")
    assert base["prompt"] == DOG
    assert DOG in chat["prompt"] and "<|im_start|>assistant" in chat["prompt"]
    assert base["text"] != chat["text"]


def test_ask_human_output_labels_both_panes():
    result = run_duet("ask", DOG, "--max-tokens", "12")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "base · gemma-3-270m · raw" in out and "chat · smollm2-135m-instruct · chat" in out
    assert out.count("tok/s") == 2 and "TTFT" in out


def _bad_files(tmp_path, chat_path):
    (tmp_path / "dir.gguf").mkdir()
    (tmp_path / "empty.gguf").write_bytes(b"")
    (tmp_path / "text.gguf").write_text("not a model\n" * 10)
    with chat_path.open("rb") as src:
        (tmp_path / "cut.gguf").write_bytes(src.read(5_000_000))
    return {
        "missing": (str(tmp_path / "nope.gguf"), "does not exist"),
        "directory": (str(tmp_path / "dir.gguf"), "is a directory"),
        "empty": (str(tmp_path / "empty.gguf"), "is empty"),
        "not-gguf": (str(tmp_path / "text.gguf"), "is not a GGUF model file"),
        "truncated": (str(tmp_path / "cut.gguf"), "is truncated"),
        "unknown-embedded": ("embedded:llama-9000", "unknown embedded model"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "not-gguf", "truncated", "unknown-embedded"])
def test_bad_base_model_is_one_line_and_chat_still_answers(tmp_path, chat_path, case):
    spec, message = _bad_files(tmp_path, chat_path)[case]
    result, payload = ask_json("Hello", "--base", spec, "--max-tokens", "8")
    assert result.returncode == 1
    base, chat = payload["panes"]
    assert message in base["error"]
    assert chat["error"] is None and chat["text"].strip()
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("duet: base pane: ") and message in errors[0]
    assert "Traceback" not in result.stderr


def test_chat_mode_on_model_without_template():
    result, payload = ask_json("Hello", "--base-mode", "chat", "--max-tokens", "8")
    assert result.returncode == 1
    assert "no chat template" in payload["panes"][0]["error"]
    assert payload["panes"][1]["error"] is None
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_prompt_longer_than_context():
    result, payload = ask_json("word " * 300, "--n-ctx", "128", "--max-tokens", "8")
    assert result.returncode == 1
    for pane in payload["panes"]:
        assert re.search(r"the prompt is \d+ tokens but the context holds \d+", pane["error"])
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--temperature", "-1"], "invalid temperature"),
        (["--max-tokens", "0"], "invalid max-tokens"),
        (["--base-mode", "sideways"], "invalid choice"),
        (["--max-tokens", "many"], "invalid int value"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args, message):
    result = run_duet("ask", "Hello", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_info_prints_metadata_for_both():
    result = run_duet("info", "--json")
    assert result.returncode == 0, result.stderr
    base, chat = json.loads(result.stdout)["models"]
    assert base["info"]["architecture"] == "gemma3" and base["info"]["quantization"] == "Q4_K_M"
    assert chat["info"]["has_chat_template"] is True
    assert isinstance(chat["info"]["gpu_offload_supported"], bool)
    text = run_duet("info")
    assert "chat template" in text.stdout and "GPU offload" in text.stdout and "placement" in text.stdout


def test_ask_opens_no_socket(tmp_path):
    """The whole of `duet ask` (load, render, generate, print) runs with no network access at all."""
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """
        import sys
        events = []
        def hook(name, args):
            if name.startswith("socket.") or name in ("http.client.connect", "urllib.Request"):
                events.append(name)
        sys.addaudithook(hook)
        from tui.cli.main import main
        code = main(["ask", "Hello", "--max-tokens", "8", "--json"])
        sys.stderr.write(f"SOCKET_EVENTS={events}\\n")
        sys.exit(code)
        """
        )
    )
    import os
    import subprocess
    import sys

    from tests.support.duet_process import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_OFFLINE", None)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr
    assert "SOCKET_EVENTS=[]" in result.stderr
    assert json.loads(result.stdout)["panes"][1]["text"]
