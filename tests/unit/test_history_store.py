"""The history database on its own: turns kept, replaced, migrated, private, corruption set aside."""

import json
import os
import sqlite3
import textwrap

import pytest

from models.errors import DuetError
from models.prompts import Exchange
from models.session import PaneSession
from models.settings import ModelSpec
from models.store.history import HistoryStore
from models.store.schema import SCHEMA_VERSION
from tests.support.duet_process import run_duet
from tests.support.history_records import fill, mode_of, pane


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
    session = PaneSession("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat")
    session.restore(turns["chat"])
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
