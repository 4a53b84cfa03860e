"""Panes backed by an OpenAI-compatible server, against a real llama_cpp.server on loopback (and
the app and `duet ask` with such a pane). The stub-server and no-server cases are in
test_openai_source_and_stub.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from models.engines.openai.engine import OpenAIEngine, RemotePrompt
from models.errors import DuetError
from models.events import Finished, TextDelta
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tests.support.openai_stub import free_port

MODEL_ID = "smollm2"
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"  # the model keeps counting: a long answer to cut into


# llama_cpp.server as `python -m` runs it, with the one change Duet makes to every llama.cpp load on
# a build with AMX kernels (models/engines/llama/runtime.py: without it the first decode segfaults
# on this project's machines).
SERVER_MAIN = (
    "import llama_cpp, runpy; from models.engines.llama.runtime import keep_weights_out_of_amx; "
    "keep_weights_out_of_amx(llama_cpp); runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)"
)


def _start_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-c",
        SERVER_MAIN,
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
    root = Path(__file__).resolve().parents[2]  # SERVER_MAIN imports models/
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True, cwd=root)
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
    port = free_port()
    proc = _start_server(chat_path, port, tmp_path_factory.mktemp("server") / "server.log")
    yield f"http://127.0.0.1:{port}/v1"
    _stop(proc)


def _session(source: str, mode: str, **sampling) -> PaneSession:
    session = PaneSession("third", ModelSpec(source=source), mode, SamplingSettings(**{"max_tokens": 16, **sampling}))
    session.load().result(timeout=30)
    return session


# -- against a real llama_cpp.server --------------------------------------------------------------------
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


def test_server_killed_mid_stream_keeps_partial_text(chat_path, tmp_path):
    port = free_port()
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


# -- duet ask --third and the app ------------------------------------------------------------------------------
def test_duet_ask_with_a_remote_third_pane(server):
    from tests.support.duet_process import run_duet

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
        # At 38 columns the role, mode and view stay; the model label says it is at a server ("@ host").
        assert "THIRD" in header and " @ " in header and "mode chat" in header
        assert third.info.placement == "server"
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
