"""Opening the history database file: private, crash-safe, checked, migrated.

WAL journal with synchronous=FULL: once a transaction commits, it survives a crash or ``kill -9``
of the process. The database file (and its -wal/-shm companions) is readable by its owner only.
A file that is not a readable SQLite database is moved aside as ``history.db.corrupt-<timestamp>``
(never overwritten) and a fresh database is started in its place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from models.errors import DuetError
from models.store.private_files import make_private
from models.store.schema import SCHEMA_VERSION, migrate

_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26


def is_read_only(path: Path) -> bool:
    """An existing database this user may read but not write (its file or its folder)."""
    return (
        path.is_file()
        and os.access(path, os.R_OK)
        and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK))
    )


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing database that cannot be written, for listing and
    showing it (nothing is migrated, moved aside or created). DuetError when it cannot be read."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=10)
    except sqlite3.DatabaseError as err:
        raise DuetError(f"cannot open the read-only history database {path} ({err})") from None
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise DuetError(
                f"the history database {path} is read-only and has schema {version}, not {SCHEMA_VERSION}: "
                "Duet cannot upgrade it; make it writable (chmod u+w) once, or set DUET_DATA_DIR elsewhere"
            )
    except sqlite3.DatabaseError as err:
        conn.close()
        raise DuetError(f"cannot read the read-only history database {path} ({err})") from None
    except DuetError:
        conn.close()
        raise
    return conn


def open_database(path: Path) -> tuple[sqlite3.Connection, Path | None]:
    """A connection to the database at ``path`` (created when missing), and where a corrupt
    database found there was moved aside (None when there was none). DuetError (one line) when
    it cannot be created or opened."""
    try:
        return _connect(path), None
    except sqlite3.DatabaseError as err:
        if not _is_corruption(err):
            raise DuetError(f"cannot open the history database {path} ({err})") from None
    set_aside = _move_corrupt_aside(path)
    try:
        return _connect(path), set_aside
    except sqlite3.DatabaseError as err:
        raise DuetError(f"cannot open the history database {path} ({err})") from None


def database_files(path: Path) -> list[Path]:
    """The database file and the -wal and -shm companions SQLite keeps next to it."""
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]


def _connect(path: Path) -> sqlite3.Connection:
    _create_private_file(path)
    make_private(database_files(path))
    old_umask = os.umask(0o077)  # the -wal and -shm files SQLite creates must be private too
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            migrate(conn, path)
        except BaseException:
            conn.close()
            raise
    finally:
        os.umask(old_umask)
    make_private(database_files(path))
    return conn


def _create_private_file(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError as err:
        raise DuetError(
            f"cannot create the history database {path} ({err.strerror}); set DUET_DATA_DIR to a writable folder"
        ) from None


def _is_corruption(err: sqlite3.DatabaseError) -> bool:
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    message = str(err).lower()
    return "not a database" in message or "malformed" in message


def _move_corrupt_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = Path(f"{path}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = Path(f"{path}.corrupt-{stamp}-{n}")
    try:
        os.replace(path, target)
        for suffix in ("-wal", "-shm"):
            companion = Path(f"{path}{suffix}")
            if companion.exists():
                os.replace(companion, Path(f"{target}{suffix}"))
    except OSError as err:
        raise DuetError(
            f"the history database {path} is corrupt and could not be moved aside "
            f"({err.strerror}); move it away by hand"
        ) from None
    return target
