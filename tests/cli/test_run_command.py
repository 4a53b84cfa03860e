"""Presets, the report renderers and `duet run`."""

import json
import os
import stat

import pytest

from models.presets import builtin_presets
from models.store.history import HistoryStore
from tests.support.duet_process import run_duet


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
    assert "7 of 7 runs, 0 failed" in result.stdout
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        f"[{i}/7] {p.name}" for i, p in enumerate(builtin_presets(), 1)
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
    assert len(items) == 7 and all(i["status"] == "ok" for i in items)
    assert (
        items[5]["panes"][1]["mode"] == "inst"
        and items[5]["panes"][1]["prompt"] == "[INST]Tell me how to train my dog to sit[/INST]"
    )
    assert items[0]["panes"][1]["mode"] == "chat" and items[0]["panes"][0]["mode"] == "raw"
    convs = HistoryStore(tmp_path / "history.db").conversations()
    assert len(convs) == 1 and convs[0]["kind"] == "run" and convs[0]["turn_count"] == 7


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
        (("builtin", "--report", "r.md", "--repeat", "100000000"), 2, "give 1 to 1000"),
        (("nope.toml", "--report", "r.md"), 1, "presets file nope.toml does not exist"),
        (("builtin", "--report", "/nonexistent-dir/r.md"), 1, "does not exist"),
    ],
)
def test_run_usage_errors_are_one_line(tmp_path, args, status, message):
    result = run_duet("run", *args, env={"DUET_DATA_DIR": str(tmp_path)})
    assert result.returncode == status and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
