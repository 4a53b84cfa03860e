"""Panes backed by an OpenAI-compatible server, without a real one: the source syntax, and a tiny
stub server (tests/openai_stub.py) for the failures a real server will not produce on demand
(401, 5xx, a stream cut mid-answer). The cases against a real llama_cpp.server are in
test_openai_engine.py."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from models.engines import make_engine
from models.engines.openai.engine import OpenAIEngine
from models.engines.openai.source import parse_remote_source
from models.errors import DuetError
from models.events import TextDelta
from models.files.sources import is_remote_source
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tests.support.openai_stub import StubServers, chunk, free_port, sse


@pytest.fixture
def stub():
    servers = StubServers()
    yield servers.start
    servers.close()


def _run(engine: OpenAIEngine, text: str = "hi", mode: str = "raw", cancel=None, **sampling):
    settings = SamplingSettings(**{"max_tokens": 8, **sampling})
    prompt = engine.render(get_mode(mode), text, [], settings)
    return list(engine.stream(prompt, settings, cancel or threading.Event()))


# -- no server ------------------------------------------------------------------------------------------------
def test_make_engine_picks_the_http_engine():
    assert isinstance(make_engine(ModelSpec(source="http://127.0.0.1:1/v1#m")), OpenAIEngine)
    assert is_remote_source("HTTPS://example.org/v1#m") and not is_remote_source("embedded:x")


def test_wrong_port_is_a_one_line_connection_error():
    port = free_port()
    session = PaneSession("chat", ModelSpec(source=f"http://127.0.0.1:{port}/v1#smollm2"), "chat")
    try:
        with pytest.raises(DuetError) as err:
            session.load().result(timeout=30)
    finally:
        session.close()
    message = str(err.value)
    assert "connection refused" in message and f"127.0.0.1:{port}" in message and "\n" not in message


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


# -- against a stub server ----------------------------------------------------------------------------------
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


def test_sse_parsing_usage_comments_and_request_fields(stub):
    def completions(handler):
        handler.start_chunked()
        handler.chunk(b": keep-alive comment\n\n")
        handler.chunk(sse(chunk("Hel")))
        handler.chunk(b"data: " + json.dumps(chunk("lo")).encode() + b"\n")  # an event split in two
        handler.chunk(b"\n" + sse(chunk("", "stop")))
        handler.chunk(sse({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 7}}, "[DONE]"))
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
        handler.chunk(sse(chunk("partial "), chunk("answer")))
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
        handler.chunk(sse(chunk("only this")))
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
        handler.chunk(sse(chunk("first")))
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
        handler.chunk(sse(chunk("so far")))
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
        handler.chunk(sse(chunk("so far")))
        release.wait(20)

    srv, url = stub({"POST /v1/completions": stall})
    engine = OpenAIEngine(ModelSpec(source=f"{url}?read_timeout=0.5#stub-model"))
    engine.load()
    final = _run(engine)[-1]
    release.set()
    engine.close()
    assert final.text == "so far" and final.metrics.stop_reason == "error"
    assert "sent nothing for 0.5 s mid-answer" in final.error


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
