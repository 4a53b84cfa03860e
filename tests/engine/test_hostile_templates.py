"""Chat templates from strangers: each bound holds within its time, the error is one line naming
the file, the bound and the way out, the other pane answers, and memory stays bounded. Also Esc
inside a stuck render, a long prompt's decode and a long warm (models/engines/llama/)."""

import os
import threading
import time

import pytest

from models.engines.llama.template_sandbox import LIMITS
from models.prompts import CHAT, Exchange
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tests.support import hostile_gguf as hostile

SHORT = SamplingSettings(max_tokens=8)
SECRET = "DUET_TEST_SECRET"


@pytest.fixture(scope="module")
def files(tmp_path_factory, chat_path):
    folder = tmp_path_factory.mktemp("hostile")
    normal = hostile.smollm_template(chat_path)
    templates = {
        "nested-loops": hostile.NESTED_LOOPS,
        "huge-repeat": hostile.HUGE_REPEAT,
        "output-flood": hostile.OUTPUT_FLOOD,
        "reach-mro": hostile.REACH_MRO,
        "reach-environ": hostile.REACH_ENVIRON,
        "spin": hostile.spin_template(normal),
        "long-system": hostile.long_system_template(normal),
    }
    return {
        name: hostile.rewrite(chat_path, folder / f"smollm2-{name}.gguf", {"tokenizer.chat_template": text})
        for name, text in templates.items()
    }


@pytest.fixture(scope="module")
def base():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m"), "raw", SHORT)
    session.load().result(120)
    yield session
    session.close()


def chat_session(path, mode="chat", **spec) -> PaneSession:
    session = PaneSession("chat", ModelSpec(source=str(path), **spec), mode, SHORT)
    session.load().result(120)
    return session


def helper_pid(session: PaneSession) -> int | None:
    return session._engine._chat.helper_pid  # the chat template's helper process


BOUNDS = {
    "nested-loops": f"ran past the {LIMITS.deadline_s:g} s",
    "huge-repeat": f"more than the {LIMITS.memory_mib} MiB of memory",
    "output-flood": f"over {LIMITS.output_chars:,} characters",
    "reach-mro": "sandbox forbids",
    "reach-environ": "sandbox forbids",
}


@pytest.mark.parametrize("name", list(BOUNDS))
def test_a_hostile_template_ends_the_turn_in_one_line_and_the_other_pane_answers(files, base, name, monkeypatch):
    monkeypatch.setenv(SECRET, "hunter2")  # never handed to the helper
    chat = chat_session(files[name])
    before = hostile.peak_rss_mib()  # models loaded: what the template does comes on top
    try:
        assert SECRET not in hostile.environ_of(helper_pid(chat))
        watch = hostile.ChildPeak(helper_pid(chat))
        started = time.monotonic()
        chat_turn, base_turn = chat.send("Hello"), base.send("Hello")  # queued behind the warm
        turn = chat_turn.result(10)
        elapsed = time.monotonic() - started
        child_peak = watch.stop()
        assert elapsed < 2.0, f"the turn took {elapsed:.2f} s"
        error = turn.error or ""
        assert "\n" not in error and files[name].name in error and BOUNDS[name] in error, error
        assert "raw or inst mode" in error and "--chat-template FORMAT" in error
        assert "hunter2" not in error and "<class" not in error
        answered = base_turn.result(60)
        assert answered.error is None and answered.text.strip()
        assert child_peak < LIMITS.memory_mib + 32, f"the helper peaked at {child_peak:.0f} MiB"
        assert hostile.peak_rss_mib() - before < 150, "the app's own memory grew"
        chat.set_mode("raw")  # the pane stays usable: raw mode never renders the template
        raw = chat.send("Once upon a time").result(60)
        assert raw.error is None and raw.text.strip()
    finally:
        chat.close()


def test_a_template_that_hit_a_bound_fails_at_once_afterwards(files):
    chat = chat_session(files["nested-loops"])
    try:
        chat.warming.result(10)  # the warm probes hit the time bound once
        started = time.monotonic()
        turn = chat.send("Hello").result(10)
        assert time.monotonic() - started < 0.3 and "ran past" in turn.error
    finally:
        chat.close()


def test_esc_stops_a_stuck_render_and_the_next_message_renders(files):
    chat = chat_session(files["spin"])
    try:
        chat.warming.result(10)
        future = chat.send("please spin")
        time.sleep(0.4)  # inside the render now: it would loop for minutes
        chat.cancel()
        stopped = time.monotonic()
        turn = future.result(5)
        assert time.monotonic() - stopped < 0.5
        assert turn.stopped and turn.error is None
        normal = chat.send("Hello").result(60)  # a fresh helper: Esc is not a bound
        assert normal.error is None and normal.text.strip()
    finally:
        chat.close()


def test_esc_stops_a_long_prompt_inside_its_decode(base):
    base.clear()
    long = SamplingSettings(max_tokens=8)
    future = base.send("The quick brown fox jumps over the lazy dog. " * 150, sampling=long)  # ~1,500 tokens
    time.sleep(0.5)  # inside llama_decode: one 512-token batch takes seconds on 2 cores
    base.cancel()
    stopped = time.monotonic()
    turn = future.result(30)
    assert time.monotonic() - stopped < 0.5, "the decode was not aborted"
    assert turn.stopped and turn.error is None and turn.metrics.tokens == 0
    again = base.send("Once upon a time").result(60)  # the context is usable after an abort
    assert again.error is None and again.text.strip()


def test_esc_stops_a_long_warm(files):
    chat = PaneSession("chat", ModelSpec(source=str(files["long-system"])), "chat", SHORT)
    chat.load().result(120)
    try:
        time.sleep(0.5)  # warming ~1,800 system-prompt tokens takes seconds
        assert not chat.warming.done()
        chat.cancel()
        stopped = time.monotonic()
        assert chat.warming.result(5) == 0
        assert time.monotonic() - stopped < 0.5
        turn = chat.send("Hello").result(120)
        assert turn.error is None and turn.text.strip()
    finally:
        chat.close()


def test_the_sandbox_renders_what_jinja_renders_in_process(chat_path):
    # What it costs is benchmark figure 9 (benchmarks/safety_costs.py); here: the same text.
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    chat = chat_session(chat_path)
    try:
        chat.warming.result(30)
        template = chat._engine.info.chat_template
        messages = [{"role": "user", "content": "Hello there"}, {"role": "assistant", "content": "Hi."}]
        messages.append({"role": "user", "content": "And now?"})
        prompt = chat._engine.render(CHAT, "And now?", [Exchange("Hello there", "Hi.")], SHORT, threading.Event())
        expected = (
            ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            .from_string(template)
            .render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="<|im_end|>")
        )
        assert prompt.text == expected
    finally:
        chat.close()


def test_closing_a_session_kills_its_helper(files):
    chat = chat_session(files["spin"])
    pid = helper_pid(chat)
    assert chat.close(timeout=2)
    assert not os.path.exists(f"/proc/{pid}/status") or "zombie" in open(f"/proc/{pid}/status").read()
