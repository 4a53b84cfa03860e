"""TOML, read within bounds: the one reader of every TOML file Duet reads (config.toml, presets.toml,
aligned.toml, the model catalog). tomllib from 3.11, the tomli backport on 3.10.

Before the parser sees a file its size and its nesting depth are checked: tomllib parses nested
arrays and inline tables recursively, so ``header = [[[[ ... ]]]]`` 500 deep, a 1 KB file, raised
RecursionError from every command; and a 50 MB config.toml took 35 s and 1.2 GB before a word.
The depth is counted by one linear scan that skips strings and comments (their brackets are text);
the parsed result's depth is checked again, without recursion, for dotted keys (``a.b.c.d = 1``
nests tables without a bracket).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from models.errors import DuetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11; vermin checks that nothing else needs it
    import tomli as tomllib

__all__ = ["MAX_DEPTH", "TomlFile", "parse_toml", "read_bounded", "read_toml", "tomllib"]

MAX_DEPTH = 20  # arrays, inline tables and tables inside each other; Duet's own files need 3
KB = 1024

# A string (basic, literal, multi-line of either), a comment, or a bracket; anything else is skipped.
_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''.*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[\]{}]",
    re.S,
)


@dataclass(frozen=True)
class TomlFile:
    data: dict
    source: str  # the text, for messages that name a line
    raw: bytes  # the bytes, for a digest


def size_text(size: int) -> str:
    return f"{size / KB / KB:.1f} MB" if size >= KB * KB else f"{max(1, size // KB)} KB"


def read_toml(path: str | Path, what: str, max_bytes: int) -> TomlFile:
    """``path`` read (at most ``max_bytes``), checked and parsed; ``what`` names it in every message
    ("presets file ~/x.toml"). A missing file is FileNotFoundError, for the caller to word."""
    try:
        raw = read_bounded(path, max_bytes)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DuetError(f"cannot read {what} ({err.strerror or err})") from None
    return parse_toml(raw, what, max_bytes)


def read_bounded(path: str | Path, max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of a regular file (so a caller can tell it is too long).

    Opened without blocking and refused unless it is a regular file: a FIFO would wait for a
    writer forever, and /dev/urandom never ends. OSError (FileNotFoundError for a missing one)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file but a FIFO, a device or a folder")
        return handle.read(max_bytes + 1)


def parse_toml(raw: bytes, what: str, max_bytes: int) -> TomlFile:
    """``raw`` (a TOML file's bytes) within ``max_bytes`` and MAX_DEPTH, parsed; DuetError in one line."""
    if len(raw) > max_bytes:
        raise DuetError(
            f"{what} is over {size_text(max_bytes)}, more than such a file needs; Duet does not read it "
            "(shorten it, or point Duet at the right file)"
        )
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DuetError(f"{what} is not UTF-8 text") from None
    deep = _too_deep_at(source)
    if deep is not None:
        raise DuetError(
            f"{what} nests arrays or tables more than {MAX_DEPTH} deep (line {deep}); "
            "no Duet setting needs that, so it is not read"
        )
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as err:
        raise DuetError(f"{what} is not valid TOML: {err}") from None
    if _depth(data) > MAX_DEPTH:
        raise DuetError(f"{what} nests tables more than {MAX_DEPTH} deep (dotted keys); it is not read")
    return TomlFile(data, source, raw)


def _too_deep_at(source: str) -> int | None:
    """The line where brackets first nest deeper than MAX_DEPTH, or None."""
    depth = 0
    for token in _TOKENS.finditer(source):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return source.count("\n", 0, token.start()) + 1
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def _depth(value: object) -> int:
    """How deep tables and arrays nest in parsed TOML, found with a stack rather than recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)
    return deepest
