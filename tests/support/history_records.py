"""Plain pane records and a filled store for the history tests."""

import os
import stat


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


def fill(store, turns=2):
    cid = store.start_conversation(
        [{"role": "base", "model": "b", "mode": "raw"}, {"role": "chat", "model": "c", "mode": "chat"}]
    )
    for i in range(turns):
        store.add_turn(cid, f"prompt {i}", [pane("base", f"base answer {i}"), pane("chat", f"chat answer {i}")])
    return cid


def old_database(path, version: int, role: str, model: str, mode: str) -> None:
    """A history database at schema ``version`` (the first ``version`` migrations) holding one
    conversation with one turn of one pane, as an older Duet left it."""
    import sqlite3

    from models.store.schema import MIGRATIONS

    conn = sqlite3.connect(path)
    for statement in [s for step in MIGRATIONS[:version] for s in step]:
        conn.execute(statement)
    conn.executescript(f"""
        INSERT INTO conversations (id, started_at, updated_at, title, panes) VALUES (1, 1, 2, 'old', '[]');
        INSERT INTO turns (id, conversation_id, seq, prompt, created_at) VALUES (1, 1, 1, 'hello', 1);
        INSERT INTO turn_panes (turn_id, position, role, model, mode, text, stop_reason)
            VALUES (1, 0, '{role}', '{model}', '{mode}', ' world', 'eos');
        PRAGMA user_version = {version};
    """)
    conn.close()
