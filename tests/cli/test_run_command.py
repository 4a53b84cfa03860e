"""Presets, the report renderers and `duet run`."""

import json
import os
import re
import stat

import pytest
from conftest import run_duet

from models.errors import DuetError
from models.presets import Preset, builtin_presets, load_presets, resolve_prompts
from models.settings import SamplingSettings
from models.store.history import HistoryStore
from tui.report import md_fenced, run_html, run_markdown

CUSTOMER = (
    "Agent: I'm here to help you with your Amazon deliver order.\n"
    "Customer: I didn't get my item\n"
    "Agent: I'm sorry to hear that. Which item was it?\n"
    "Customer: the blanket\n"
    "Agent:"
)


# -- presets -----------------------------------------------------------------------------------
def test_builtin_presets_are_the_lesson_prompts():
    presets = builtin_presets()
    assert [p.text for p in presets] == [
        "Tell me how to train my dog to sit",
        "What do you think of Mars?",
        "taylor swift's best friend",
        CUSTOMER,
        "What's your name?",
        "Tell me how to train my dog to sit",
    ]
    assert presets[-1].chat_mode == "inst" and presets[-1].base_mode is None
    assert all(p.chat_mode is None for p in presets[:-1])
    assert len({p.name for p in presets}) == len(presets)


