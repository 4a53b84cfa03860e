"""The resumable transfer of one file's blob into the hub cache, checked before it is put in place.

Downloads resume across runs. huggingface_hub 2.x retries a dropped connection within one call
but throws away its temporary file when the call ends (Ctrl+C, a killed process, a connection
that stays down), so a pull keeps its own partial file next to the cache blobs,
``blobs/<etag>.incomplete`` with a ``.json`` note of what it belongs to, and continues it with a
Range request through huggingface_hub's ``http_get``. The partial file is only ever moved into
place after its size and sha256 (the hub's ETag of an LFS file) were checked, and snapshot.py
then links it into the snapshot; so a half file is never a loadable model. The ETag that names
the blob was checked to be a hash before it got here (models/files/hub_spec.py).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import urlparse

from models.errors import DuetError
from models.files.hub_spec import HubFile
from models.hub.cache import NOTE_SUFFIX, PARTIAL_SUFFIX, discard_partial, file_size, partials
from models.hub.disk import check_disk_space, format_bytes
from models.hub.errors import DownloadCancelled, explain_hub_error, http_status
from models.hub.hashing import etag_kind, hash_file, resume_hasher
from models.hub.progress import Emitter, ProgressFile

if TYPE_CHECKING:
    from huggingface_hub import HfFileMetadata

CHUNK = 1024 * 1024  # read size of a transfer: progress and Cancel react at least every MiB


@dataclass(frozen=True)
class Transfer:
    """What every file of one pull shares (see ``pull``)."""

    cache: Path
    cancel: threading.Event | None
    endpoint: str | None
    token: str | bool | None
    free_bytes: int | None


class Downloaded(NamedTuple):
    """What a blob download did."""

    downloaded: int  # bytes transferred by this pull (0 when the blob was already there)
    resumed_from: int  # bytes an earlier, interrupted pull had left
    verified: bool  # the sha256 (or git blob id) matched the hub's ETag


NOTHING_DOWNLOADED = Downloaded(0, 0, False)


def download_blob(
    name: str, hub: HubFile, url: str, meta: HfFileMetadata, etag: str, blob: Path, emit: Emitter, transfer: Transfer
) -> Downloaded:
    """Download ``blob`` (named after ``etag``, the hub's answer in ``meta`` for ``url``), resuming a partial one."""
    return _BlobDownload(name, hub, url, meta, etag, blob, emit, transfer).run()


@dataclass(frozen=True)
class _BlobDownload:
    name: str  # catalog name or hf: spec, for messages
    hub: HubFile
    url: str
    meta: HfFileMetadata
    etag: str
    blob: Path
    emit: Emitter
    transfer: Transfer

    @property
    def size(self) -> int | None:
        return self.meta.size

    @property
    def partial(self) -> Path:
        return self.blob.with_name(self.etag + PARTIAL_SUFFIX)

    @property
    def note(self) -> Path:
        return self.blob.with_name(self.etag + NOTE_SUFFIX)

    def run(self) -> Downloaded:
        from huggingface_hub.utils import WeakFileLock

        self.blob.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.transfer.cache / ".locks" / self.blob.parent.parent.name / f"{self.etag}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with WeakFileLock(lock_path):
            if self.blob.is_file():  # another process finished it while we waited for the lock
                return NOTHING_DOWNLOADED
            resume = self._prepare()
            out = self._fetch(resume)
            got = self._check_size()
            verified = self._verify(out, got)
            os.replace(self.partial, self.blob)
            self.note.unlink(missing_ok=True)
        return Downloaded(got - resume, resume, verified)

    def _prepare(self) -> int:
        """Clear the way for the transfer and note what the partial file is; the bytes to resume after."""
        for stale in partials(self.hub, self.transfer.cache):  # the file changed on the hub since that pull started
            if stale.etag != self.etag:
                stale.path.unlink(missing_ok=True)
                stale.note.unlink(missing_ok=True)
        resume = self.partial.stat().st_size if self.partial.is_file() else 0
        if self.size is not None and resume > self.size:
            self.partial.unlink()
            resume = 0
        needed = (self.size or 0) - resume  # a hub that announces no size cannot be checked in advance
        check_disk_space(self.name, needed, self.blob.parent, self.transfer.free_bytes)
        self._write_note()
        self.emit.resumed_from = resume
        return resume

    def _write_note(self) -> None:
        note = {
            "repo": self.hub.repo,
            "file": self.hub.file,
            "revision": self.hub.revision,
            "commit": self.meta.commit_hash,
            "etag": self.etag,
            "size": self.size,
        }
        self.note.write_text(json.dumps(note), encoding="utf-8")

    def _request(self) -> tuple[str, dict[str, str]]:
        """Where the bytes come from and the headers to ask with."""
        from huggingface_hub.utils import build_hf_headers

        headers = build_hf_headers(token=self.transfer.token)
        location = self.meta.location or self.url
        if urlparse(location).netloc != urlparse(self.url).netloc:
            headers.pop("authorization", None)  # a signed CDN URL: the token stays with the hub
        return location, headers

    def _fetch(self, resume: int) -> ProgressFile:
        """Transfer the file into the partial file, after its first ``resume`` bytes (a Range request)."""
        from huggingface_hub import constants
        from huggingface_hub.file_download import http_get

        size, partial = self.size, self.partial
        hasher = resume_hasher(self.etag, partial, resume)
        location, headers = self._request()
        self.emit("downloading", resume, size)
        previous_chunk = constants.DOWNLOAD_CHUNK_SIZE
        constants.DOWNLOAD_CHUNK_SIZE = CHUNK  # the hub reads 10 MiB at a time; Cancel would lag
        try:
            with partial.open("r+b" if resume else "wb") as raw:
                raw.seek(resume)
                out = ProgressFile(
                    raw,
                    hasher,
                    resume,
                    lambda done, speed: self.emit("downloading", done, size, speed),
                    self.transfer.cancel,
                )
                http_get(
                    location,
                    out,  # type: ignore[arg-type]  # annotated BinaryIO; http_get only writes, tells, seeks, truncates
                    resume_size=resume,
                    headers=headers,
                    expected_size=size,
                    displayed_filename=self.hub.file,
                )
                raw.flush()
                os.fsync(raw.fileno())
        except DownloadCancelled:
            self.emit("interrupted", file_size(partial), size)
            raise DownloadCancelled(
                f"download of {self.name} cancelled with {format_bytes(file_size(partial))} of {format_bytes(size)} "
                f"kept; run `duet models pull {self.name}` to resume"
            ) from None
        except KeyboardInterrupt:
            self.emit("interrupted", file_size(partial), size)
            raise
        except Exception as err:
            raise self._failed(err) from None
        finally:
            constants.DOWNLOAD_CHUNK_SIZE = previous_chunk
        return out

    def _failed(self, err: Exception) -> DuetError:
        """The error to raise for a transfer that broke off; a partial file that cannot be resumed is deleted."""
        size = self.size
        got = file_size(self.partial)
        if isinstance(err, OSError) and "Consistency check failed" in str(err) and size is not None and got > size:
            discard_partial(self.partial, self.note)
        if http_status(err) == 416:  # the server does not agree with our partial file: start over next time
            discard_partial(self.partial, self.note)
        self.emit("interrupted", file_size(self.partial), size)
        return explain_hub_error(err, self.name, self.hub, self.transfer.endpoint)

    def _check_size(self) -> int:
        """The size of the finished partial file; DuetError (and the file deleted) when it is not the hub's."""
        got = self.partial.stat().st_size
        if self.size is not None and got != self.size:
            discard_partial(self.partial, self.note)
            raise DuetError(
                f"the transfer of {self.name} ended at {format_bytes(got)} instead of {format_bytes(self.size)}; the partial file was deleted, pull again"
            )
        return got

    def _verify(self, out: ProgressFile, got: int) -> bool:
        """Compare the digest with the ETag (DuetError and the file deleted when they differ); whether it could be."""
        self.emit("verifying", 0, got)
        digest: str | None
        if out.hasher is not None and out.done == got:
            digest = out.hasher.hexdigest()
        else:
            digest = hash_file(self.partial, self.etag, lambda n: self.emit("verifying", n, got))
        if digest is not None and digest != self.etag:
            discard_partial(self.partial, self.note)
            raise DuetError(
                f"the download of {self.name} is corrupt: its {etag_kind(self.etag)} is {digest[:12]}… but the hub "
                f"says {self.etag[:12]}…; the file was deleted; run the pull again (if it keeps happening, a proxy "
                "may be altering downloads)"
            )
        return digest is not None
