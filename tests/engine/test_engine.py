"""The engine and pane sessions on the real embedded models."""

import re
import threading
import time

import pytest

from models.errors import DuetError
from models.events import Finished, Notice, TextDelta
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

DOG = "Tell me how to train my dog to sit"
SHORT = SamplingSettings(max_tokens=24)


@pytest.fixture(scope="module")
def base():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m"), "raw", SHORT)
    session.load().result()
    yield session
    session.close()


@pytest.fixture(scope="module")
def chat():
    session = PaneSession("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat", SHORT)
    session.load().result()
    yield session
    session.close()


def answer(session, text, **sampling):
    if sampling:
        session.sampling = session.sampling.model_copy(update=sampling)
    events = []
    turn = session.send(text, events.append).result(timeout=120)
    return turn, events


def test_both_models_load_with_metadata(base, chat):
    assert base.info.architecture == "gemma3" and base.info.n_ctx == 2048
    assert chat.info.architecture == "llama" and chat.info.has_chat_template
    from models.engines.llama.runtime import gpu_offload_supported

    # Whatever this build is, the header tells the truth about it: a CPU build places nothing on
    # a GPU; a GPU build was asked for every layer (n_gpu_layers=-1), output layer included.
    supported = gpu_offload_supported()
    assert base.info.gpu_offload_supported is supported
    total = base.info.n_layers + 1
    assert base.info.gpu_layers == (total if supported else 0)
    assert base.info.placement == (f"GPU {total}/{total} layers" if supported else "CPU")


def test_raw_and_chat_answers_differ_and_stream(base, chat):
    base.clear(), chat.clear()
    f_base, f_chat = base.send(DOG), chat.send(DOG)  # both at once, on their own threads
    raw_turn, chat_turn = f_base.result(120), f_chat.result(120)
    assert raw_turn.rendered.text == DOG
    assert "<|im_start|>user\n" + DOG in chat_turn.rendered.text
    assert raw_turn.text.strip() and chat_turn.text.strip()
    assert raw_turn.text != chat_turn.text
    for turn in (raw_turn, chat_turn):
        m = turn.metrics
        assert m.tokens > 0 and m.ttft_s > 0 and m.tokens_per_s > 0
        assert m.stop_reason in ("eos", "length")
        assert m.prompt_tokens == turn.rendered.token_count


def test_events_are_deltas_then_one_finished(chat):
    chat.clear()
    turn, events = answer(chat, "Name a colour.")
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == turn.text == events[-1].text


def test_temperature_zero_is_repeatable(base):
    base.clear()
    first, _ = answer(base, "The capital of France is", temperature=0.0)
    second, _ = answer(base, "The capital of France is", temperature=0.0)
    assert first.text == second.text


def test_fixed_seed_is_repeatable_when_sampling(base):
    answer(base, "The capital of France is")  # whatever came before must not change the answer
    first, _ = answer(base, "Once upon a time", temperature=0.9, seed=7)
    second, _ = answer(base, "Once upon a time", temperature=0.9, seed=7)
    assert first.text == second.text
    base.sampling = SHORT


def test_inst_mode_wraps_the_prompt(chat):
    chat.clear()
    chat.mode = "inst"
    try:
        turn, _ = answer(chat, DOG)
    finally:
        chat.mode = "chat"
    assert turn.rendered.text == f"[INST]{DOG}[/INST]"
    assert turn.rendered.context_used == 0


def test_cancel_stops_within_a_token(base):
    base.clear()
    base.sampling = SamplingSettings(max_tokens=256)
    started = threading.Event()
    seen = []

    def on_event(event):
        seen.append(event)
        if isinstance(event, TextDelta):
            started.set()

    try:
        future = base.send("List every country in the world:", on_event)
        assert started.wait(60)
        cancelled_at = time.perf_counter()
        base.cancel()
        turn = future.result(60)
        stop_latency = time.perf_counter() - cancelled_at
    finally:
        base.sampling = SHORT
    assert turn.metrics.stop_reason == "cancelled"
    assert 0 < turn.metrics.tokens < 256
    assert turn.text  # the partial answer is kept
    # One token takes ~30 ms here; anything near a second means cancel waited for the end.
    assert stop_latency < 1.0, stop_latency


def test_chat_history_grows_and_is_sent(chat):
    chat.clear()
    answer(chat, "My name is Ada.")
    answer(chat, "What is my name?")
    preview = chat.render_preview("And again?").result(30)
    assert preview.context_used == 2
    assert "My name is Ada." in preview.text and "What is my name?" in preview.text


