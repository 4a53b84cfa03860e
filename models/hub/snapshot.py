"""Putting a verified blob in place: the snapshot link and the revision ref, in huggingface_hub's layout.

``models--OWNER--REPO/snapshots/<commit>/<file>`` is a relative symlink to ``blobs/<etag>`` (a copy
where the file system has no symlinks) and ``refs/<revision>`` holds the commit hash, exactly as
``hf_hub_download`` leaves them, so huggingface_hub's own cache functions read what Duet wrote.
Duet writes them itself rather than calling ``hf_hub_download``: that call asks the hub again and
names the blob after the second answer's ETag without checking it. Here every part of every path
was validated first (models/files/hub_spec.py: the spec, and the hub's commit and ETag), and each
path is checked once more to be inside the repository's cache folder before anything is written.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from models.errors import DuetError
from models.files.hub_spec import HubFile, checked_answer


def inside(folder: Path, path: Path) -> Path:
    """``path``, after making sure it lies inside ``folder`` (lexically: the cache's own links are kept)."""
    base = os.path.abspath(folder)
    full = os.path.abspath(path)
    if os.path.commonpath([base, full]) != base or full == base:
        raise DuetError(f"refusing to write {full}: it is outside the hub cache folder {base}")
    return Path(full)


def link_into_snapshot(folder: Path, hub: HubFile, commit: str, etag: str) -> Path:
    """Link ``blobs/<etag>`` as ``hub``'s file in the ``commit`` snapshot and point the revision's ref at it."""
    commit, etag = checked_answer(hub.spec, commit, etag)
    blob = inside(folder, folder / "blobs" / etag)
    pointer = inside(folder, folder / "snapshots" / commit / Path(*hub.file.split("/")))
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if not (pointer.is_file() or pointer.is_symlink()):
        _link(blob, pointer)
    if hub.revision != commit:
        ref = inside(folder, folder / "refs" / Path(*hub.revision.split("/")))
        ref.parent.mkdir(parents=True, exist_ok=True)
        if not ref.is_file() or ref.read_text(encoding="utf-8") != commit:
            temporary = ref.with_name(f"{ref.name}.{uuid.uuid4().hex[:8]}.tmp")  # readers never see half a ref
            temporary.write_text(commit, encoding="utf-8")
            os.replace(temporary, ref)
    return pointer


def _link(blob: Path, pointer: Path) -> None:
    """A relative symlink (the cache can move), or a copy where symlinks are not allowed."""
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except OSError:
        shutil.copyfile(blob, pointer)
