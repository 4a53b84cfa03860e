"""Progress of a pull: the PullProgress records handed to ``on_progress``, and what produces them.

ProgressFile stands between huggingface_hub's ``http_get`` and the partial file: it counts and
hashes every block written, measures the speed and stops the transfer when cancel is set.
Emitter turns a phase and byte counts into a PullProgress for one file of a pull.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from models.hub.errors import DownloadCancelled
from models.hub.hashing import Hasher


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


@dataclass
class Emitter:
    """Sends PullProgress records for one file of a pull to ``callback`` (if there is one)."""

    name: str
    file: str
    index: int
    count: int
    callback: ProgressCallback | None
    resumed_from: int = 0

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


class ProgressFile:
    """The partial file as http_get sees it: counts and hashes what is written, honours cancel."""

    def __init__(
        self,
        raw: BinaryIO,
        hasher: Hasher | None,
        done: int,
        report: Callable[[int, float | None], None],
        cancel: threading.Event | None,
    ) -> None:
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
    def hasher(self) -> Hasher | None:
        return self._hasher
