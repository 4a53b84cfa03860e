"""Saving real answers: a stopped answer is kept, and kill -9 at any moment loses no committed turn."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

from models.events import TextDelta
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from tests.support.duet_process import ROOT

CHAT = "embedded:smollm2-135m-instruct"


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
