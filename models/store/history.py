"""Conversation history: every finished turn of every pane, kept in a private SQLite database.

One transaction per turn: once ``add_turn`` returns, the turn survives a crash or ``kill -9`` of
the process. Opening the database (private file modes, crash-safe journal, a corrupt file moved
aside, which the store says in ``set_aside``) is database.py's; the tables and their migrations
are schema.py's.

Conversations and turns come back as JSON-ready dicts (see ``get``); ``exchanges`` and
``restore_turns`` turn a stored conversation back into what a PaneSession needs to go on with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import DuetError
from models.prompts import Exchange
from models.store import resume
from models.store.database import database_files, is_read_only, open_database, open_read_only
from models.store.paths import data_dir  # noqa: F401  (re-exported: callers import it from here)
from models.store.private_files import make_private
from models.store.records import pane_meta, pane_record
from models.store.rows import INSERT_PANE, conversation_dict, pane_dict, pane_list, pane_row, title_from, turn_dict

if TYPE_CHECKING:
    from models.session import Turn

DB_NAME = "history.db"


def default_db_path() -> Path:
    return data_dir() / DB_NAME


class HistoryStore:
    """The conversation history database. Thread-safe; one instance per process is enough.

    ``path`` defaults to ``default_db_path()``. Raises DuetError (one line) when the database
    cannot be created or opened.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self._lock = threading.RLock()
        # An existing database this user cannot write is still listed and shown, never changed.
        self.read_only = is_read_only(self.path)
        if self.read_only:
            connection, set_aside = open_read_only(self.path), None
        else:
            connection, set_aside = open_database(self.path)
        self.set_aside: Path | None = set_aside  # where a corrupt database was moved, if one was
        self._connection: sqlite3.Connection | None = connection  # None once closed

    @property
    def read_only_note(self) -> str:
        """The one line that says why nothing is saved (for a read-only store)."""
        return (
            f"the history database {self.path} is read-only for you: history can be listed and shown, "
            "but nothing new is saved; make it writable (chmod u+w) or set DUET_DATA_DIR elsewhere"
        )

    # -- the connection ----------------------------------------------------------------------
    @property
    def _conn(self) -> sqlite3.Connection:
        """The open connection; DuetError once the store is closed. Use it holding ``_lock``."""
        if self._connection is None:
            raise DuetError("the history database is closed")
        return self._connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise DuetError(self.read_only_note)
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as err:
                raise DuetError(f"cannot write the history database {self.path} ({err})") from None
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as err:
                conn.execute("ROLLBACK")
                raise DuetError(f"cannot write the history database {self.path} ({err})") from None
            except OverflowError:
                conn.execute("ROLLBACK")
                raise DuetError("a number is larger than any id in the history (SQLite integers are 64-bit)") from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        make_private(database_files(self.path))

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            conn = self._conn
            try:
                cursor = conn.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return cursor.fetchall()
            except sqlite3.DatabaseError as err:
                raise DuetError(f"cannot read the history database {self.path} ({err})") from None
            except OverflowError:  # `duet history show 99999999999999999999`: SQLite integers are 64-bit
                raise DuetError(f"{_too_large(params)} is larger than any id or count in the history") from None

    @property
    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------
    def start_conversation(
        self,
        panes: list[dict],
        *,
        kind: str = "app",
        title: str | None = None,
        meta: dict | None = None,
        started_at: float | None = None,
    ) -> int:
        """A new, empty conversation; returns its id.

        ``panes``: one dict per pane with role, model, mode and optionally source (what
        ``records.pane_meta(session)`` gives). ``kind`` says what made it: "app", "ask" or "run".
        ``title`` defaults to the first line of the first prompt.
        """
        with self._transaction() as conn:
            return _insert_conversation(conn, panes, kind, title, meta, started_at)

    def add_turn(
        self,
        conversation_id: int,
        prompt: str,
        panes: list[dict],
        *,
        label: str | None = None,
        created_at: float | None = None,
        replace_last: bool = False,
    ) -> int:
        """Save one finished (or stopped, or failed) turn in one transaction; returns its number
        in the conversation (1, 2, ...).

        ``replace_last``: a regenerated answer takes the place of the last turn when that turn
        asked the same prompt (in the same transaction, so the old one stays until the new one is
        saved); with any other last turn the new one is added after it.

        ``panes``: one record per pane as ``records.pane_record(session, turn, extended=True)``
        builds it (role, model, mode, prompt, text, error, metrics, and optionally source,
        sampling, notices, started_at, finished_at). A stopped answer is saved with whatever
        text it had and its stop_reason "cancelled".
        """
        with self._transaction() as conn:
            return _insert_turn(conn, conversation_id, prompt, panes, label, created_at, replace_last)

    def save_turn(
        self,
        conversation_id: int | None,
        prompt: str,
        panes: list[dict],
        *,
        new_conversation: dict | None = None,
        label: str | None = None,
        replace_last: bool = False,
    ) -> tuple[int, int]:
        """One turn saved in ONE transaction, with the conversation it starts when
        ``conversation_id`` is None or no longer exists: (conversation id, turn number).

        ``new_conversation``: start_conversation's arguments (panes, kind, title, meta). Starting
        the conversation and adding its first turn in two transactions left, after a kill
        between them, an untitled conversation with no turn and the exchange lost."""
        with self._transaction() as conn:
            exists = (
                conversation_id is not None
                and conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            )
            if not exists:
                start = dict(new_conversation or {"panes": panes})
                conversation_id = _insert_conversation(
                    conn, start["panes"], start.get("kind", "app"), start.get("title"), start.get("meta"), None
                )
            assert conversation_id is not None
            seq = _insert_turn(conn, conversation_id, prompt, panes, label, None, replace_last)
            return conversation_id, seq

    def start_session_conversation(
        self, sessions, *, kind: str = "app", title: str | None = None, meta: dict | None = None
    ) -> int:
        """start_conversation for these PaneSessions' current models and modes."""
        return self.start_conversation([pane_meta(s) for s in sessions], kind=kind, title=title, meta=meta)

    def add_session_turn(
        self,
        conversation_id: int,
        prompt: str,
        sessions,
        turns,
        *,
        label: str | None = None,
        replace_last: bool = False,
    ) -> int:
        """add_turn for one prompt's finished Turns, one per PaneSession (None for a pane whose
        model failed to load)."""
        panes = [pane_record(s, t, extended=True) for s, t in zip(sessions, turns)]
        return self.add_turn(conversation_id, prompt, panes, label=label, replace_last=replace_last)

    def save_session_turn(
        self,
        conversation_id: int | None,
        prompt: str,
        sessions,
        turns,
        *,
        kind: str = "app",
        label: str | None = None,
        replace_last: bool = False,
    ) -> tuple[int, int]:
        """save_turn for one prompt's finished Turns, one per PaneSession, starting a ``kind``
        conversation when there is none: (conversation id, turn number)."""
        panes = [pane_record(s, t, extended=True) for s, t in zip(sessions, turns)]
        start = {"panes": [pane_meta(s) for s in sessions], "kind": kind}
        return self.save_turn(
            conversation_id, prompt, panes, new_conversation=start, label=label, replace_last=replace_last
        )

    def delete(self, conversation_id: int) -> None:
        """Remove a conversation and all its turns; DuetError if there is no such conversation."""
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cursor.rowcount == 0:
                raise DuetError(f"no conversation {conversation_id} in the history; see: duet history list")

    # -- reading -----------------------------------------------------------------------------
    def conversations(self, limit: int | None = None) -> list[dict]:
        """Conversations, most recently updated first: id, kind, title, started, updated,
        models {role: model} (of the latest turn), panes and turn_count."""
        sql = """SELECT c.*, (SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id) AS turn_count
                 FROM conversations c ORDER BY c.updated_at DESC, c.id DESC"""
        params: tuple = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [conversation_dict(row, row["turn_count"]) for row in self._read(sql, params)]

    def exists(self, conversation_id: int) -> bool:
        return bool(self._read("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)))

    def get(self, conversation_id: int) -> dict:
        """The conversation with its ``turns``, each {seq, prompt, label, created, panes: [...]},
        panes shaped like `duet ask --json`'s plus source, sampling, notices, started_at,
        finished_at and metrics.prompt_tokens / metrics.total_s. DuetError if it does not exist."""
        with self._lock:
            rows = self._read("SELECT * FROM conversations WHERE id = ?", (conversation_id,))
            if not rows:
                raise DuetError(f"no conversation {conversation_id} in the history; see: duet history list")
            turn_rows = self._read("SELECT * FROM turns WHERE conversation_id = ? ORDER BY seq", (conversation_id,))
            pane_rows = self._read(
                """SELECT p.* FROM turn_panes p JOIN turns t ON t.id = p.turn_id
                   WHERE t.conversation_id = ? ORDER BY t.seq, p.position""",
                (conversation_id,),
            )
        panes_by_turn: dict[int, list[dict]] = {}
        for p in pane_rows:
            panes_by_turn.setdefault(p["turn_id"], []).append(pane_dict(p))
        conversation = conversation_dict(rows[0], len(turn_rows))
        conversation["turns"] = [turn_dict(t, panes_by_turn.get(t["id"], [])) for t in turn_rows]
        return conversation

    # -- resuming ----------------------------------------------------------------------------
    def exchanges(self, conversation: int | dict) -> dict[str, list[Exchange]]:
        """Per pane role, the exchanges chat mode sends when the conversation goes on (failed
        turns left out, stopped ones kept with their partial text, as PaneSession.history does)."""
        return resume.exchanges(self.get(conversation) if isinstance(conversation, int) else conversation)

    def restore_turns(self, conversation: int | dict) -> dict[str, list[Turn]]:
        """Per pane role, the stored turns as models.session.Turn objects, ready to become a
        PaneSession's ``turns`` so the app can show and continue the conversation."""
        return resume.restore_turns(self.get(conversation) if isinstance(conversation, int) else conversation)


def _too_large(params: tuple) -> str:
    return next((str(p) for p in params if isinstance(p, int) and not -(2**63) <= p < 2**63), "a number")


def _inserted_id(cursor: sqlite3.Cursor) -> int:
    row_id = cursor.lastrowid
    assert row_id is not None  # every INSERT into a rowid table sets it
    return row_id


def _insert_conversation(
    conn: sqlite3.Connection, panes: list[dict], kind: str, title: str | None, meta: dict | None, at: float | None
) -> int:
    now = at if at is not None else time.time()
    cursor = conn.execute(
        "INSERT INTO conversations (started_at, updated_at, title, panes, kind, meta) VALUES (?, ?, ?, ?, ?, ?)",
        (now, now, title, pane_list(panes), kind, json.dumps(meta or {})),
    )
    return _inserted_id(cursor)


def _insert_turn(
    conn: sqlite3.Connection,
    conversation_id: int,
    prompt: str,
    panes: list[dict],
    label: str | None,
    at: float | None,
    replace_last: bool,
) -> int:
    """A turn and its panes, in the caller's transaction; its number in the conversation."""
    now = at if at is not None else time.time()
    title = _stored_title(conn, conversation_id)
    seq = _make_room_for_turn(conn, conversation_id, prompt, replace_last)
    turn_id = _inserted_id(
        conn.execute(
            "INSERT INTO turns (conversation_id, seq, prompt, created_at, label) VALUES (?, ?, ?, ?, ?)",
            (conversation_id, seq, prompt, now, label),
        )
    )
    for position, pane in enumerate(panes):
        conn.execute(INSERT_PANE, pane_row(turn_id, position, pane))
    conn.execute(
        "UPDATE conversations SET updated_at = ?, title = ?, panes = ? WHERE id = ?",
        (max(now, time.time()), title or title_from(prompt), pane_list(panes), conversation_id),
    )
    return seq


def _stored_title(conn: sqlite3.Connection, conversation_id: int) -> str | None:
    """The conversation's title so far (None until it has one); DuetError if it does not exist."""
    row = conn.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    if row is None:
        raise DuetError(f"no conversation {conversation_id} in the history")
    return row[0]


def _make_room_for_turn(conn: sqlite3.Connection, conversation_id: int, prompt: str, replace_last: bool) -> int:
    """The number a new turn gets: the one after the last turn, or with ``replace_last`` the last
    turn's own when that turn asked the same prompt (it is deleted here, in the caller's
    transaction)."""
    last = conn.execute(
        "SELECT id, seq, prompt FROM turns WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1",
        (conversation_id,),
    ).fetchone()
    last_id, last_seq, last_prompt = last or (None, 0, None)
    if replace_last and last_id is not None and last_prompt == prompt:
        conn.execute("DELETE FROM turns WHERE id = ?", (last_id,))  # its turn_panes cascade
        return last_seq
    return last_seq + 1
