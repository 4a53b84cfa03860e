"""Disk space for downloads: how much is free, refusing a pull that would not fit, and byte counts as text."""

from __future__ import annotations

import shutil
from pathlib import Path

from models.errors import DuetError


def free_space(directory: Path) -> int:
    """Free bytes on the disk that holds ``directory`` (or its nearest existing parent)."""
    for path in [directory, *directory.parents]:
        try:
            return shutil.disk_usage(path).free
        except OSError:
            continue
    return 0


def check_disk_space(
    name: str, needed: int, directory: Path, free_bytes: int | None = None, approximate: bool = False
) -> None:
    """DuetError when ``needed`` bytes do not fit; ``free_bytes`` replaces the measured free space;
    ``approximate``: ``needed`` rests on an approximate catalog size, and the message says so."""
    free = free_space(directory) if free_bytes is None else free_bytes
    if needed > free:
        about = "about " if approximate else ""
        raise DuetError(
            f"not enough disk space for {name}: it needs {about}{format_bytes(needed)} but only {format_bytes(free)} "
            f"is free in {directory}; free some space or point HF_HUB_CACHE at a bigger disk"
        )


def format_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
