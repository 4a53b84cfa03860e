"""Server-sent events from one streaming request, read on a thread of their own so that a pane can
stop waiting (and drop the connection) the moment it is cancelled."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

_POLL_S = 0.05  # how often a waiting stream looks at the cancel flag


@dataclass(frozen=True)
class SSEData:
    """One event's data (its ``data:`` lines joined; a llama.cpp ``error:`` line as {"error": ...})."""

    text: str


@dataclass(frozen=True)
class SSEStatus:
    """The server answered with an HTTP status other than 200 (the start of its body kept)."""

    status: int
    body: bytes


@dataclass(frozen=True)
class SSEFailure:
    """The request or the read failed (connection refused, timeout, connection dropped, ...)."""

    error: Exception


@dataclass(frozen=True)
class SSEEnd:
    """The body ended cleanly."""


@dataclass(frozen=True)
class SSECancelled:
    """The pane's cancel flag was set."""


SSEItem = SSEData | SSEStatus | SSEFailure | SSEEnd | SSECancelled


class SSEReader(threading.Thread):
    """Runs one streaming request on its own thread so the pane can stop waiting at once.

    The pane's thread takes SSEData / SSEStatus / SSEFailure / SSEEnd items from a queue, checking
    its cancel flag between them; close() shuts the socket down so the server notices the client is
    gone and the read here ends immediately.
    """

    def __init__(self, client: httpx.Client, url: str, body: dict, headers: dict[str, str]):
        super().__init__(daemon=True, name="duet-sse")
        self._client, self._url, self._body, self._headers = client, url, body, headers
        self._queue: queue.Queue[SSEItem] = queue.Queue()
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            with self._client.stream("POST", self._url, json=self._body, headers=self._headers) as response:
                with self._lock:
                    self._response = response
                if self._closed.is_set():
                    return
                if response.status_code != 200:
                    self._queue.put(SSEStatus(response.status_code, response.read()[:4096]))
                    return
                if self._read_events(response):
                    self._queue.put(SSEEnd())
        except Exception as err:  # noqa: BLE001 - any failure ends the stream with a message
            if not self._closed.is_set():
                self._queue.put(SSEFailure(err))

    def _read_events(self, response: httpx.Response) -> bool:
        """Queue each event's data; False when close() stopped the read before the body ended."""
        data: list[str] = []
        for line in response.iter_lines():
            if self._closed.is_set():
                return False
            if line == "":
                if data:
                    self._queue.put(SSEData("\n".join(data)))
                    data = []
                continue
            if line.startswith(":"):
                continue  # an SSE comment (keep-alive)
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "data":
                data.append(value)
            elif field == "error":  # llama.cpp's server sends `error: {...}` lines mid-stream
                try:
                    detail = json.loads(value)
                except ValueError:
                    detail = value
                data.append(json.dumps({"error": detail}))
        if data:
            self._queue.put(SSEData("\n".join(data)))
        return True

    def events(self, cancel: threading.Event) -> Iterator[SSEItem]:
        """The items as they come, SSECancelled once ``cancel`` is set; the iteration ends after a
        final item (SSEEnd, SSEFailure, SSEStatus), or without one if the thread stopped silently."""
        while True:
            if cancel.is_set():
                yield SSECancelled()
                return
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if not self.is_alive() and self._queue.empty():
                    return
                continue
            yield item
            if isinstance(item, (SSEEnd, SSEFailure, SSEStatus)):
                return

    def close(self) -> None:
        """Stop reading and drop the connection (so a llama.cpp server stops generating)."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if not self.is_alive():
            response.close()