def test_load_presets_with_modes_and_sampling(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(
        '[[preset]]\nname = "one"\ntext = "Hello"\n\n'
        '[[preset]]\nname = "two"\ntext = """multi\nline"""\nbase_mode = "inst"\ntemperature = 0.9\nmax_tokens = 5\n'
    )
    one, two = load_presets(path)
    assert one == Preset(name="one", text="Hello")
    assert two.text == "multi\nline" and two.mode_for("base") == "inst" and two.mode_for("chat") is None
    applied = two.apply(SamplingSettings(seed=7))
    assert applied.temperature == 0.9 and applied.max_tokens == 5 and applied.seed == 7
    assert resolve_prompts(str(path)) == [one, two]


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            '[[preset]]\nname = "a"\ntext = "x"\n\n[[preset]]\nname = "b"\ntext = "y"\nchat_mode = "sing"\n',
            r"line 8, preset 2 \('b'\), field 'chat_mode': unknown prompt mode 'sing'",
        ),
        ('[[preset]]\nname = "a"\ntext = \n', r"not valid TOML: .*line 3"),
        ('[[preset]]\nname = "a"\n', r"line 1, preset 1 \('a'\), field 'text': Field required"),
        (
            '[[preset]]\nname = "a"\ntext = "x"\ntemprature = 1\n',
            r"line 4, preset 1 \('a'\), field 'temprature': Extra inputs",
        ),
        ('[[preset]]\nname = "a"\ntext = "x"\ntemperature = 9\n', r"preset 1 \('a'\).*less than or equal to 5"),
        ('title = "x"\n', r"unexpected key 'title'"),
        ('[[preset]]\nname = "a"\ntext = "x"\n[[preset]]\nname = "a"\ntext = "y"\n', r"'a' is used by more than one"),
    ],
)
def test_broken_presets_name_the_line_and_field(tmp_path, content, expected):
    path = tmp_path / "broken.toml"
    path.write_text(content)
    with pytest.raises(DuetError, match=expected) as info:
        load_presets(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_prompt_list_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text("# a comment\nfirst prompt\n\n  second prompt  \n")
    assert [(p.name, p.text) for p in resolve_prompts(str(path))] == [
        ("line-2", "first prompt"),
        ("line-4", "second prompt"),
    ]
    with pytest.raises(DuetError, match="does not exist"):
        resolve_prompts(str(tmp_path / "missing.txt"))


# -- report rendering --------------------------------------------------------------------------
EVIL = "``` not closed ```` \x1b]0;pwned\x07 </pre><script>alert('x')</script> & <b>"


def _result():
    metrics = {"ttft_s": 0.1, "tokens": 3, "tokens_per_s": 20.0, "stop_reason": "eos"}
    panes = [
        {
            "role": "base",
            "model": "m<i>",
            "mode": "raw",
            "prompt": EVIL,
            "text": EVIL,
            "error": None,
            "metrics": metrics,
        },
        {
            "role": "chat",
            "model": "c",
            "mode": "chat",
            "prompt": "",
            "text": "",
            "error": "it <failed>",
            "metrics": {**metrics, "stop_reason": "error"},
        },
    ]
    return {
        "title": "t <x>",
        "created": "now",
        "source": "evil.txt",
        "repeat": 1,
        "notes": ["a <note>"],
        "panes": [{"role": "base", "model": "m<i>", "mode": "raw"}],
        "interrupted": False,
        "sampling": SamplingSettings().model_dump(mode="json"),
        "items": [
            {"index": 1, "name": "<evil>", "prompt": EVIL, "repeat": 1, "seed": 42, "status": "failed", "panes": panes}
        ],
    }


def test_html_report_escapes_model_text():
    page = run_html(_result())
    assert "<script>" not in page and "</pre><script>" not in page and "\x1b" not in page and "\x07" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page and "m&lt;i&gt;" in page
    assert "it &lt;failed&gt;" in page and "Status: failed" in page
    assert "http" not in page.lower().replace("http-equiv", "")  # self-contained: nothing external


def test_markdown_report_fences_model_text():
    text = run_markdown(_result())
    assert "\x1b" not in text and "\x07" not in text
    outside_fences = re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", text)
    assert "<script>" in text and "<script>" not in outside_fences and "<i>" not in outside_fences
    assert md_fenced(EVIL).startswith("`````text\n") and md_fenced(EVIL).endswith("\n`````")
    assert "**Status: failed**" in text and "**Failed:** it &lt;failed&gt;" in text


# -- duet run ----------------------------------------------------------------------------------
def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_run_builtin_presets_writes_a_report_with_every_prompt(tmp_path, suffix):
    report = tmp_path / f"report.{suffix}"
    jsonl = tmp_path / "runs.jsonl"
    result = run_duet(
        "run",
        "builtin",
        "--max-tokens",
        "4",
        "--report",
        str(report),
        "--jsonl",
        str(jsonl),
        env={"DUET_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "6 of 6 runs, 0 failed" in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        f"[{i}/6] {p.name}" for i, p in enumerate(builtin_presets(), 1)
    ]
    text = report.read_text()
    assert mode_of(report) == 0o600 and mode_of(jsonl) == 0o600
    for preset in builtin_presets():
        assert preset.name in text
    assert "Summary" in text and "mean TTFT" in text and "gemma-3-270m" in text.replace("\\-", "-")
    if suffix == "html":
        assert text.startswith("<!DOCTYPE html>") and "<style>" in text and "<link" not in text
        assert "Agent: I&#x27;m here to help you" in text
    else:
        assert "Customer: the blanket\nAgent:\n```" in text
    items = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(items) == 6 and all(i["status"] == "ok" for i in items)
    assert (
        items[-1]["panes"][1]["mode"] == "inst"
        and items[-1]["panes"][1]["prompt"] == "[INST]Tell me how to train my dog to sit[/INST]"
    )
    assert items[0]["panes"][1]["mode"] == "chat" and items[0]["panes"][0]["mode"] == "raw"
    convs = HistoryStore(tmp_path / "history.db").conversations()
    assert len(convs) == 1 and convs[0]["kind"] == "run" and convs[0]["turn_count"] == 6


def test_failing_prompt_is_recorded_and_the_run_goes_on(tmp_path):
    prompts = tmp_path / "prompts.txt"
    long_one = " ".join(["elephant"] * 400)
    prompts.write_text(f"Hello there\n{long_one}\nWhat's your name?\n")
    report = tmp_path / "r.md"
    result = run_duet(
        "run",
        str(prompts),
        "--n-ctx",
        "64",
        "--max-tokens",
        "4",
        "--report",
        str(report),
        "--chat-mode",
        "raw",
        env={"DUET_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "3 of 3 runs, 1 failed" in result.stdout and "1 of 3 runs failed" in result.stderr
    assert "Traceback" not in result.stderr
    text = report.read_text()
    assert text.count("**Status: failed**") == 1 and "context holds" in text
    assert "Hello there" in text and "What's your name?" in text
    conv = HistoryStore(tmp_path / "history.db").conversations()[0]
    turns = HistoryStore(tmp_path / "history.db").get(conv["id"])["turns"]
    assert [t["label"] for t in turns] == ["line-1", "line-2", "line-3"]
    assert turns[1]["panes"][0]["error"] and not turns[2]["panes"][0]["error"]


def test_repeat_samples_with_different_seeds(tmp_path):
    prompts = tmp_path / "one.txt"
    prompts.write_text("Once upon a time\n")
    report = tmp_path / "r.html"
    jsonl = tmp_path / "r.jsonl"
    result = run_duet(
        "run",
        str(prompts),
        "--repeat",
        "2",
        "--seed",
        "5",
        "--max-tokens",
        "4",
        "--report",
        str(report),
        "--jsonl",
        str(jsonl),
        "--no-save",
        env={"DUET_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [i["seed"] for i in items] == [5, 6] and [i["repeat"] for i in items] == [1, 2]
    assert all(
        p["sampling"]["temperature"] == 0.7 and p["sampling"]["seed"] == i["seed"] for i in items for p in i["panes"]
    )
    assert "sampled at temperature 0.7" in report.read_text()
    assert not (tmp_path / "data").exists()  # --no-save: no history at all


@pytest.mark.parametrize(
    "args, status, message",
    [
        (("builtin", "--report", "r.pdf"), 2, "must be a .md or .html file"),
        (("builtin", "--report", "r.md", "--repeat", "0"), 2, "repeat"),
        (("nope.toml", "--report", "r.md"), 1, "presets file nope.toml does not exist"),
        (("builtin", "--report", "/nonexistent-dir/r.md"), 1, "does not exist"),
    ],
)
def test_run_usage_errors_are_one_line(tmp_path, args, status, message):
    result = run_duet("run", *args, env={"DUET_DATA_DIR": str(tmp_path)})
    assert result.returncode == status and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
