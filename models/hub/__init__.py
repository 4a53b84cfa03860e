"""Hugging Face hub files: find them in the cache offline, download them, and delete them.

Everything goes through ``huggingface_hub`` and its standard cache (HF_HOME / HF_HUB_CACHE,
HF_ENDPOINT and HF_TOKEN are honoured), imported inside functions only, so that the CLI can set
HF_HUB_OFFLINE before the first import.

Downloads resume across runs. huggingface_hub 2.x retries a dropped connection within one call
but throws away its temporary file when the call ends (Ctrl+C, a killed process, a connection
that stays down), so a pull keeps its own partial file next to the cache blobs,
``blobs/<etag>.incomplete`` with a ``.json`` note of what it belongs to, and continues it with a
Range request through huggingface_hub's ``http_get``. The partial file is only ever moved into
place after its size and sha256 (the hub's ETag of an LFS file) were checked, and
``hf_hub_download`` then links it into the snapshot; so a half file is never a loadable model.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from models.errors import DuetError
from models.files.catalog import Catalog, CatalogModel, HubFile, Target, targets_for

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GIT_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_CHUNK = 1024 * 1024  # read size of a transfer: progress and Cancel react at least every MiB
PARTIAL_SUFFIX = ".incomplete"
NOTE_SUFFIX = ".incomplete.json"


class DownloadCancelled(DuetError):
    """The pull was cancelled through its cancel event; the partial file is kept for a resume."""


# -- the cache -----------------------------------------------------------------------------------
def hub_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The hub cache in use: ``cache_dir`` or huggingface_hub's (HF_HUB_CACHE, else HF_HOME/hub)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE).expanduser()


def _repo_folder(hub: HubFile, cache_dir: Path) -> Path:
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
    found = _partials(hub, hub_cache_dir(cache_dir))
    return max(found, key=lambda p: p.done) if found else None


def _partials(hub: HubFile, cache_dir: Path) -> list[PartialDownload]:
    blobs = _repo_folder(hub, cache_dir) / "blobs"
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


# -- progress ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PullProgress:
    """What a pull is doing, handed to ``on_progress`` (on the thread that runs the pull).

    phase: "checking" (asking the hub), "downloading", "verifying" (sha256 of the whole file),
    "done" (in the cache; ``cached`` says it was already there) or "interrupted" (partial kept).
    """

    name: str  # catalog name or hf: spec
    file: str
    phase: str
    done_bytes: int = 0  # of the whole file, resumed bytes included
    total_bytes: int | None = None
    resumed_from: int = 0
    speed_bps: float | None = None  # bytes per second over the last few seconds
    eta_s: float | None = None
    index: int = 1  # which file of the pull this is (a pair has two)
    count: int = 1
    cached: bool = False

    @property
    def fraction(self) -> float | None:
        return self.done_bytes / self.total_bytes if self.total_bytes else None


ProgressCallback = Callable[[PullProgress], None]


class _ProgressFile:
    """The partial file as http_get sees it: counts and hashes what is written, honours cancel."""

    def __init__(self, raw, hasher, done: int, report: Callable[[int, float | None], None], cancel):
        self._raw = raw
        self._hasher = hasher
        self.done = done
        self._report = report
        self._cancel = cancel
        self._window: list[tuple[float, int]] = [(time.monotonic(), done)]
        self._last_report = 0.0

    def write(self, data: bytes) -> int:
        if self._cancel is not None and self._cancel.is_set():
            raise DownloadCancelled("download cancelled")
        written = self._raw.write(data)
        if self._hasher is not None:
            self._hasher.update(data)
        self.done += len(data)
        now = time.monotonic()
        self._window.append((now, self.done))
        while len(self._window) > 2 and now - self._window[0][0] > 5.0:
            self._window.pop(0)
        if now - self._last_report >= 0.1:
            self._last_report = now
            (t0, b0) = self._window[0]
            speed = (self.done - b0) / (now - t0) if now > t0 else None
            self._report(self.done, speed)
        return written

    # http_get rewinds and truncates when a server ignores the Range header and sends it all again.
    def tell(self) -> int:
        return self._raw.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def truncate(self, size: int | None = None) -> int:
        size = self._raw.tell() if size is None else size
        result = self._raw.truncate(size)
        if size == 0:
            self.done = 0
            if self._hasher is not None:
                self._hasher = hashlib.new(self._hasher.name)
        else:  # never done by http_get; the hash cannot follow, so verification re-reads the file
            self._hasher = None
            self.done = size
        return result

    def flush(self) -> None:
        self._raw.flush()

    @property
    def hasher(self):
        return self._hasher


def _new_hasher(etag: str):
    if _SHA256.match(etag):
        return hashlib.sha256()
    if _GIT_SHA1.match(etag):
        return None  # a git blob id needs the length first: hashed after the transfer
    return None


def _hash_file(path: Path, etag: str, on_bytes: Callable[[int], None] | None = None) -> str | None:
    """The file's digest in the ETag's form (sha256, or a git blob sha1), or None if unknown."""
    if _SHA256.match(etag):
        digest = hashlib.sha256()
    elif _GIT_SHA1.match(etag):
        digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    else:
        return None
    done = 0
    with path.open("rb") as src:
        while block := src.read(8 * _CHUNK):
            digest.update(block)
            done += len(block)
            if on_bytes:
                on_bytes(done)
    return digest.hexdigest()


# -- disk space ----------------------------------------------------------------------------------
def free_space(directory: Path) -> int:
    """Free bytes on the disk that holds ``directory`` (or its nearest existing parent)."""
    for path in [directory, *directory.parents]:
        try:
            return shutil.disk_usage(path).free
        except OSError:
            continue
    return 0


def check_disk_space(name: str, needed: int, directory: Path, free_bytes: int | None = None) -> None:
    """DuetError when ``needed`` bytes do not fit; ``free_bytes`` replaces the measured free space."""
    free = free_space(directory) if free_bytes is None else free_bytes
    if needed > free:
        raise DuetError(
            f"not enough disk space for {name}: it needs {format_bytes(needed)} but only {format_bytes(free)} "
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


# -- errors --------------------------------------------------------------------------------------
_NETWORK_ERRORS = {
    "ConnectError",
    "ConnectTimeout",
    "ReadTimeout",
    "WriteTimeout",
    "PoolTimeout",
    "TimeoutException",
    "NetworkError",
    "ReadError",
    "WriteError",
    "RemoteProtocolError",
    "TransportError",
    "ProtocolError",
    "ConnectionError",
    "Timeout",
    "ChunkedEncodingError",
    "ProxyError",
}


def _is_network_error(err: BaseException) -> bool:
    if isinstance(err, (ConnectionError, TimeoutError)):
        return True
    return any(cls.__name__ in _NETWORK_ERRORS for cls in type(err).__mro__)


def _endpoint(endpoint: str | None) -> str:
    if endpoint:
        return endpoint.rstrip("/")
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def explain_hub_error(err: BaseException, name: str, hub: HubFile, endpoint: str | None = None) -> DuetError:
    """One actionable line for what went wrong talking to the hub about ``hub``."""
    from huggingface_hub import errors as hf_errors

    status = getattr(getattr(err, "response", None), "status_code", None)
    page = f"{_endpoint(endpoint)}/{hub.repo}"
    token_hint = (
        "create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN to it (or run `hf auth login`)"
    )
    if isinstance(err, DuetError):
        return err
    if isinstance(err, hf_errors.OfflineModeIsEnabled):
        return DuetError(f"cannot download {name}: HF_HUB_OFFLINE is set; unset it and run: duet models pull {name}")
    if isinstance(err, hf_errors.GatedRepoError) or (
        status in (401, 403)
        and not isinstance(err, (hf_errors.RepositoryNotFoundError, hf_errors.RevisionNotFoundError))
    ):
        return DuetError(
            f"{hub.repo} is gated (HTTP {status or 403}): accept its licence on {page} while logged in, "
            f"then {token_hint}, and pull again"
        )
    if isinstance(err, hf_errors.RepositoryNotFoundError):
        return DuetError(
            f"repository {hub.repo} was not found on {_endpoint(endpoint)} (HTTP {status or 404}); check the name, "
            f"or if it is private or gated, {token_hint}"
        )
    if isinstance(err, hf_errors.RevisionNotFoundError):
        return DuetError(f"revision '{hub.revision}' does not exist in {hub.repo} (HTTP {status or 404})")
    if isinstance(err, (hf_errors.RemoteEntryNotFoundError, hf_errors.EntryNotFoundError)) or status == 404:
        return DuetError(
            f"{hub.file} was not found in {hub.repo} at revision {hub.revision} (HTTP 404); see {page}/tree/{hub.revision}"
        )
    if isinstance(err, hf_errors.HfHubHTTPError) and status is not None:
        return DuetError(f"the hub answered HTTP {status} for {name}; try again later (pull resumes where it stopped)")
    if isinstance(err, hf_errors.LocalEntryNotFoundError) or _is_network_error(err):
        return DuetError(
            f"cannot reach the Hugging Face hub at {_endpoint(endpoint)} ({type(err).__name__}); {name} is not in "
            f"the cache yet: run `duet models pull {name}` again when online"
        )
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        return DuetError(
            f"the disk filled up while downloading {name}; free some space (or set HF_HUB_CACHE to a bigger disk) "
            f"and pull again: it resumes where it stopped"
        )
    if isinstance(err, OSError):
        return DuetError(f"cannot download {name}: {err.strerror or err}")
    return DuetError(f"cannot download {name}: {type(err).__name__}: {err}")


# -- pulling -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PullResult:
    name: str
    path: Path
    size: int
    downloaded_bytes: int  # 0 when it was already in the cache
    resumed_from: int = 0
    verified: bool = False  # the sha256 (or git blob id) matched the hub's ETag


@dataclass
class _Emitter:
    name: str
    file: str
    index: int
    count: int
    callback: ProgressCallback | None
    resumed_from: int = 0
    extra: dict = field(default_factory=dict)

    def __call__(
        self, phase: str, done: int = 0, total: int | None = None, speed: float | None = None, cached: bool = False
    ) -> None:
        if self.callback is None:
            return
        eta = (total - done) / speed if (speed and total is not None and total >= done) else None
        self.callback(
            PullProgress(
                self.name, self.file, phase, done, total, self.resumed_from, speed, eta, self.index, self.count, cached
            )
        )


@dataclass(frozen=True)
class _Transfer:
    """What every file of one pull shares (see ``pull``)."""

    cache: Path
    cancel: threading.Event | None
    endpoint: str | None
    token: str | bool | None
    free_bytes: int | None


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
    targets = [t for t in targets_for(spec) if t.hub is not None]
    if not targets:
        raise DuetError(f"{spec} ships inside Duet's packages; there is nothing to download")
    cache = hub_cache_dir(cache_dir)
    # A pair is refused up front when both files cannot fit, before the first one is fetched.
    missing = [t for t in targets if cached_path(t.hub, cache) is None]
    if len(missing) > 1:
        needed = sum((t.expected_size or 0) - _partial_done(t.hub, cache) for t in missing)
        check_disk_space(spec, needed, cache, free_bytes)
    transfer = _Transfer(cache, cancel, endpoint, token, free_bytes)
    return [
        _pull_file(target, transfer, _Emitter(target.name, target.hub.file, index, len(targets), on_progress))
        for index, target in enumerate(targets, 1)
    ]


_online_lock = threading.Lock()
_online_users = 0


class _online:
    """huggingface_hub's offline switch turned off while at least one forced pull runs."""

    def __enter__(self) -> None:
        global _online_users
        from huggingface_hub import constants

        with _online_lock:
            if _online_users == 0:
                _online._saved_global = constants.HF_HUB_OFFLINE
            _online_users += 1
            constants.HF_HUB_OFFLINE = False

    def __exit__(self, *exc) -> None:
        global _online_users
        from huggingface_hub import constants

        with _online_lock:
            _online_users -= 1
            if _online_users == 0:
                constants.HF_HUB_OFFLINE = _online._saved_global


