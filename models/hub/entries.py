"""The catalog with its cache state: CatalogEntry, what the model screen and `duet models list` show."""

from __future__ import annotations

import os
from dataclasses import dataclass

from models.files.catalog import Catalog, CatalogModel
from models.hub.cache import FileStatus, file_status
from models.hub.disk import format_bytes

# What the model screen suggests while the embedded pair (two families) is open: the smallest pair
# of one family, so that the first download shows a real before/after.
FIRST_PAIR = "smollm2-135m"


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
    def approximate(self) -> bool:
        """Whether size and RAM rest on an approximate catalog size (not installed yet)."""
        return self.model.size_approximate and not self.status.size_on_disk

    def shown(self, n: int) -> str:
        """A byte count of this entry as text: '~' in front when it rests on an approximate size."""
        return ("~" if self.approximate else "") + format_bytes(n)

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
            "size_approximate": self.approximate,
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


def first_pull_suggestion(sources: list[str], entries: list[CatalogEntry]) -> str | None:
    """One line recommending FIRST_PAIR while a pane runs an embedded model and the pair is not
    downloaded yet (None otherwise)."""
    from models.files.catalog import load_catalog

    catalog = load_catalog()

    def embedded(source: str) -> bool:
        model = catalog.find_model(source.strip())
        return source.strip().startswith("embedded:") or (model is not None and model.embedded is not None)

    pair = [e for e in entries if e.model.pair == FIRST_PAIR]
    if not any(embedded(s) for s in sources) or not pair or all(e.state == "installed" for e in pair):
        return None
    size = pair[0].shown(sum(e.size for e in pair))
    return (
        f"The built-in pair is two families. For a real before/after, pull {FIRST_PAIR} "
        f"(SmolLM2 135M base and Instruct, one tokenizer, {size}): highlighted below, p pulls it."
    )
