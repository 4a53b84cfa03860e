"""Conversation history: every finished turn of every pane, kept in a private SQLite database.

One transaction per turn, WAL journal with synchronous=FULL: once ``add_turn`` returns, the turn
survives a crash or ``kill -9`` of the process. The database file (and its -wal/-shm companions)
is readable by its owner only. A file that is not a readable SQLite database is moved aside as
``history.db.corrupt-<timestamp>`` (never overwritten) and a fresh database is started; the store
says so in ``set_aside``. The schema is versioned with ``PRAGMA user_version`` and migrated forward
step by step, each step in its own transaction.

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

import platformdirs

from models.engines.base import RenderedPrompt
from models.errors import DuetError
from models.events import Metrics
from models.prompts import Exchange
from models.settings import SamplingSettings
from models.store.records import iso_time, pane_meta, pane_record, parse_time

DB_NAME = "history.db"
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

# Each migration takes the database from version (index) to version (index + 1).
# Version 1 was the first layout; version 2 added conversation kinds (app/ask/run) and free-form
# metadata, turn labels (which preset / repeat a batch turn was) and per-pane source, notices,
# prompt token count and total time.
MIGRATIONS: list[list[str]] = [
    [  # 0 -> 1
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            title TEXT,
            panes TEXT NOT NULL DEFAULT '[]'
        )""",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            prompt TEXT NOT NULL,
            created_at REAL NOT NULL,
            UNIQUE (conversation_id, seq)
        )""",
        """CREATE TABLE turn_panes (
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            role TEXT NOT NULL,
            model TEXT NOT NULL,
            mode TEXT NOT NULL,
            rendered_prompt TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            error TEXT,
            ttft_s REAL NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0,
            tokens_per_s REAL NOT NULL DEFAULT 0,
            stop_reason TEXT NOT NULL,
            sampling TEXT NOT NULL DEFAULT '{}',
            started_at REAL,
            finished_at REAL,
            PRIMARY KEY (turn_id, position)
        )""",
    ],
    [  # 1 -> 2
        "ALTER TABLE conversations ADD COLUMN kind TEXT NOT NULL DEFAULT 'app'",
        "ALTER TABLE conversations ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE turns ADD COLUMN label TEXT",
        "ALTER TABLE turn_panes ADD COLUMN source TEXT",
        "ALTER TABLE turn_panes ADD COLUMN notices TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE turn_panes ADD COLUMN prompt_tokens INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE turn_panes ADD COLUMN total_s REAL NOT NULL DEFAULT 0",
        "CREATE INDEX conversations_by_update ON conversations (updated_at)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def data_dir() -> Path:
    """Where Duet keeps user data; DUET_DATA_DIR overrides the platform's user data dir."""
    override = os.environ.get("DUET_DATA_DIR")
    return Path(override).expanduser() if override else Path(platformdirs.user_data_dir("duet"))


def default_db_path() -> Path:
    return data_dir() / DB_NAME