def _partial_done(hub: HubFile, cache: Path) -> int:
    partial = partial_download(hub, cache)
    return partial.done if partial else 0


def _pull_file(target: Target, transfer: _Transfer, emit: _Emitter) -> PullResult:
    """Download one hub file into the cache (resuming a partial one)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    hub, name, cache, endpoint = target.hub, target.name, transfer.cache, transfer.endpoint
    emit("checking")
    try:
        url = hf_hub_url(hub.repo, hub.file, revision=hub.revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=transfer.token, endpoint=endpoint)
    except Exception as err:  # every failure becomes one line; tracebacks are for bugs only
        raise explain_hub_error(err, name, hub, endpoint) from None
    if not meta.commit_hash or not meta.etag:
        raise DuetError(
            f"{_endpoint(endpoint)} did not answer like a Hugging Face hub for {name} (no commit or ETag header); "
            "check HF_ENDPOINT and any proxy settings"
        )
    etag = meta.etag
    size = meta.size
    folder = _repo_folder(hub, cache)
    blob = folder / "blobs" / etag
    if cached_path(HubFile(hub.repo, hub.file, meta.commit_hash), cache) is not None or blob.is_file():
        done_result = (0, 0, False)
    else:
        done_result = _download_blob(name, hub, url, meta, blob, emit, transfer)
    path = _link_into_snapshot(name, hub, transfer)
    downloaded, resumed_from, verified = done_result
    real_size = path.stat().st_size
    emit("done", real_size, size or real_size, cached=downloaded == 0 and resumed_from == 0)
    return PullResult(name, path, real_size, downloaded, resumed_from, verified)


def _download_blob(name, hub, url, meta, blob: Path, emit, transfer: _Transfer):
    from huggingface_hub import constants
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import WeakFileLock, build_hf_headers

    etag, size = meta.etag, meta.size
    cache, cancel, endpoint = transfer.cache, transfer.cancel, transfer.endpoint
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(etag + PARTIAL_SUFFIX)
    note = blob.with_name(etag + NOTE_SUFFIX)
    lock_path = cache / ".locks" / blob.parent.parent.name / f"{etag}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with WeakFileLock(lock_path):
        if blob.is_file():  # another process finished it while we waited for the lock
            return (0, 0, False)
        for stale in _partials(hub, cache):  # the file changed on the hub since that pull started
            if stale.etag != etag:
                stale.path.unlink(missing_ok=True)
                stale.note.unlink(missing_ok=True)
        resume = partial.stat().st_size if partial.is_file() else 0
        if size is not None and resume > size:
            partial.unlink()
            resume = 0
        needed = (size or 0) - resume  # a hub that announces no size cannot be checked in advance
        check_disk_space(name, needed, blob.parent, transfer.free_bytes)
        note.write_text(
            json.dumps(
                {
                    "repo": hub.repo,
                    "file": hub.file,
                    "revision": hub.revision,
                    "commit": meta.commit_hash,
                    "etag": etag,
                    "size": size,
                }
            ),
            encoding="utf-8",
        )
        emit.resumed_from = resume
        hasher = _new_hasher(etag)
        if hasher is not None and resume:
            with partial.open("rb") as src:
                while block := src.read(8 * _CHUNK):
                    hasher.update(block)
        headers = build_hf_headers(token=transfer.token)
        location = meta.location or url
        if urlparse(location).netloc != urlparse(url).netloc:
            headers.pop("authorization", None)  # a signed CDN URL: the token stays with the hub
        emit("downloading", resume, size)
        previous_chunk = constants.DOWNLOAD_CHUNK_SIZE
        constants.DOWNLOAD_CHUNK_SIZE = _CHUNK  # the hub reads 10 MiB at a time; Cancel would lag
        try:
            with partial.open("r+b" if resume else "wb") as raw:
                raw.seek(resume)
                out = _ProgressFile(
                    raw, hasher, resume, lambda done, speed: emit("downloading", done, size, speed), cancel
                )
                http_get(
                    location,
                    out,
                    resume_size=resume,
                    headers=headers,
                    expected_size=size,
                    displayed_filename=hub.file,
                )
                raw.flush()
                os.fsync(raw.fileno())
        except DownloadCancelled:
            emit("interrupted", _size(partial), size)
            raise DownloadCancelled(
                f"download of {name} cancelled with {format_bytes(_size(partial))} of {format_bytes(size)} kept; "
                f"run `duet models pull {name}` to resume"
            ) from None
        except KeyboardInterrupt:
            emit("interrupted", _size(partial), size)
            raise
        except Exception as err:
            got = _size(partial)
            if isinstance(err, OSError) and "Consistency check failed" in str(err) and size is not None and got > size:
                _discard(partial, note)
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status == 416:  # the server does not agree with our partial file: start over next time
                _discard(partial, note)
            emit("interrupted", _size(partial), size)
            raise explain_hub_error(err, name, hub, endpoint) from None
        finally:
            constants.DOWNLOAD_CHUNK_SIZE = previous_chunk
        got = partial.stat().st_size
        if size is not None and got != size:
            _discard(partial, note)
            raise DuetError(
                f"the transfer of {name} ended at {format_bytes(got)} instead of {format_bytes(size)}; the partial file was deleted, pull again"
            )
        emit("verifying", 0, got)
        if out.hasher is not None and out.done == got:
            digest = out.hasher.hexdigest()
        else:
            digest = _hash_file(partial, etag, lambda n: emit("verifying", n, got))
        verified = digest is not None
        if digest is not None and digest != etag:
            _discard(partial, note)
            kind = "sha256" if _SHA256.match(etag) else "git blob id"
            raise DuetError(
                f"the download of {name} is corrupt: its {kind} is {digest[:12]}… but the hub says {etag[:12]}…; "
                "the file was deleted; run the pull again (if it keeps happening, a proxy may be altering downloads)"
            )
        os.replace(partial, blob)
        note.unlink(missing_ok=True)
    return (got - resume, resume, verified)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _discard(partial: Path, note: Path) -> None:
    partial.unlink(missing_ok=True)
    note.unlink(missing_ok=True)


def _link_into_snapshot(name: str, hub: HubFile, transfer: _Transfer) -> Path:
    """With the blob in place, let hf_hub_download write the snapshot link and the revision ref."""
    from huggingface_hub import hf_hub_download

    try:
        return Path(
            hf_hub_download(
                hub.repo,
                hub.file,
                revision=hub.revision,
                cache_dir=str(transfer.cache),
                endpoint=transfer.endpoint,
                token=transfer.token,
            )
        )
    except Exception as err:
        raise explain_hub_error(err, name, hub, transfer.endpoint) from None


# -- removing ------------------------------------------------------------------------------------
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
    targets = [t for t in targets_for(spec) if t.hub is not None]
    if not targets:
        raise DuetError(f"{spec} ships inside Duet's packages and cannot be removed")
    cache = hub_cache_dir(cache_dir)
    return [_remove_file(t.name, t.hub, cache) for t in targets]


def _remove_file(name: str, hub: HubFile, cache: Path) -> Removed:
    folder = _repo_folder(hub, cache)
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
    for stale in _partials(hub, cache):
        freed += _size(stale.path)
        _discard(stale.path, stale.note)
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


# -- the catalog with its cache state -----------------------------------------------------------
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
