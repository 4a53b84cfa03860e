"""Conversation history: the SQLite store, crash safety, migrations, exports and `duet history`."""

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading

import pytest
from conftest import ROOT, run_duet

from models.errors import DuetError
from models.events import TextDelta
from models.prompts import Exchange
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from models.store.schema import SCHEMA_VERSION

CHAT = "embedded:smollm2-135m-instruct"


def pane(role, text, *, model=None, stop="eos", error=None, **extra):
    record = {
        "role": role,
        "model": model or f"{role}-model",
        "mode": "raw" if role == "base" else "chat",
        "prompt": f"<rendered {text}>",
        "text": text,
        "error": error,
        "metrics": {"ttft_s": 0.25, "tokens": 7, "tokens_per_s": 31.5, "stop_reason": stop},
    }
    record.update(extra)
    return record


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    return tmp_path


def fill(store, turns=2):
    cid = store.start_conversation(
        [{"role": "base", "model": "b", "mode": "raw"}, {"role": "chat", "model": "c", "mode": "chat"}]
    )
    for i in range(turns):
        store.add_turn(cid, f"prompt {i}", [pane("base", f"base answer {i}"), pane("chat", f"chat answer {i}")])
    return cid


# -- the store ---------------------------------------------------------------------------------
def test_turns_survive_a_new_store_on_the_same_file(data_dir):
    with HistoryStore() as store:
        assert store.path == data_dir / "history.db"
        cid = fill(store, 3)
        store.add_turn(
            cid,
            "stopped one",
            [pane("base", "half an ans", stop="cancelled"), pane("chat", "", error="boom", stop="error")],
        )
    with HistoryStore() as again:
        conv = again.get(cid)
    assert conv["turn_count"] == 4 and conv["title"] == "prompt 0" and conv["kind"] == "app"
    assert [t["prompt"] for t in conv["turns"]] == ["prompt 0", "prompt 1", "prompt 2", "stopped one"]
    last = conv["turns"][-1]["panes"]
    assert last[0]["text"] == "half an ans" and last[0]["metrics"]["stop_reason"] == "cancelled"
    assert last[1]["error"] == "boom"
    first = conv["turns"][0]["panes"][0]
    assert set(first) >= {"role", "model", "mode", "prompt", "text", "error", "metrics"}
    assert set(first["metrics"]) >= {"ttft_s", "tokens", "tokens_per_s", "stop_reason"}
    assert first["prompt"] == "<rendered base answer 0>" and first["metrics"]["tokens_per_s"] == 31.5


def test_a_regenerated_answer_takes_the_last_turns_place(data_dir):
    with HistoryStore() as store:
        cid = fill(store, 2)
        seq = store.add_turn(
            cid, "prompt 1", [pane("base", "base again"), pane("chat", "chat again")], replace_last=True
        )
        assert seq == 2
        # Only the last turn, and only when it asked the same thing: anything else is a new turn.
        assert store.add_turn(cid, "something else", [pane("base", "b"), pane("chat", "c")], replace_last=True) == 3
    with HistoryStore() as again:
        conv = again.get(cid)
        rows = again._read("SELECT COUNT(*) AS n FROM turn_panes")
    assert [t["prompt"] for t in conv["turns"]] == ["prompt 0", "prompt 1", "something else"]
    assert [p["text"] for p in conv["turns"][1]["panes"]] == ["base again", "chat again"]
    assert [p["text"] for p in conv["turns"][0]["panes"]] == ["base answer 0", "chat answer 0"]
    assert rows[0]["n"] == 6  # the replaced turn's panes went with it


def test_database_and_journal_files_are_private(data_dir):
    store = HistoryStore()
    fill(store, 1)
    for suffix in ("", "-wal", "-shm"):  # WAL files exist while a connection is open
        path = f"{store.path}{suffix}"
        assert os.path.exists(path), path
        assert mode_of(path) == 0o600, (path, oct(mode_of(path)))
    store.close()
    assert mode_of(data_dir / "history.db") == 0o600


def test_resume_gives_each_pane_its_exchanges_and_turns(data_dir):
    with HistoryStore() as store:
        cid = fill(store, 2)
        store.add_turn(
            cid, "failed", [pane("base", "", error="too long", stop="error"), pane("chat", "partial", stop="cancelled")]
        )
        exchanges = store.exchanges(cid)
        turns = store.restore_turns(cid)
    assert exchanges["base"] == [Exchange("prompt 0", "base answer 0"), Exchange("prompt 1", "base answer 1")]
    assert exchanges["chat"][-1] == Exchange("failed", "partial")  # a stopped answer stays in the conversation
    session = PaneSession("chat", ModelSpec(source=CHAT), "chat")
    session.turns = turns["chat"]
    assert session.context() == exchanges["chat"]
    assert turns["chat"][-1].stopped and turns["base"][-1].error == "too long"
    session.close()


