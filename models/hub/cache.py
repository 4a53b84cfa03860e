"""The local hub cache: where it is, which files it holds, and the partial downloads left in it.

Everything here is offline: a few stat calls and small JSON reads, never a network request.
A partial download is ``blobs/<etag>.incomplete`` beside a ``.incomplete.json`` note that says
which repository file and revision it belongs to (see models/hub/download.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from models.files.hub_spec import HubFile

PARTIAL_SUFFIX = ".incomplete"
NOTE_SUFFIX = ".incomplete.json"


def hub_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The hub cache in use: ``cache_dir`` or huggingface_hub's (HF_HUB_CACHE, else HF_HOME/hub)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def repo_folder(hub: HubFile, cache_dir: Path) -> Path:
    """The cache folder of ``hub``'s repository (``models--OWNER--NAME``)."""
    return cache_dir / ("models--" + hub.repo.replace("/", "--"))


def cached_path(hub: HubFile, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cached file for ``hub`` (its snapshot path), or None; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(
            hub.repo, hub.file, cache_dir=str(hub_cache_dir(cache_dir)), revision=hub.revision
        )
    except ValueError:  # a file name the hub client refuses (e.g. '..' in it)
        return None
    if isinstance(found, str) and os.path.isfile(found):
        return Path(found)
    return None


@dataclass(frozen=True)
class PartialDownload:
    path: Path
    note: Path
    etag: str
    size: int  # the whole file's size
    done: int  # bytes already on disk


def partial_download(hub: HubFile, cache_dir: str | os.PathLike | None = None) -> PartialDownload | None:
    """An interrupted pull of ``hub`` that the next pull will resume, if there is one."""
    found = partials(hub, hub_cache_dir(cache_dir))
    return max(found, key=lambda p: p.done) if found else None


def partial_bytes(hub: HubFile, cache_dir: str | os.PathLike | None = None) -> int:
    """Bytes of an interrupted pull of ``hub`` waiting to be resumed (0 when there is none)."""
    partial = partial_download(hub, cache_dir)
    return partial.done if partial else 0


def partials(hub: HubFile, cache_dir: Path) -> list[PartialDownload]:
    """Every partial download of ``hub`` at its revision (several when the file changed on the hub)."""
    blobs = repo_folder(hub, cache_dir) / "blobs"
    found = []
    for note in blobs.glob("*" + NOTE_SUFFIX) if blobs.is_dir() else []:
        try:
            data = json.loads(note.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("file") != hub.file or data.get("revision") != hub.revision:
            continue
        partial = note.with_name(note.name[: -len(".json")])
        done = partial.stat().st_size if partial.is_file() else 0
        found.append(PartialDownload(partial, note, str(data.get("etag")), int(data.get("size") or 0), done))
    return found


def file_size(path: Path) -> int:
    """The size of ``path``, 0 when it is not there."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def discard_partial(partial: Path, note: Path) -> None:
    """Delete a partial download and its note, so the next pull starts from zero."""
    partial.unlink(missing_ok=True)
    note.unlink(missing_ok=True)


@dataclass(frozen=True)
class FileStatus:
    installed: bool
    path: Path | None  # the file to load, when installed
    size_on_disk: int | None  # its real size, when installed
    partial_bytes: int  # bytes of an interrupted pull waiting to be resumed


def file_status(hub: HubFile, cache_dir: str | os.PathLike | None = None) -> FileStatus:
    path = cached_path(hub, cache_dir)
    if path is not None:
        return FileStatus(True, path, path.stat().st_size, 0)
    partial = partial_download(hub, cache_dir)
    return FileStatus(False, None, None, partial.done if partial else 0)
