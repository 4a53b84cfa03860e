"""Turn a model source string (what users type after --base/--chat) into a GGUF file on disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .embedded import EMBEDDED, embedded_path
from .errors import DuetError

EMBEDDED_PREFIX = "embedded:"


@dataclass(frozen=True)
class ResolvedSource:
    source: str  # as the user wrote it
    path: Path
    label: str  # short name for headers and reports


def resolve_source(source: str) -> ResolvedSource:
    """Locate the GGUF for ``source`` without touching the network; DuetError if it cannot be found."""
    source = source.strip()
    if not source:
        raise DuetError("the model source is empty; give embedded:NAME or a path to a .gguf file")
    if source.startswith(EMBEDDED_PREFIX):
        name = source[len(EMBEDDED_PREFIX):]
        path = embedded_path(name)
        return ResolvedSource(source, path, name)
    path = Path(source).expanduser()
    if not path.exists() and not source.lower().endswith(".gguf") and "/" not in source:
        known = ", ".join(f"{EMBEDDED_PREFIX}{n}" for n in EMBEDDED)
        raise DuetError(
            f"'{source}' is neither a .gguf file nor a known model; use a path to a .gguf file or one of {known}"
        )
    return ResolvedSource(source, path, path.name)
