"""A tiny OpenAI-compatible stub server for the failures a real one will not produce on demand
(401, 5xx, a stream cut mid-answer), and the small helpers the OpenAI engine tests share."""

from __future__ import annotations

import http.server
import json
import socket
import threading


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sse(*payloads) -> bytes:
    return b"".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n".encode() for p in payloads)


def chunk(text: str, finish=None) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


class StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict):
        self.routes = routes  # "GET /v1/models" -> handler(request) writing the response
        self.requests: list[tuple[str, dict, dict]] = []  # (route, headers, json body)
        super().__init__(("127.0.0.1", 0), StubHandler)


class StubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StubServer

    def log_message(self, *args):
        pass

    def _route(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        route = f"{method} {self.path}"
        self.server.requests.append((route, dict(self.headers), body))
        handler = self.server.routes.get(route)
        if handler is None:
            self.reply(404, {"detail": "Not Found"})
        else:
            handler(self)

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def reply(self, status: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _models(handler):
    handler.reply(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})


class StubServers:
    """Stub servers started by one test (``start``), all shut down by ``close``."""

    def __init__(self) -> None:
        self.servers: list[StubServer] = []

    def start(self, routes: dict) -> tuple[StubServer, str]:
        srv = StubServer({"GET /v1/models": _models, **routes})
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"

    def close(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()
