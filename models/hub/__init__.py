"""Hugging Face hub files: find them in the cache offline, download them, and delete them.

Everything goes through ``huggingface_hub`` and its standard cache (HF_HOME / HF_HUB_CACHE,
HF_ENDPOINT and HF_TOKEN are honoured), imported inside functions only, so that the CLI can set
HF_HUB_OFFLINE before the first import.

The modules, by what they hold:

- cache: where the cache is, the cached file of a HubFile, partial downloads, a file's status;
- pulling: ``pull`` (ask the hub, download, link into the snapshot), with download (the
  resumable, verified transfer of one blob; how resuming works is told there), progress
  (PullProgress and the file wrapper that counts, hashes and cancels), hashing (ETag digests),
  disk (free space) and errors (one actionable line per failure);
- removal: ``remove``; entries: CatalogEntry and ``catalog_entries`` for the model screen.

The modules are not named after the functions (pulling, not pull) so that ``models.hub.pull``
is always the function and a dotted path such as ``models.hub.pulling.check_disk_space`` always
reaches the module. The names below are re-exported for ``from models import hub; hub.pull(...)``.
A test that replaces a function must patch it in the module that calls it
(``models.hub.disk.free_space``), not here: patching this package's attribute would not reach
the callers.
"""

from models.hub.cache import (
    NOTE_SUFFIX,
    PARTIAL_SUFFIX,
    FileStatus,
    PartialDownload,
    cached_path,
    file_status,
    hub_cache_dir,
    partial_download,
)
from models.hub.disk import check_disk_space, format_bytes, free_space
from models.hub.entries import FIRST_PAIR, CatalogEntry, catalog_entries, first_pull_suggestion
from models.hub.errors import DownloadCancelled, explain_hub_error
from models.hub.progress import ProgressCallback, PullProgress
from models.hub.pulling import PullResult, pull
from models.hub.removal import Removed, remove

__all__ = [
    "NOTE_SUFFIX",
    "PARTIAL_SUFFIX",
    "FIRST_PAIR",
    "CatalogEntry",
    "DownloadCancelled",
    "FileStatus",
    "PartialDownload",
    "ProgressCallback",
    "PullProgress",
    "PullResult",
    "Removed",
    "cached_path",
    "catalog_entries",
    "check_disk_space",
    "explain_hub_error",
    "file_status",
    "first_pull_suggestion",
    "format_bytes",
    "free_space",
    "hub_cache_dir",
    "partial_download",
    "pull",
    "remove",
]
