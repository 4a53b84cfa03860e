"""Checking a download against the hub's ETag: which digest an ETag is, and hashing a file or its start.

The ETag of an LFS file is its sha256, which can be computed while the bytes arrive; a plain git
file's ETag is its git blob id, a sha1 over a header with the length, so it is hashed afterwards.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

SHA256 = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_READ_SIZE = 8 * 1024 * 1024  # read size when hashing a file already on disk


class Hasher(Protocol):
    """What a transfer needs of a hashlib hash."""

    @property
    def name(self) -> str: ...

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


def etag_kind(etag: str) -> str:
    """How ``etag`` is checked, in words: "sha256" or "git blob id"."""
    return "sha256" if SHA256.match(etag) else "git blob id"


def new_hasher(etag: str) -> Hasher | None:
    """A hash to feed while the bytes arrive, or None when it can only be computed afterwards."""
    if SHA256.match(etag):
        return hashlib.sha256()
    if GIT_SHA1.match(etag):
        return None  # a git blob id needs the length first: hashed after the transfer
    return None


def resume_hasher(etag: str, partial: Path, resume: int) -> Hasher | None:
    """``new_hasher`` already fed with the ``resume`` bytes of ``partial`` that a resumed transfer keeps."""
    hasher = new_hasher(etag)
    if hasher is not None and resume:
        with partial.open("rb") as src:
            while block := src.read(_READ_SIZE):
                hasher.update(block)
    return hasher


def hash_file(path: Path, etag: str, on_bytes: Callable[[int], None] | None = None) -> str | None:
    """The file's digest in the ETag's form (sha256, or a git blob sha1), or None if unknown."""
    if SHA256.match(etag):
        digest = hashlib.sha256()
    elif GIT_SHA1.match(etag):
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    else:
        return None
    done = 0
    with path.open("rb") as src:
        while block := src.read(_READ_SIZE):
            digest.update(block)
            done += len(block)
            if on_bytes:
                on_bytes(done)
    return digest.hexdigest()
