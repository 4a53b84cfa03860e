"""The catalog with its cache state: CatalogEntry, what the model screen and `duet models list` show."""

from __future__ import annotations

import os
from dataclasses import dataclass

from models.files.catalog import Catalog, CatalogModel
from models.hub.cache import FileStatus, file_status


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog model as the model screen and `duet models list` show it."""

    model: CatalogModel
    status: FileStatus
    n_ctx: int

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def state(self) -> str:
        """ "built-in", "installed", "partial NN%" or "not downloaded"."""
        if self.model.embedded is not None:
            return "built-in"
        if self.status.installed:
            return "installed"
        if self.status.partial_bytes:
            return f"partial {min(99, 100 * self.status.partial_bytes // self.model.size)}%"
        return "not downloaded"

    @property
    def size(self) -> int:
        """The real size once installed, else the catalog's estimate."""
        return self.status.size_on_disk or self.model.size

    @property
    def kv_cache_bytes(self) -> int:
        return self.model.kv_cache_bytes(self.n_ctx)

    @property
    def ram_bytes(self) -> int:
        return self.size + self.kv_cache_bytes

    def as_dict(self) -> dict:
        m = self.model
        return {
            "name": m.name,
            "pair": m.pair,
            "role": m.role,
            "title": m.title,
            "origin": m.origin,
            "repo": m.repo,
            "file": m.file,
            "revision": m.revision if m.repo else None,
            "embedded": m.embedded,
            "architecture": m.architecture,
            "context_length": m.context_length,
            "size": self.size,
            "catalog_size": m.size,
            "installed": self.status.installed or m.embedded is not None,
            "state": self.state,
            "partial_bytes": self.status.partial_bytes,
            "path": str(self.status.path) if self.status.path else None,
            "n_ctx": self.n_ctx,
            "kv_cache_bytes": self.kv_cache_bytes,
            "ram_bytes": self.ram_bytes,
            "gated": m.gated,
            "licence": m.licence,
            "mode": m.mode,
            "chat_format": m.chat_format,
            "notes": m.notes,
        }


def catalog_entries(
    n_ctx: int | None = None, cache_dir: str | os.PathLike | None = None, catalog: Catalog | None = None
) -> list[CatalogEntry]:
    """Every catalog model, pairs first (base then chat), with its state in the local cache.

    Offline and cheap (a few stat calls per entry): fine to call from a UI thread.
    """
    from models.files.catalog import load_catalog
    from models.settings import DEFAULT_N_CTX

    catalog = catalog or load_catalog()
    n_ctx = n_ctx or DEFAULT_N_CTX
    entries = []
    for model in catalog.all_models():
        hub = model.hub_file
        status = file_status(hub, cache_dir) if hub else FileStatus(False, None, None, 0)
        entries.append(CatalogEntry(model, status, n_ctx))
    return entries
