"""Pulling: download what a spec names (a pair, a catalog model, an hf: spec) into the hub cache.

``pull`` asks the hub about each file, skips one that is already cached, has download.py
transfer (or resume) its blob, then links the blob into the snapshot and writes the revision ref
(snapshot.py), in the layout huggingface_hub itself uses. The hub's answer is untrusted: its
commit hash and ETag name files, so they are checked (models/files/hub_spec.py) before any path is built.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from models.errors import DuetError
from models.files.catalog import Target, targets_for
from models.files.hub_spec import HubFile, checked_answer
from models.hub.cache import cached_path, hub_cache_dir, partial_bytes, repo_folder
from models.hub.disk import check_disk_space
from models.hub.download import NOTHING_DOWNLOADED, Transfer, download_blob
from models.hub.errors import endpoint_url, explain_hub_error
from models.hub.progress import Emitter, ProgressCallback
from models.hub.snapshot import link_into_snapshot


@dataclass(frozen=True)
class PullResult:
    name: str
    path: Path
    size: int
    downloaded_bytes: int  # 0 when it was already in the cache
    resumed_from: int = 0
    verified: bool = False  # the sha256 (or git blob id) matched the hub's ETag


def pull(
    spec: str,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    cache_dir: str | os.PathLike | None = None,
    endpoint: str | None = None,
    token: str | bool | None = None,
    free_bytes: int | None = None,
    force_online: bool = False,
) -> list[PullResult]:
    """Download what ``spec`` names (a pair, a catalog model, or hf:OWNER/REPO/FILE.gguf[@REV]).

    Blocks until done; run it on a worker thread from a UI. ``on_progress`` gets PullProgress
    records from that thread; setting ``cancel`` stops the transfer within about a MiB of data,
    keeping the partial file for the next pull (DownloadCancelled is raised). ``free_bytes``
    overrides the measured free disk space (for tests). Raises DuetError with a one-line message.

    The app runs with HF_HUB_OFFLINE=1 (set by `duet` itself); ``force_online=True`` lifts it for
    this pull only, for a download the user explicitly asked for.
    """
    if force_online:
        with _online():
            return pull(
                spec,
                on_progress=on_progress,
                cancel=cancel,
                cache_dir=cache_dir,
                endpoint=endpoint,
                token=token,
                free_bytes=free_bytes,
            )
    targets = [(t, t.hub) for t in targets_for(spec) if t.hub is not None]
    if not targets:
        raise DuetError(f"{spec} ships inside Duet's packages; there is nothing to download")
    cache = hub_cache_dir(cache_dir)
    # A pair is refused up front when both files cannot fit, before the first one is fetched.
    missing = [(t, hub) for t, hub in targets if cached_path(hub, cache) is None]
    if len(missing) > 1:
        needed = sum((t.expected_size or 0) - partial_bytes(hub, cache) for t, hub in missing)
        approximate = any(t.model is not None and t.model.size_approximate for t, _hub in missing)
        check_disk_space(spec, needed, cache, free_bytes, approximate)
    transfer = Transfer(cache, cancel, endpoint, token, free_bytes)
    return [
        _pull_file(target, hub, transfer, Emitter(target.name, hub.file, index, len(targets), on_progress))
        for index, (target, hub) in enumerate(targets, 1)
    ]


_online_lock = threading.Lock()
_online_users = 0


class _online:
    """huggingface_hub's offline switch turned off while at least one forced pull runs."""

    _saved_global: ClassVar[bool] = False  # the switch as the first forced pull found it

    def __enter__(self) -> None:
        global _online_users
        from huggingface_hub import constants

        with _online_lock:
            if _online_users == 0:
                _online._saved_global = constants.HF_HUB_OFFLINE
            _online_users += 1
            constants.HF_HUB_OFFLINE = False

    def __exit__(self, *exc: object) -> None:
        global _online_users
        from huggingface_hub import constants

        with _online_lock:
            _online_users -= 1
            if _online_users == 0:
                constants.HF_HUB_OFFLINE = _online._saved_global


def _pull_file(target: Target, hub: HubFile, transfer: Transfer, emit: Emitter) -> PullResult:
    """Download one hub file (``target``'s) into the cache (resuming a partial one)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    name, cache, endpoint = target.name, transfer.cache, transfer.endpoint
    emit("checking")
    try:
        url = hf_hub_url(hub.repo, hub.file, revision=hub.revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=transfer.token, endpoint=endpoint)
    except Exception as err:  # every failure becomes one line; tracebacks are for bugs only
        raise explain_hub_error(err, name, hub, endpoint) from None
    if not meta.commit_hash or not meta.etag:
        raise DuetError(
            f"{endpoint_url(endpoint)} did not answer like a Hugging Face hub for {name} (no commit or ETag header); "
            "check HF_ENDPOINT and any proxy settings"
        )
    commit, etag = checked_answer(name, meta.commit_hash, meta.etag)
    size = meta.size
    folder = repo_folder(hub, cache)
    blob = folder / "blobs" / etag
    if cached_path(HubFile(hub.repo, hub.file, commit), cache) is not None or blob.is_file():
        done = NOTHING_DOWNLOADED
    else:
        done = download_blob(name, hub, url, meta, etag, blob, emit, transfer)
    try:
        path = link_into_snapshot(folder, hub, commit, etag)
    except OSError as err:
        raise DuetError(f"cannot put {name} into the hub cache {cache}: {err.strerror or err}") from None
    real_size = path.stat().st_size
    emit("done", real_size, size or real_size, cached=done.downloaded == 0 and done.resumed_from == 0)
    return PullResult(name, path, real_size, done.downloaded, done.resumed_from, done.verified)
