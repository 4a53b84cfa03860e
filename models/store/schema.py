"""The history database's tables, and the migrations that bring an older database up to date.

The schema is versioned with ``PRAGMA user_version`` and migrated forward step by step, each step
in its own transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from models.errors import DuetError

# Each migration takes the database from version (index) to version (index + 1).
# Version 1 was the first layout; version 2 added conversation kinds (app/ask/run) and free-form
# metadata, turn labels (which preset / repeat a batch turn was) and per-pane source, notices,
# prompt token count and total time. Version 3 keeps each answer's generated token ids (a JSON
# list, NULL when not known: older rows, server panes), so a reopened conversation's token-shift
# lens scores the same tokens. Version 4 keeps each answer's LoRA adapters and their scales (a
# JSON list of {source, scale}, NULL for none), which can change between turns. Version 5 keeps
# which prompt file an aligned-mode answer was made with (JSON {path, sha256}, NULL otherwise).
# Version 6 keeps an amplified pane's factor a and its two models (JSON {factor, tuned, base},
# models/amplify/records.py; NULL for every other pane).
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
    [  # 2 -> 3
        "ALTER TABLE turn_panes ADD COLUMN token_ids TEXT",
    ],
    [  # 3 -> 4
        "ALTER TABLE turn_panes ADD COLUMN adapters TEXT",
    ],
    [  # 4 -> 5
        "ALTER TABLE turn_panes ADD COLUMN prompt_file TEXT",
    ],
    [  # 5 -> 6
        "ALTER TABLE turn_panes ADD COLUMN amplify TEXT",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the database open on ``conn`` (the file ``path``) up to SCHEMA_VERSION.

    DuetError when a newer Duet wrote it; the database is then left as it is.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DuetError(
            f"the history database {path} was written by a newer Duet (schema {version}, "
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
