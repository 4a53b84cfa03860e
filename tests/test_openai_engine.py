"""Panes backed by an OpenAI-compatible server: a real llama_cpp.server, plus a tiny stub server for
the failures a real one will not produce on demand (401, 5xx, a stream cut mid-answer)."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from models.engines import make_engine
from models.engines.openai.engine import (
    OpenAIEngine,
    RemotePrompt,
    is_remote_source,
    parse_remote_source,
)
from models.errors import DuetError
from models.events import Finished, TextDelta
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

MODEL_ID = "smollm2"
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"  # the model keeps counting: a long answer to cut into


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ID,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"llama_cpp.server did not answer within 90 s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def server(chat_path, tmp_path_factory):
    port = _free_port()
    proc = _start_server(chat_path, port, tmp_path_factory.mktemp("server") / "server.log")
    yield f"http://127.0.0.1:{port}/v1"
    _stop(proc)


def _session(source: str, mode: str, **sampling) -> PaneSession:
    session = PaneSession("third", ModelSpec(source=source), mode, SamplingSettings(**{"max_tokens": 16, **sampling}))
    session.load().result(timeout=30)
    return session


# -- against a real llama_cpp.server --------------------------------------------------------------------
def test_make_engine_picks_the_http_engine():
    assert isinstance(make_engine(ModelSpec(source="http://127.0.0.1:1/v1#m")), OpenAIEngine)
    assert is_remote_source("HTTPS://example.org/v1#m") and not is_remote_source("embedded:x")


def test_raw_mode_streams_from_completions(server):
    session = _session(f"{server}#{MODEL_ID}", "raw")
    try:
        assert session.info.architecture == "remote" and session.info.name == MODEL_ID
        assert session.info.file_size == 0 and session.info.has_chat_template
        events = []
        turn = session.send("The capital of France is", events.append).result(timeout=60)
    finally:
        session.close()
    assert turn.error is None, turn.error
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1 and "".join(deltas) == turn.text and "Paris" in turn.text
    assert isinstance(events[-1], Finished)
    rendered = turn.rendered
    assert isinstance(rendered, RemotePrompt) and rendered.endpoint == "completions"
    assert rendered.text == "The capital of France is"  # exactly what is sent
    assert rendered.token_count == 5 and not rendered.token_count_estimated  # /extras/tokenize
    m = turn.metrics
    assert m.stop_reason == "length" and m.tokens == 16
    assert 0 < m.ttft_s <= m.total_s and m.tokens_per_s > 0 and m.prompt_tokens == 5


def test_chat_mode_streams_from_chat_completions_with_history(server):
    session = _session(f"{server}#{MODEL_ID}", "chat")
    try:
        first = session.send("What is the capital of France?").result(timeout=60)
        second = session.send("And of Spain?").result(timeout=60)
    finally:
        session.close()
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.text and second.text and first.metrics.tokens > 0
    rendered = second.rendered
    assert rendered.endpoint == "chat/completions" and rendered.context_used == 1
    assert [role for role, _ in rendered.messages] == ["user", "assistant", "user"]
    assert rendered.messages[1][1] == first.text
    assert "[assistant]" in rendered.text and "server applies its own chat template" in rendered.text
    assert rendered.token_count_estimated and rendered.token_count > 0
    assert second.metrics.stop_reason in ("eos", "length") and second.metrics.tokens_per_s >= 0


def test_cancel_mid_stream_keeps_partial_text(server):
    session = _session(f"{server}#{MODEL_ID}", "raw", max_tokens=400)
    seen = threading.Event()

    def on_event(event):
        if isinstance(event, TextDelta) and not seen.is_set():
            seen.set()
            session.cancel()

    try:
        started = time.monotonic()
        turn = session.send(COUNTING, on_event).result(timeout=60)
        elapsed = time.monotonic() - started
        # The server noticed the disconnect and is free for the next request straight away.
        session.sampling = SamplingSettings(max_tokens=4)
        after = session.send("Hello").result(timeout=30)
    finally:
        session.close()
    assert turn.metrics.stop_reason == "cancelled" and turn.error is None
    assert turn.text and turn.metrics.tokens < 400 and elapsed < 10
    assert after.error is None and after.text and after.metrics.ttft_s < 5


def test_context_length_exceeded_is_a_clear_error(server):
    session = _session(f"{server}#{MODEL_ID}", "raw")
    try:
        turn = session.send("word " * 1100).result(timeout=60)
    finally:
        session.close()
    # llama_cpp.server answers 200 and ends the stream at once; the error says what probably happened.
    assert turn.metrics.stop_reason == "error" and turn.text == ""
    assert "without an answer" in turn.error and "more than the server's context" in turn.error
    assert f"{turn.rendered.token_count} tokens plus 16" in turn.error and "\n" not in turn.error


def test_context_length_400_is_a_clear_error(stub):
    def too_long(handler):
        handler.reply(
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 1024 tokens, however you requested 1107 tokens",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            },
        )

    srv, url = stub({"POST /v1/chat/completions": too_long})
    session = PaneSession("third", ModelSpec(source=f"{url}#stub-model"), "chat", SamplingSettings(max_tokens=8))
    session.load().result(timeout=10)
    turn = session.send("hi").result(timeout=10)
    session.close()
    assert turn.metrics.stop_reason == "error"
    assert "too long for the context" in turn.error and "maximum context length is 1024" in turn.error
    assert "clear the conversation" in turn.error


def test_wrong_model_lists_the_available_ones(server):
    session = PaneSession("chat", ModelSpec(source=f"{server}#no-such-model"), "chat")
    try:
        with pytest.raises(DuetError) as err:
            session.load().result(timeout=30)
    finally:
        session.close()
    assert "no model 'no-such-model'" in str(err.value) and f"available: {MODEL_ID}" in str(err.value)
    assert session.load_error == str(err.value)


def test_model_may_be_left_out_when_the_server_has_one(server):
    engine = OpenAIEngine(ModelSpec(source=server))
    try:
        assert engine.load().name == MODEL_ID
    finally:
        engine.close()


def test_wrong_port_is_a_one_line_connection_error():
    port = _free_port()
    session = PaneSession("chat", ModelSpec(source=f"http://127.0.0.1:{port}/v1#{MODEL_ID}"), "chat")
    try:
        with pytest.raises(DuetError) as err:
            session.load().result(timeout=30)
    finally:
        session.close()
    message = str(err.value)
    assert "connection refused" in message and f"127.0.0.1:{port}" in message and "\n" not in message


def test_server_killed_mid_stream_keeps_partial_text(chat_path, tmp_path):
    port = _free_port()
    proc = _start_server(chat_path, port, tmp_path / "server.log")
    session = _session(f"http://127.0.0.1:{port}/v1#{MODEL_ID}", "raw", max_tokens=400)
    deltas = []

    def on_event(event):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
            if len(deltas) == 3:
                os.killpg(proc.pid, signal.SIGKILL)

    try:
        turn = session.send(COUNTING, on_event).result(timeout=60)
    finally:
        session.close()
        _stop(proc)
    assert turn.metrics.stop_reason == "error"
    assert turn.text == "".join(deltas) and len(deltas) >= 3
    assert f"127.0.0.1:{port}" in turn.error and "partial answer is kept" in turn.error
    assert "\n" not in turn.error


# -- against a stub server ----------------------------------------------------------------------------------
def _sse(*payloads) -> bytes:
    return b"".join(f"data: {p if isinstance(p, str) else json.dumps(p)}\n\n".encode() for p in payloads)


def _chunk(text: str, finish=None) -> dict:
    return {"choices": [{"index": 0, "text": text, "finish_reason": finish}]}


class _Stub(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict):
        self.routes = routes  # "GET /v1/models" -> handler(request) writing the response
        self.requests: list[tuple[str, dict, dict]] = []  # (route, headers, json body)
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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


@pytest.fixture
def stub():
    servers = []

    def start(routes: dict) -> tuple[_Stub, str]:
        srv = _Stub({"GET /v1/models": _models, **routes})
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _run(engine: OpenAIEngine, text: str = "hi", mode: str = "raw", cancel=None, **sampling):
    settings = SamplingSettings(**{"max_tokens": 8, **sampling})
    prompt = engine.render(get_mode(mode), text, [], settings)
    return list(engine.stream(prompt, settings, cancel or threading.Event()))


def test_sse_parsing_usage_comments_and_request_fields(stub):
    def completions(handler):
        handler.start_chunked()
        handler.chunk(b": keep-alive comment\n\n")
        handler.chunk(_sse(_chunk("Hel")))
        handler.chunk(b"data: " + json.dumps(_chunk("lo")).encode() + b"\n")  # an event split in two
        handler.chunk(b"\n" + _sse(_chunk("", "stop")))
        handler.chunk(_sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 7}}, "[DONE]"))
        handler.chunk(b"")

    srv, url = stub({"POST /v1/completions": completions})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    events = _run(engine, "hi", temperature=0.5, top_k=7, min_p=0.1, repeat_penalty=1.1, seed=3, stop=("END",))
    engine.close()
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    final = events[-1]
    assert final.error is None and final.text == "Hello"
    assert final.metrics.tokens == 7 and final.metrics.prompt_tokens == 3  # the server's usage wins
    assert final.metrics.stop_reason == "stop"  # a stop string was sent, so "stop" may be one
    body = next(b for route, _, b in srv.requests if route == "POST /v1/completions")
    assert body["prompt"] == "hi" and body["model"] == "stub-model" and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_k"], body["min_p"], body["repeat_penalty"], body["seed"]) == (
        0.5,
        7,
        0.1,
        1.1,
        3,
    )
    assert body["max_tokens"] == 8 and body["stop"] == ["END"] and body["top_p"] == 0.95


def test_no_tokenize_endpoint_gives_a_flagged_estimate(stub):
    srv, url = stub({})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    prompt = engine.render(get_mode("raw"), "x" * 40, [], SamplingSettings())
    engine.close()
    assert prompt.token_count_estimated and prompt.token_count == 10


def test_401_is_clear_and_never_shows_the_key(stub, monkeypatch):
    secret = "sk-test-very-secret-value"
    monkeypatch.setenv("DUET_TEST_KEY", secret)

    def denied(handler):
        handler.reply(401, {"error": {"message": f"Incorrect API key provided: {secret}"}})

    srv, url = stub({"GET /v1/models": denied})
    engine = OpenAIEngine(ModelSpec(source=f"{url}?key_env=DUET_TEST_KEY#stub-model"))
    with pytest.raises(DuetError) as err:
        engine.load()
    engine.close()
    assert "rejected the API key (HTTP 401)" in str(err.value) and "DUET_TEST_KEY" in str(err.value)
    assert secret not in str(err.value) and secret not in repr(engine.__dict__)
    assert srv.requests[0][1]["Authorization"] == f"Bearer {secret}"


def test_missing_key_variable_and_key_in_url_are_refused(monkeypatch):
    monkeypatch.delenv("DUET_NO_SUCH_KEY", raising=False)
    engine = OpenAIEngine(ModelSpec(source="http://127.0.0.1:1/v1?key_env=DUET_NO_SUCH_KEY#m"))
    with pytest.raises(DuetError, match="DUET_NO_SUCH_KEY .* is not set"):
        engine.load()
    with pytest.raises(DuetError) as err:
        parse_remote_source("http://user:hunter2secret@127.0.0.1:8080/v1#m")
    assert "hunter2secret" not in str(err.value) and "environment variable" in str(err.value)


def test_source_parsing():
    r = parse_remote_source("https://example.org:8443?connect_timeout=2&read_timeout=30#org/model-x")
    assert r.base_url == "https://example.org:8443/v1" and r.model == "org/model-x" and r.server == "example.org:8443"
    assert (r.connect_timeout, r.read_timeout) == (2.0, 30.0) and r.root_url == "https://example.org:8443"
    with pytest.raises(DuetError, match="unknown option"):
        parse_remote_source("http://h:1/v1?api_key=abc#m")


def test_5xx_is_a_one_line_error(stub):
    def broken(handler):
        handler.reply(500, {"error": {"message": "llama_decode failed", "type": "server_error"}})

    srv, url = stub({"POST /v1/chat/completions": broken})
    session = PaneSession("third", ModelSpec(source=f"{url}#stub-model"), "chat", SamplingSettings(max_tokens=8))
    session.load().result(timeout=10)
    turn = session.send("hi").result(timeout=10)
    session.close()
    assert turn.metrics.stop_reason == "error" and turn.text == ""
    assert (
        "HTTP 500" in turn.error
        and "llama_decode failed" in turn.error
        and url.split("//")[1].split("/")[0] in turn.error
    )
    assert "\n" not in turn.error


def test_stream_cut_mid_chunk_keeps_partial_text(stub):
    def cut(handler):
        handler.start_chunked()
        handler.chunk(_sse(_chunk("partial "), _chunk("answer")))
        handler.wfile.write(b'40\r\ndata: {"choi')  # a chunk that never completes
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)
        handler.close_connection = True

    srv, url = stub({"POST /v1/completions": cut})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    final = _run(engine)[-1]
    engine.close()
    assert final.text == "partial answer" and final.metrics.stop_reason == "error"
    assert "cut the answer off mid-stream" in final.error and "partial answer is kept" in final.error


def test_stream_ending_without_finish_is_an_error(stub):
    def early(handler):
        handler.start_chunked()
        handler.chunk(_sse(_chunk("only this")))
        handler.chunk(b"")  # a clean end of body, but no finish_reason and no [DONE]

    srv, url = stub({"POST /v1/completions": early})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    final = _run(engine)[-1]
    engine.close()
    assert final.text == "only this" and final.metrics.stop_reason == "error"
    assert "before the answer was finished" in final.error


def test_cancel_does_not_wait_for_a_silent_server(stub):
    release = threading.Event()

    def stall(handler):
        handler.start_chunked()
        handler.chunk(_sse(_chunk("first")))
        release.wait(20)  # says nothing more until the test ends

    srv, url = stub({"POST /v1/completions": stall})
    engine = OpenAIEngine(ModelSpec(source=f"{url}?read_timeout=30#stub-model"))
    engine.load()
    cancel = threading.Event()
    settings = SamplingSettings(max_tokens=8)
    stream = engine.stream(engine.render(get_mode("raw"), "hi", [], settings), settings, cancel)
    assert next(stream) == TextDelta("first")
    cancel.set()
    started = time.monotonic()
    rest = list(stream)
    elapsed = time.monotonic() - started
    release.set()
    engine.close()
    final = rest[-1]
    assert elapsed < 1 and final.metrics.stop_reason == "cancelled" and final.text == "first" and final.error is None


def test_mid_stream_error_event(stub):
    def failing(handler):
        handler.start_chunked()
        handler.chunk(_sse(_chunk("so far")))
        handler.chunk(b'error: {"code": 500, "message": "out of memory", "type": "server_error"}\n\n')
        handler.chunk(b"")

    srv, url = stub({"POST /v1/completions": failing})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    final = _run(engine)[-1]
    engine.close()
    assert final.text == "so far" and final.metrics.stop_reason == "error" and "out of memory" in final.error


def test_read_timeout_mid_answer_keeps_partial_text(stub):
    release = threading.Event()

    def stall(handler):
        handler.start_chunked()
        handler.chunk(_sse(_chunk("so far")))
        release.wait(20)

    srv, url = stub({"POST /v1/completions": stall})
    engine = OpenAIEngine(ModelSpec(source=f"{url}?read_timeout=0.5#stub-model"))
    engine.load()
    final = _run(engine)[-1]
    release.set()
    engine.close()
    assert final.text == "so far" and final.metrics.stop_reason == "error"
    assert "sent nothing for 0.5 s mid-answer" in final.error


# -- duet ask --third -----------------------------------------------------------------------------------------
def test_ask_third_pane_options():
    from tui.cli.main import build_parser
    from tui.cli.options import pane_configs

    args = build_parser().parse_args(["ask", "hi", "--third", "http://127.0.0.1:9/v1#m"])
    configs = pane_configs(args)
    assert [(c.role, c.mode) for c in configs] == [("base", "raw"), ("chat", "chat"), ("third", "chat")]
    assert configs[2].spec.source == "http://127.0.0.1:9/v1#m"
    args = build_parser().parse_args(["ask", "hi", "--third", "embedded:smollm2-135m-instruct", "--third-mode", "inst"])
    assert pane_configs(args)[2].mode == "inst"
    assert len(pane_configs(build_parser().parse_args(["ask", "hi"]))) == 2


def test_duet_ask_with_a_remote_third_pane(server):
    from conftest import run_duet

    result = run_duet(
        "ask",
        "--json",
        "--no-save",
        "--max-tokens",
        "8",
        "--third",
        f"{server}#{MODEL_ID}",
        "--third-mode",
        "raw",
        "The capital of France is",
    )
    assert result.returncode == 0, result.stderr
    panes = json.loads(result.stdout)["panes"]
    assert [p["role"] for p in panes] == ["base", "chat", "third"]
    third = panes[2]
    assert third["error"] is None and third["mode"] == "raw" and "Paris" in third["text"]
    assert third["model"] == f"{MODEL_ID} @ {server.split('//')[1].split('/')[0]}" and third["metrics"]["tokens"] == 8


def test_llama_cpp_server_tokenizer_counts_the_templated_chat_prompt(stub):
    def tokenize(handler):
        handler.reply(200, {"tokens": list(range(len(handler.server.requests[-1][2]["content"].split())))})

    def apply_template(handler):
        handler.reply(200, {"prompt": "<|im_start|>user hi there <|im_end|> <|im_start|>assistant"})

    srv, url = stub({"POST /tokenize": tokenize, "POST /apply-template": apply_template})
    engine = OpenAIEngine(ModelSpec(source=f"{url}#stub-model"))
    engine.load()
    raw = engine.render(get_mode("raw"), "one two three", [], SamplingSettings())
    chat = engine.render(get_mode("chat"), "hi there", [], SamplingSettings())
    engine.close()
    assert raw.token_count == 3 and not raw.token_count_estimated
    assert chat.token_count == 5 and not chat.token_count_estimated
    assert any(
        r == "POST /apply-template" and b["messages"] == [{"role": "user", "content": "hi there"}]
        for r, _, b in srv.requests
    )
    assert not any(r == "POST /extras/tokenize" for r, _, _ in srv.requests)  # found /tokenize first


async def test_app_with_a_remote_third_pane_at_120_columns(server, tmp_path, monkeypatch):
    """The app's third pane talks to the server; all three answer, keys act on it, layout holds."""
    from textual.widgets import Static

    from models.pair import PaneConfig
    from tui.app import DuetApp
    from tui.widgets.pane import AnswerTurn
    from tui.widgets.prompt_input import PromptInput

    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
        PaneConfig("third", ModelSpec(source=f"{server}#{MODEL_ID}"), "chat"),
    ]
    app = DuetApp(panes, SamplingSettings(max_tokens=12))
    async with app.run_test(size=(120, 36)) as pilot:
        while not all(p.info or p.load_error for p in app.panes):
            await pilot.pause(0.05)
        third = app.pane("third")
        assert third.load_error is None
        header = str(third.query_one(".pane-header", Static).render())
        assert "THIRD" in header and "server" in header and "mode chat" in header
        assert not app.query_one("#panes").has_class("-stacked")
        assert all(p.size.width >= 38 for p in app.panes)
        app.query_one(PromptInput).text = "The capital of France is"
        await pilot.press("enter")
        while app.busy or not all(s.turns for s in app.sessions.values()):
            await pilot.pause(0.05)
        for pane in app.panes:
            assert pane.query_one(AnswerTurn).text.strip(), pane.role
            assert "tok/s" in str(pane.query_one(".pane-status", Static).render())
        assert app.active_pane.role == "third"
        await pilot.press("f2")  # chat -> raw on the third pane
        assert app.sessions["third"].mode == "raw"
        await pilot.resize_terminal(100, 36)
        await pilot.pause(0.1)
        assert app.query_one("#panes").has_class("-stacked")
