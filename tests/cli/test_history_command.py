"""Conversation history: the SQLite store, crash safety, migrations, exports and `duet history`."""

import json
import os
import subprocess
import sys

import pytest

from models.store.history import HistoryStore
from tests.support.duet_process import ROOT, run_duet
from tests.support.history_records import fill, mode_of, pane

CHAT = "embedded:smollm2-135m-instruct"


# -- the CLI -----------------------------------------------------------------------------------
def duet(data_dir, *args):
    return run_duet(*args, env={"DUET_DATA_DIR": str(data_dir)})


def test_history_cli_list_show_export_rm(data_dir):
    with HistoryStore() as store:
        first = fill(store, 1)
        second = store.start_conversation([{"role": "base", "model": "b", "mode": "raw"}], kind="ask")
        evil = "```` fence\n\x1b[31mred\x1b[0m <script>alert(1)</script>"
        store.add_turn(second, "evil prompt", [pane("base", evil), pane("chat", "fine")])

    listing = duet(data_dir, "history", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    convs = json.loads(listing.stdout)
    assert [c["id"] for c in convs] == [second, first]  # newest first
    assert convs[0]["turn_count"] == 1 and convs[0]["models"] == {"base": "base-model", "chat": "chat-model"}
    assert {"id", "started", "models", "turn_count"} <= set(convs[0])

    text_list = duet(data_dir, "history", "list")
    assert text_list.returncode == 0 and "evil prompt" in text_list.stdout

    shown = duet(data_dir, "history", "show", str(second), "--json")
    conv = json.loads(shown.stdout)
    assert conv["id"] == second and conv["turns"][0]["prompt"] == "evil prompt"
    assert conv["turns"][0]["panes"][0]["text"] == evil

    plain = duet(data_dir, "history", "show", str(second))
    assert plain.returncode == 0 and "\x1b" not in plain.stdout and "␛[31mred" in plain.stdout

    out = data_dir / "conv.md"
    exported = duet(data_dir, "history", "export", str(second), "--format", "md", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    md = out.read_text()
    assert mode_of(out) == 0o600
    assert "`````text\n```` fence" in md  # the fence is longer than any backtick run inside
    assert "\x1b" not in md and "evil prompt" in md and "TTFT 250 ms" in md
    assert "**base**" in md and "**chat**" in md

    removed = duet(data_dir, "history", "rm", str(first))
    assert removed.returncode == 0
    assert [c["id"] for c in json.loads(duet(data_dir, "history", "list", "--json").stdout)] == [second]


def test_a_reader_that_stops_early_gets_no_traceback(data_dir):
    # `duet history show 1 | head`: the pipe closes while duet is still writing.
    with HistoryStore() as store:
        cid = store.start_conversation([{"role": "base", "model": "b", "mode": "raw"}])
        store.add_turn(cid, "long", [pane("base", "line\n" * 200_000)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "history", "show", str(cid)],
        cwd=str(ROOT),
        env={**os.environ, "DUET_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.readline().startswith(b"conversation")
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert stderr == "", stderr


def test_json_export_round_trips(data_dir):
    with HistoryStore() as store:
        cid = fill(store, 2)
        store.add_turn(
            cid,
            "with extras",
            [pane("base", "é ☃ \x00 \x1b", notices=["dropped 1"], sampling={"temperature": 0.7, "stop": ["\n"]})],
            label="x",
        )
        original = store.get(cid)
    out = data_dir / "conv.json"
    result = duet(data_dir, "history", "export", str(cid), "--format", "json", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert mode_of(out) == 0o600
    assert json.loads(out.read_text()) == original
    to_stdout = duet(data_dir, "history", "export", str(cid), "--format", "json")
    assert json.loads(to_stdout.stdout) == original


@pytest.mark.parametrize("args", [("show", "999"), ("export", "999", "--format", "md"), ("rm", "999")])
def test_unknown_id_is_one_line(data_dir, args):
    HistoryStore().close()
    result = duet(data_dir, "history", *args)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "no conversation 999" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_data_dir_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_duet("history", "list", env={"DUET_DATA_DIR": str(blocker / "sub")})
    assert result.returncode == 1
    assert result.stderr.startswith("duet: cannot create the history database") and result.stderr.count("\n") == 1
    asked = run_duet("ask", "hi", "--max-tokens", "2", env={"DUET_DATA_DIR": str(blocker / "sub")})
    assert asked.returncode == 1 and "--no-save" in asked.stderr and "Traceback" not in asked.stderr


def test_ask_saves_its_exchange_unless_no_save(data_dir):
    result = duet(data_dir, "ask", "What's your name?", "--max-tokens", "8", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)["panes"]
    assert set(printed[0]) == {"role", "model", "mode", "prompt", "text", "error", "metrics", "adapters", "placement"}
    assert set(printed[0]["metrics"]) == {"ttft_s", "tokens", "tokens_per_s", "stop_reason"}
    convs = HistoryStore().conversations()
    assert len(convs) == 1 and convs[0]["kind"] == "ask" and convs[0]["turn_count"] == 1
    saved = HistoryStore().get(convs[0]["id"])["turns"][0]
    assert saved["prompt"] == "What's your name?"
    for shown, kept in zip(printed, saved["panes"]):
        # placement (where the model ran) is printed, not saved: the history keeps what was asked and said
        compared = [k for k in shown if k not in ("metrics", "placement")]
        assert {k: kept[k] for k in compared} == {k: shown[k] for k in compared}
        assert {k: kept["metrics"][k] for k in shown["metrics"]} == shown["metrics"]
        assert kept["sampling"]["max_tokens"] == 8 and kept["source"].startswith("embedded:")

    again = duet(data_dir, "ask", "What's your name?", "--max-tokens", "4", "--no-save")
    assert again.returncode == 0, again.stderr
    assert len(HistoryStore().conversations()) == 1