def test_older_schema_is_migrated(data_dir):
    path = data_dir / "history.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        textwrap.dedent("""
        CREATE TABLE conversations (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL,
            updated_at REAL NOT NULL, title TEXT, panes TEXT NOT NULL DEFAULT '[]');
        CREATE TABLE turns (id INTEGER PRIMARY KEY AUTOINCREMENT, conversation_id INTEGER NOT NULL
            REFERENCES conversations(id) ON DELETE CASCADE, seq INTEGER NOT NULL, prompt TEXT NOT NULL,
            created_at REAL NOT NULL, UNIQUE (conversation_id, seq));
        CREATE TABLE turn_panes (turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, role TEXT NOT NULL, model TEXT NOT NULL, mode TEXT NOT NULL,
            rendered_prompt TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '', error TEXT,
            ttft_s REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0,
            tokens_per_s REAL NOT NULL DEFAULT 0, stop_reason TEXT NOT NULL,
            sampling TEXT NOT NULL DEFAULT '{}', started_at REAL, finished_at REAL,
            PRIMARY KEY (turn_id, position));
        INSERT INTO conversations VALUES (1, 1700000000, 1700000100, 'old one',
            '[{"role": "base", "model": "old-base", "mode": "raw"}]');
        INSERT INTO turns VALUES (1, 1, 1, 'hello', 1700000050);
        INSERT INTO turn_panes VALUES (1, 0, 'base', 'old-base', 'raw', 'hello', ' world', NULL,
            0.5, 2, 10.0, 'eos', '{"temperature": 0.0}', 1700000050, 1700000051);
        PRAGMA user_version = 1;
    """)
    )
    conn.close()
    with HistoryStore() as store:
        assert store.schema_version == SCHEMA_VERSION > 1
        conv = store.get(1)
        assert conv["title"] == "old one" and conv["kind"] == "app" and conv["models"] == {"base": "old-base"}
        old = conv["turns"][0]
        assert old["prompt"] == "hello" and old["label"] is None
        assert old["panes"][0]["text"] == " world" and old["panes"][0]["notices"] == []
        assert old["panes"][0]["sampling"] == {"temperature": 0.0}
        store.add_turn(1, "again", [pane("base", "new")], label="after migration")
        assert store.get(1)["turns"][1]["label"] == "after migration"


def test_empty_file_becomes_a_fresh_database(data_dir):
    (data_dir / "history.db").write_bytes(b"")  # schema version 0: nothing yet
    with HistoryStore() as store:
        assert store.schema_version == SCHEMA_VERSION and store.conversations() == []
        fill(store, 1)


def test_newer_schema_is_refused_and_left_alone(data_dir):
    path = data_dir / "history.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(DuetError, match="newer Duet"):
        HistoryStore()
    assert path.exists() and not list(data_dir.glob("*.corrupt-*"))


def test_corrupt_database_is_set_aside_never_overwritten(data_dir):
    path = data_dir / "history.db"
    garbage = b"this is not a database, but it is somebody's file\n" * 200
    path.write_bytes(garbage)
    with HistoryStore() as store:
        assert store.set_aside is not None and store.set_aside.name.startswith("history.db.corrupt-")
        assert store.set_aside.read_bytes() == garbage
        fill(store, 1)
        assert len(store.conversations()) == 1
    # The CLI says so in one line and goes on with the fresh database.
    path.write_bytes(garbage)
    result = run_duet("history", "list", "--json", env={"DUET_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert "corrupt" in result.stderr and "Traceback" not in result.stderr
    assert len(list(data_dir.glob("history.db.corrupt-*"))) == 2


def test_stopped_answer_is_saved_as_cancelled(data_dir):
    session = PaneSession("chat", ModelSpec(source=CHAT), "chat", SamplingSettings(max_tokens=200))
    session.load().result()
    started = threading.Event()

    def on_event(event):
        if isinstance(event, TextDelta) and event.text:
            started.set()

    future = session.send("Write a long story about a lighthouse keeper.", on_event)
    assert started.wait(60)
    session.cancel()
    turn = future.result(60)
    assert turn.stopped
    with HistoryStore() as store:
        cid = store.start_session_conversation([session])
        store.add_session_turn(cid, turn.prompt, [session], [turn])
    session.close()
    saved = HistoryStore().get(cid)["turns"][0]["panes"][0]
    assert saved["metrics"]["stop_reason"] == "cancelled" and saved["text"] == turn.text and saved["error"] is None
    assert saved["sampling"]["max_tokens"] == 200 and saved["started_at"] and saved["finished_at"]


# -- crash safety ------------------------------------------------------------------------------
_GENERATING = textwrap.dedent("""
    import sys
    from models.events import TextDelta
    from models.store.history import HistoryStore
    from models.session import PaneSession
    from models.settings import ModelSpec, SamplingSettings

    store = HistoryStore(sys.argv[1])
    session = PaneSession("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "raw", SamplingSettings(max_tokens=6))
    session.load().result()
    cid = store.start_session_conversation([session])
    for i in range(3):
        turn = session.send(f"Count to {i + 3}:").result()
        store.add_session_turn(cid, turn.prompt, [session], [turn])
        print("saved", i + 1, flush=True)
    session.sampling = SamplingSettings(max_tokens=1500)
    said = []
    def on_event(event):
        if isinstance(event, TextDelta) and not said:
            said.append(1)
            print("generating", flush=True)
    turn = session.send("Write a very long essay about the sea.", on_event).result()
    store.add_session_turn(cid, turn.prompt, [session], [turn])
    print("finished", flush=True)
""")

_WRITING = textwrap.dedent("""
    import sys
    from models.store.history import HistoryStore
    store = HistoryStore(sys.argv[1])
    cid = store.start_conversation([{"role": "base", "model": "m", "mode": "raw"}])
    big = "x" * 20000
    i = 0
    while True:
        i += 1
        store.add_turn(cid, f"prompt {i}", [{"role": "base", "model": "m", "mode": "raw", "prompt": "", "text": big,
                       "error": None, "metrics": {"ttft_s": 0, "tokens": 1, "tokens_per_s": 0, "stop_reason": "eos"}}])
        print(i, flush=True)
""")


def _spawn(script: str, db) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE, text=True, env=env, cwd=str(ROOT)
    )


def _assert_healthy(db, min_turns: int) -> list[dict]:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    with HistoryStore(db) as store:
        assert store.set_aside is None
        conv = store.conversations()[0]
        turns = store.get(conv["id"])["turns"]
    assert [t["seq"] for t in turns] == list(range(1, len(turns) + 1))
    assert len(turns) >= min_turns
    return turns


def test_kill_9_during_generation_loses_no_completed_turn(tmp_path):
    db = tmp_path / "history.db"
    proc = _spawn(_GENERATING, db)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == "generating":
                break
        assert lines[-1] == "generating", lines
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    turns = _assert_healthy(db, 3)
    assert len(turns) == 3 and all(t["panes"][0]["metrics"]["stop_reason"] in ("eos", "length") for t in turns)


def test_kill_9_while_writing_keeps_every_committed_turn(tmp_path):
    db = tmp_path / "history.db"
    proc = _spawn(_WRITING, db)
    committed = 0
    try:
        for line in proc.stdout:
            committed = int(line)
            if committed >= 25:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    turns = _assert_healthy(db, committed)
    assert all(len(t["panes"][0]["text"]) == 20000 for t in turns)


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
    assert set(printed[0]) == {"role", "model", "mode", "prompt", "text", "error", "metrics"}
    assert set(printed[0]["metrics"]) == {"ttft_s", "tokens", "tokens_per_s", "stop_reason"}
    convs = HistoryStore().conversations()
    assert len(convs) == 1 and convs[0]["kind"] == "ask" and convs[0]["turn_count"] == 1
    saved = HistoryStore().get(convs[0]["id"])["turns"][0]
    assert saved["prompt"] == "What's your name?"
    for shown, kept in zip(printed, saved["panes"]):
        assert {k: kept[k] for k in shown if k != "metrics"} == {k: v for k, v in shown.items() if k != "metrics"}
        assert {k: kept["metrics"][k] for k in shown["metrics"]} == shown["metrics"]
        assert kept["sampling"]["max_tokens"] == 8 and kept["source"].startswith("embedded:")

    again = duet(data_dir, "ask", "What's your name?", "--max-tokens", "4", "--no-save")
    assert again.returncode == 0, again.stderr
    assert len(HistoryStore().conversations()) == 1