def write_private(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path``, creating it readable by its owner only (0600)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as err:
        raise DuetError(f"cannot write {path} ({err.strerror}); pick a writable location") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        with contextlib.suppress(OSError):
            os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
        out.write(text)


def _is_corruption(err: sqlite3.DatabaseError) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    message = str(err).lower()
    return "not a database" in message or "malformed" in message


class HistoryStore:
    """The conversation history database. Thread-safe; one instance per process is enough.

    ``path`` defaults to ``default_db_path()``. Raises DuetError (one line) when the database
    cannot be created or opened.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_db_path()
        self.set_aside: Path | None = None  # where a corrupt database was moved, if one was
        self._lock = threading.RLock()
        self._conn = self._open()

    # -- opening -----------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            if not _is_corruption(err):
                raise DuetError(f"cannot open the history database {self.path} ({err})") from None
        self.set_aside = self._move_corrupt_aside()
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            raise DuetError(f"cannot open the history database {self.path} ({err})") from None

    def _connect(self) -> sqlite3.Connection:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
        except OSError as err:
            raise DuetError(
                f"cannot create the history database {self.path} ({err.strerror}); "
                "set DUET_DATA_DIR to a writable folder"
            ) from None
        self._make_private()
        old_umask = os.umask(0o077)  # the -wal and -shm files SQLite creates must be private too
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA secure_delete=ON")
                check = conn.execute("PRAGMA quick_check").fetchone()
                if not check or check[0] != "ok":
                    raise sqlite3.DatabaseError("database disk image is malformed")
                self._migrate(conn)
            except BaseException:
                conn.close()
                raise
        finally:
            os.umask(old_umask)
        self._make_private()
        return conn

    def _make_private(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            companion = Path(f"{self.path}{suffix}")
            with contextlib.suppress(OSError):
                if companion.exists() and companion.stat().st_mode & 0o077:
                    os.chmod(companion, 0o600)

    def _move_corrupt_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = Path(f"{self.path}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = Path(f"{self.path}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.path, target)
            for suffix in ("-wal", "-shm"):
                companion = Path(f"{self.path}{suffix}")
                if companion.exists():
                    os.replace(companion, Path(f"{target}{suffix}"))
        except OSError as err:
            raise DuetError(
                f"the history database {self.path} is corrupt and could not be moved aside "
                f"({err.strerror}); move it away by hand"
            ) from None
        return target

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DuetError(
                f"the history database {self.path} was written by a newer Duet (schema {version}, "
                f"this one knows up to {SCHEMA_VERSION}); upgrade Duet or set DUET_DATA_DIR elsewhere"
            )
        while version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    version += 1
                    conn.execute(f"PRAGMA user_version = {version}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise DuetError("the history database is closed")
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
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        self._make_private()

    def _read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._conn is None:
                raise DuetError("the history database is closed")
            try:
                cursor = self._conn.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return cursor.fetchall()
            except sqlite3.DatabaseError as err:
                raise DuetError(f"cannot read the history database {self.path} ({err})") from None

    @property
    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

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
        now = started_at if started_at is not None else time.time()
        pane_list = [{k: p.get(k) for k in ("role", "model", "mode", "source")} for p in panes]
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (started_at, updated_at, title, panes, kind, meta) VALUES (?, ?, ?, ?, ?, ?)",
                (now, now, title, json.dumps(pane_list), kind, json.dumps(meta or {})),
            )
            return cursor.lastrowid

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
        now = created_at if created_at is not None else time.time()
        with self._transaction() as conn:
            row = conn.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                raise DuetError(f"no conversation {conversation_id} in the history")
            last = conn.execute(
                "SELECT id, seq, prompt FROM turns WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
            last_id, last_seq, last_prompt = last or (None, 0, None)
            seq = last_seq + 1
            if replace_last and last_id is not None and last_prompt == prompt:
                conn.execute("DELETE FROM turns WHERE id = ?", (last_id,))  # its turn_panes cascade
                seq = last_seq
            turn_id = conn.execute(
                "INSERT INTO turns (conversation_id, seq, prompt, created_at, label) VALUES (?, ?, ?, ?, ?)",
                (conversation_id, seq, prompt, now, label),
            ).lastrowid
            for position, pane in enumerate(panes):
                metrics = pane.get("metrics") or {}
                conn.execute(
                    """INSERT INTO turn_panes (turn_id, position, role, model, mode, rendered_prompt, text,
                       error, ttft_s, tokens, tokens_per_s, stop_reason, sampling, started_at, finished_at,
                       source, notices, prompt_tokens, total_s)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        turn_id,
                        position,
                        pane["role"],
                        pane["model"],
                        pane["mode"],
                        pane.get("prompt") or "",
                        pane.get("text") or "",
                        pane.get("error"),
                        float(metrics.get("ttft_s", 0.0)),
                        int(metrics.get("tokens", 0)),
                        float(metrics.get("tokens_per_s", 0.0)),
                        metrics.get("stop_reason", "error"),
                        json.dumps(pane.get("sampling") or {}),
                        _epoch(pane.get("started_at")),
                        _epoch(pane.get("finished_at")),
                        pane.get("source"),
                        json.dumps(list(pane.get("notices") or [])),
                        int(metrics.get("prompt_tokens", 0)),
                        float(metrics.get("total_s", 0.0)),
                    ),
                )
            title = row[0] or _title_from(prompt)
            pane_list = [{k: p.get(k) for k in ("role", "model", "mode", "source")} for p in panes]
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = ?, panes = ? WHERE id = ?",
                (max(now, time.time()), title, json.dumps(pane_list), conversation_id),
            )
            return seq

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
        return [self._conversation_dict(row, row["turn_count"]) for row in self._read(sql, params)]

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
            panes_by_turn.setdefault(p["turn_id"], []).append(_pane_dict(p))
        conversation = self._conversation_dict(rows[0], len(turn_rows))
        conversation["turns"] = [
            {
                "seq": t["seq"],
                "prompt": t["prompt"],
                "label": t["label"],
                "created": iso_time(t["created_at"]),
                "panes": panes_by_turn.get(t["id"], []),
            }
            for t in turn_rows
        ]
        return conversation

    @staticmethod
    def _conversation_dict(row: sqlite3.Row, turn_count: int) -> dict:
        panes = json.loads(row["panes"] or "[]")
        return {
            "id": row["id"],
            "kind": row["kind"],
            "title": row["title"] or "",
            "started": iso_time(row["started_at"]),
            "updated": iso_time(row["updated_at"]),
            "models": {p["role"]: p["model"] for p in panes},
            "panes": panes,
            "turn_count": turn_count,
            "meta": json.loads(row["meta"] or "{}"),
        }

    # -- resuming ----------------------------------------------------------------------------
    def exchanges(self, conversation: int | dict) -> dict[str, list[Exchange]]:
        """Per pane role, the exchanges chat mode sends when the conversation goes on (failed
        turns left out, stopped ones kept with their partial text, as PaneSession.history does)."""
        conversation = self.get(conversation) if isinstance(conversation, int) else conversation
        result: dict[str, list[Exchange]] = {}
        for turn in conversation["turns"]:
            for pane in turn["panes"]:
                bucket = result.setdefault(pane["role"], [])
                if pane["error"] is None:
                    bucket.append(Exchange(turn["prompt"], pane["text"]))
        return result

    def restore_turns(self, conversation: int | dict):
        """Per pane role, the stored turns as models.session.Turn objects, ready to become a
        PaneSession's ``turns`` so the app can show and continue the conversation."""
        from models.session import Turn

        conversation = self.get(conversation) if isinstance(conversation, int) else conversation
        result: dict[str, list[Turn]] = {}
        for turn in conversation["turns"]:
            for pane in turn["panes"]:
                m = pane["metrics"]
                sampling_values = {
                    k: v for k, v in (pane.get("sampling") or {}).items() if k in SamplingSettings.model_fields
                }
                try:
                    sampling = SamplingSettings(**sampling_values)
                except ValueError:
                    sampling = SamplingSettings()
                restored = Turn(
                    prompt=turn["prompt"],
                    mode=pane["mode"],
                    sampling=sampling,
                    rendered=RenderedPrompt(
                        mode=pane["mode"],
                        text=pane["prompt"],
                        token_count=m.get("prompt_tokens", 0),
                        context_used=0,
                        dropped_turns=0,
                    ),
                    text=pane["text"],
                    metrics=Metrics(
                        ttft_s=m["ttft_s"],
                        tokens=m["tokens"],
                        tokens_per_s=m["tokens_per_s"],
                        stop_reason=m["stop_reason"],
                        prompt_tokens=m.get("prompt_tokens", 0),
                        total_s=m.get("total_s", 0.0),
                    ),
                    error=pane["error"],
                    notices=list(pane.get("notices") or []),
                    started_at=parse_time(pane.get("started_at")) or parse_time(turn["created"]) or 0.0,
                    finished_at=parse_time(pane.get("finished_at")),
                )
                result.setdefault(pane["role"], []).append(restored)
        return result


def _pane_dict(p: sqlite3.Row) -> dict:
    return {
        "role": p["role"],
        "model": p["model"],
        "mode": p["mode"],
        "prompt": p["rendered_prompt"],
        "text": p["text"],
        "error": p["error"],
        "metrics": {
            "ttft_s": p["ttft_s"],
            "tokens": p["tokens"],
            "tokens_per_s": p["tokens_per_s"],
            "stop_reason": p["stop_reason"],
            "prompt_tokens": p["prompt_tokens"],
            "total_s": p["total_s"],
        },
        "source": p["source"],
        "sampling": json.loads(p["sampling"] or "{}"),
        "notices": json.loads(p["notices"] or "[]"),
        "started_at": iso_time(p["started_at"]),
        "finished_at": iso_time(p["finished_at"]),
    }


def _epoch(value) -> float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    return parse_time(value)


def _title_from(prompt: str) -> str:
    first = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    return first if len(first) <= 60 else first[:59] + "…"
