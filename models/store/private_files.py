"""Files only their owner can read (mode 0600): the history database, exports, reports, JSONL logs.

What Duet saves holds whatever the user typed and the models answered, so nothing it writes is
left readable by other users, whatever the umask.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from models.errors import DuetError


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path``, creating it readable by its owner only (0600)."""
    with _create_private(Path(path)) as out:
        out.write(text)


def open_private(path: str | os.PathLike[str]) -> TextIO:
    """``path`` created (or emptied) readable by its owner only (0600), open for writing as text,
    for a caller that appends to it as it goes (a JSONL line per finished run). Close it when done."""
    return _create_private(Path(path))


def make_private(paths: Iterable[Path]) -> None:
    """Take group and other permissions away from those of ``paths`` that exist and have any."""
    for path in paths:
        with contextlib.suppress(OSError):
            if path.exists() and path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)


def _create_private(path: Path) -> TextIO:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as err:
        raise DuetError(f"cannot write {path} ({err.strerror}); pick a writable location") from None
    out = os.fdopen(fd, "w", encoding="utf-8")
    with contextlib.suppress(OSError):
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode otherwise
    return out