def test_history_is_trimmed_before_it_overflows():
    session = PaneSession(
        "chat",
        ModelSpec(source="embedded:smollm2-135m-instruct", n_ctx=256),
        "chat",
        SamplingSettings(max_tokens=40),
    )
    try:
        session.load().result(60)
        notices = []
        for i in range(6):
            turn, events = answer(session, f"Turn {i}: tell me one fact about the number {i}.")
            assert turn.error is None, turn.error
            notices += [e for e in events if isinstance(e, Notice)]
        assert notices and "oldest exchange" in notices[-1].message
        assert turn.rendered.dropped_turns > 0
        assert turn.rendered.token_count + 40 <= 256
        assert len(session.turns) == 6  # nothing is forgotten from the record, only from the prompt
    finally:
        session.close()


def test_prompt_longer_than_context_is_an_error_not_a_crash():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m", n_ctx=128), "raw", SHORT)
    try:
        session.load().result(60)
        turn, events = answer(session, "word " * 400)
        found = re.search(r"the prompt is (\d+) tokens but the context holds (\d+)", turn.error or "")
        assert found, turn.error
        assert int(found[1]) >= int(found[2]) == session.info.n_ctx  # n_ctx 128 is padded to 256
        assert "shorten the prompt" in turn.error
        assert isinstance(events[-1], Finished) and events[-1].metrics.stop_reason == "error"
        ok, _ = answer(session, "Hello")
        assert ok.error is None and ok.text  # the pane keeps working
    finally:
        session.close()


def test_chat_mode_without_template_is_a_clear_error(base):
    base.mode = "chat"
    try:
        turn, _ = answer(base, DOG)
    finally:
        base.mode = "raw"
    assert turn.error and "no chat template" in turn.error and "raw or inst" in turn.error


def test_chat_format_override_renders_named_format():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m", chat_format="llama-2"), "chat", SHORT)
    try:
        session.load().result(60)
        preview = session.render_preview(DOG).result(30)
        assert "<s>[INST]" in preview.text and preview.text.rstrip().endswith("[/INST]")
        assert DOG in preview.text
    finally:
        session.close()


def test_unknown_chat_format_fails_load():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m", chat_format="nope"), "chat")
    try:
        with pytest.raises(DuetError, match="unknown chat format 'nope'"):
            session.load().result(60)
        assert session.load_error
    finally:
        session.close()


def test_stop_strings_end_the_answer(chat):
    chat.clear()
    turn, events = answer(chat, "Count from 1 to 10 separated by commas.", stop=("5",), max_tokens=60)
    chat.sampling = SHORT
    assert turn.metrics.stop_reason == "stop"
    assert "5" not in turn.text
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == turn.text


def test_small_context_is_padded_like_llama_cpp_does():
    """llama.cpp rounds the context up to 256; a prompt that fits that must not crash the buffers."""
    session = PaneSession(
        "base", ModelSpec(source="embedded:gemma-3-270m", n_ctx=64), "raw", SamplingSettings(max_tokens=8)
    )
    try:
        info = session.load().result(60)
        assert info.n_ctx == 256
        turn, _ = answer(session, "word " * 57)
        assert turn.error is None and turn.metrics.tokens > 0
    finally:
        session.close()


def test_the_warmed_chat_prefix_speeds_up_without_changing_answers(chat_path):
    """The template prefix is evaluated ahead of the message; answers match a cold evaluation."""
    from models.engines.llama.engine import LlamaEngine
    from models.prompts import get_mode

    engine = LlamaEngine(ModelSpec(source=str(chat_path), n_ctx=512))
    engine.load()
    sampling = SamplingSettings(max_tokens=24)
    mode = get_mode("chat")

    def reply(question):
        rendered = engine.render(mode, question, [], sampling)
        events = list(engine.stream(rendered, sampling, threading.Event()))
        return events[-1].text, rendered

    try:
        for question in ("Hello", DOG):
            engine._llama.reset()
            cold, rendered = reply(question)
            warmed = engine.warm(mode)
            assert 10 < warmed < rendered.token_count  # the system prompt and headers, not the message
            assert engine._llama.n_tokens == warmed
            assert list(rendered.tokens[:warmed]) == engine._llama._input_ids[:warmed].tolist()
            assert engine.warm(mode) == 0  # already warm
            assert reply(question)[0] == cold
            # Another conversation's cache shares the prefix too: it is kept, the rest re-read.
            reply("Name a colour.")
            assert reply(question)[0] == cold
    finally:
        engine.close()


def test_sessions_warm_after_load_and_clear_but_not_sliding_window_models(base, chat):
    assert base.info.sliding_window and not chat.info.sliding_window
    chat.clear()
    assert chat.warming.result(timeout=30) > 10
    base.mode = "inst"
    try:
        base.clear()
        assert base.warming.result(timeout=30) == 0  # Gemma 3: split evaluation changes answers
    finally:
        base.mode = "raw"
