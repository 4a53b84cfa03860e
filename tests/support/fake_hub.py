"""A local stand-in for the Hugging Face hub's file endpoints, for download tests.

Two HTTP servers on 127.0.0.1: the "hub" answers HEAD/GET /{owner}/{repo}/resolve/{rev}/{file}
the way huggingface.co does for an LFS file (a 302 to a CDN carrying X-Repo-Commit,
X-Linked-Etag = sha256 and X-Linked-Size; hub error codes in X-Error-Code), and the "CDN", on
another port and so another origin, serves the bytes with Range support. Each file can be told to
misbehave: drop the connection midway, stall until released, send corrupted bytes.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_test_token"


@dataclass
class HubFile:
    repo: str
    name: str
    path: Path
    gated: bool = False
    sha256: str = ""
    size: int = 0
    drop_after: int | None = None  # first GET: close the connection after this many bytes
    stall_after: int | None = None  # GETs: send this many bytes, then wait for `release`
    corrupt: bool = False  # send different bytes than the advertised sha256
    throttle_s: float = 0.0  # pause after every 256 KiB block (a slow line)
    commit: str = COMMIT  # X-Repo-Commit it answers (a hostile hub answers a path)
    linked_etag: str | None = None  # X-Linked-Etag it answers instead of the sha256
    release: threading.Event = field(default_factory=threading.Event)
    gets: int = 0

    def __post_init__(self) -> None:
        digest = hashlib.sha256()
        with self.path.open("rb") as src:
            while block := src.read(8 << 20):
                digest.update(block)
        self.sha256 = digest.hexdigest()
        self.size = self.path.stat().st_size


@dataclass
class Request:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict


class FakeHub:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], HubFile] = {}
        self.repos: set[str] = set()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("hub"))
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("cdn"))
        for server in (self.hub, self.cdn):
            server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self.cdn.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self.hub, self.cdn)]

    def add(self, repo: str, name: str, path: Path, **options) -> HubFile:
        entry = HubFile(repo, name, Path(path), **options)
        self.files[(repo, name)] = entry
        self.repos.add(repo)
        return entry

    def start(self) -> FakeHub:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for entry in self.files.values():
            entry.release.set()
        for server in (self.hub, self.cdn):
            server.shutdown()
            server.server_close()

    def log(self, server: str | None = None, method: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (server is None or r.server == server) and (method is None or r.method == method)
            ]

    # -- request handling ----------------------------------------------------------------------
    def _handler(self, role: str):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _record(self) -> None:
                with hub._lock:
                    hub.requests.append(Request(role, self.command, self.path, dict(self.headers.items())))

            def do_HEAD(self) -> None:
                self._record()
                hub._resolve(self, body=False) if role == "hub" else hub._serve(self, body=False)

            def do_GET(self) -> None:
                self._record()
                hub._resolve(self, body=True) if role == "hub" else hub._serve(self, body=True)

        return Handler

    def _error(self, handler, status: int, code: str | None, message: str = "", commit: bool = False) -> None:
        handler.send_response(status)
        if code:
            handler.send_header("X-Error-Code", code)
        if message:
            handler.send_header("X-Error-Message", message)
        if commit:
            handler.send_header("X-Repo-Commit", COMMIT)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _resolve(self, handler, body: bool) -> None:
        # Split before unquoting: a revision such as release/v1.0 arrives as one quoted part.
        parts = [unquote(part) for part in handler.path.split("?")[0].lstrip("/").split("/")]
        if len(parts) < 5 or parts[2] != "resolve":
            return self._error(handler, 404, None)
        repo, file_name = "/".join(parts[:2]), "/".join(parts[4:])
        if repo not in self.repos:
            return self._error(handler, 401, "RepoNotFound", "Repository not found")
        entry = self.files.get((repo, file_name))
        if entry is None:
            return self._error(handler, 404, "EntryNotFound", "Entry not found", commit=True)
        if entry.gated and handler.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._error(
                handler,
                401,
                "GatedRepo",
                f"Access to model {repo} is restricted. You must have access to it and be authenticated to access it.",
            )
        handler.send_response(302)
        handler.send_header("X-Repo-Commit", entry.commit)
        handler.send_header("X-Linked-Etag", f'"{entry.linked_etag or entry.sha256}"')
        handler.send_header("X-Linked-Size", str(entry.size))
        handler.send_header("ETag", '"0000000000000000000000000000000000000000"')
        handler.send_header("Location", f"{self.cdn_url}/cdn/{repo}/{file_name}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _serve(self, handler, body: bool) -> None:
        entry = self._cdn_entry(handler)
        if entry is None:
            return self._error(handler, 404, None)
        start = self._send_headers(handler, entry)
        if start is None or not body:
            return
        entry.gets += 1
        first_get = entry.gets == 1
        limit = entry.drop_after if entry.drop_after is not None and first_get else None
        self._send_body(handler, entry, start, limit)

    def _cdn_entry(self, handler) -> HubFile | None:
        """The file a CDN request (GET /cdn/{owner}/{repo}/{file}) asks for."""
        path = unquote(handler.path.split("?")[0])
        key = path[len("/cdn/") :] if path.startswith("/cdn/") else ""
        parts = key.split("/")
        repo, file_name = "/".join(parts[:2]), "/".join(parts[2:])
        return self.files.get((repo, file_name))

    def _send_headers(self, handler, entry: HubFile) -> int | None:
        """The status line and headers, honouring Range; the offset the body starts at (None after a 416)."""
        start = 0
        range_header = handler.headers.get("Range")
        if range_header:
            start = int(range_header.split("=")[1].split("-")[0])
            if start >= entry.size:
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{entry.size}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return None
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{entry.size - 1}/{entry.size}")
        else:
            handler.send_response(200)
        handler.send_header("Content-Length", str(entry.size - start))
        handler.send_header("ETag", f'"{entry.sha256}"')
        handler.send_header("Accept-Ranges", "bytes")
        handler.end_headers()
        return start

    def _send_body(self, handler, entry: HubFile, start: int, limit: int | None) -> None:
        """The bytes from ``start``, misbehaving as ``entry`` says (``limit``: drop the connection there)."""
        with entry.path.open("rb") as src:
            src.seek(start)
            sent = start
            while sent < entry.size:
                if limit is not None and sent >= limit:
                    handler.wfile.flush()
                    handler.close_connection = True
                    handler.connection.shutdown(2)  # mid-body: the client sees a dropped connection
                    return
                if entry.stall_after is not None and sent >= entry.stall_after and not entry.release.is_set():
                    handler.wfile.flush()
                    entry.release.wait(60)
                    handler.close_connection = True
                    handler.connection.shutdown(2)
                    return
                block = src.read(self._block_size(entry, sent, limit))
                if not block:
                    break
                if entry.corrupt and sent <= entry.size // 2 < sent + len(block):
                    at = entry.size // 2 - sent
                    block = block[:at] + bytes([block[at] ^ 0xFF]) + block[at + 1 :]
                try:
                    handler.wfile.write(block)
                    if entry.throttle_s:
                        handler.wfile.flush()
                        time.sleep(entry.throttle_s)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(block)

    @staticmethod
    def _block_size(entry: HubFile, sent: int, limit: int | None) -> int:
        """256 KiB, or less so that a block ends exactly where the connection drops or stalls."""
        step = 256 * 1024
        if limit is not None:
            step = min(step, limit - sent)
        if entry.stall_after is not None and not entry.release.is_set() and sent < entry.stall_after:
            step = min(step, entry.stall_after - sent)
        return step
