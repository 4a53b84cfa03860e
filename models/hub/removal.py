"""Removing: delete what a spec names from the hub cache, and nothing that another file still needs."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from models.errors import DuetError
from models.files.catalog import targets_for
from models.files.hub_spec import HubFile
from models.hub.cache import discard_partial, file_size, hub_cache_dir, partials, repo_folder


@dataclass(frozen=True)
class Removed:
    name: str
    freed_bytes: int
    paths: tuple[Path, ...]


def remove(spec: str, cache_dir: str | os.PathLike | None = None) -> list[Removed]:
    """Delete what ``spec`` names from the hub cache (its snapshot links, blobs and partial pulls).

    A blob that another snapshot file still links to is kept. Nothing outside the repository's
    cache folder is touched; a repository folder left without any file is removed entirely.
    """
    targets = [(t.name, t.hub) for t in targets_for(spec) if t.hub is not None]
    if not targets:
        raise DuetError(f"{spec} ships inside Duet's packages and cannot be removed")
    cache = hub_cache_dir(cache_dir)
    return [_remove_file(name, hub, cache) for name, hub in targets]


def _remove_file(name: str, hub: HubFile, cache: Path) -> Removed:
    folder = repo_folder(hub, cache)
    snapshots = folder / "snapshots"
    relative = Path(*hub.file.split("/"))
    removed: list[Path] = []
    freed = 0
    pointers = [s / relative for s in snapshots.iterdir()] if snapshots.is_dir() else []
    pointers = [p for p in pointers if p.is_symlink() or p.is_file()]
    blobs: set[Path] = set()
    for pointer in pointers:
        if pointer.is_symlink():
            target = (pointer.parent / os.readlink(pointer)).resolve()
            if target.parent.resolve() == (folder / "blobs").resolve():
                blobs.add(target)
        else:  # a copy (no symlink support on this system)
            freed += pointer.stat().st_size
        pointer.unlink()
        removed.append(pointer)
    still_linked = _linked_blobs(folder)
    for blob in blobs:
        if blob not in still_linked and blob.is_file():
            freed += blob.stat().st_size
            blob.unlink()
            removed.append(blob)
    for stale in partials(hub, cache):
        freed += file_size(stale.path)
        discard_partial(stale.path, stale.note)
        removed.append(stale.path)
    _prune_empty(snapshots)
    if (
        folder.is_dir()
        and not _linked_blobs(folder)
        and not any(p.is_file() for p in (folder / "blobs").glob("*"))
        and not _has_files(snapshots)
    ):
        shutil.rmtree(folder, ignore_errors=True)
    return Removed(name, freed, tuple(removed))


def _linked_blobs(folder: Path) -> set[Path]:
    linked = set()
    snapshots = folder / "snapshots"
    for path in snapshots.rglob("*") if snapshots.is_dir() else []:
        if path.is_symlink():
            linked.add((path.parent / os.readlink(path)).resolve())
    return linked


def _has_files(directory: Path) -> bool:
    return directory.is_dir() and any(p.is_file() or p.is_symlink() for p in directory.rglob("*"))


def _prune_empty(directory: Path) -> None:
    """Remove empty folders below ``directory`` (deepest first), keeping ``directory`` itself."""
    if not directory.is_dir():
        return
    for path in sorted((p for p in directory.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir()
        except OSError:
            pass
