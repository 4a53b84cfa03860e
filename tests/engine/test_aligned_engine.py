"""Aligned mode on the real embedded models: the cached prefix gives the answers a cold evaluation
gives, token for token, on Gemma 3 (sliding-window attention) and SmolLM2; Esc stops a warm-up;
the stop strings end a real answer at the next example marker."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from functools import partial

import pytest

from models.aligned.render import active_prompt_file
from models.engines.llama import kv_state
from models.events import Finished, TextDelta
from models.prompts import Exchange, get_mode
from models.settings import SamplingSettings
from tests.support.panes import GEMMA, SMOLLM2, loaded_engine, pane_session

ALIGNED = get_mode("aligned")
SHORT = SamplingSettings(max_tokens=32)
QUESTIONS = (
    "Tell me how to train my dog to sit",
    "What is the capital of France?",
    "Agent: I'm here to help you with your order.\nCustomer: I didn't get my item\nAgent:",
)
MODELS = (GEMMA, SMOLLM2)
pane = partial(pane_session, sampling=SHORT)


def answer(engine, text, context=(), sampling=SHORT):
    """The answer, with the stop strings left out so that every one of its tokens is compared
    (a stop string can cut a token in two, and then Finished has no token ids)."""
    rendered = engine.render(ALIGNED, text, list(context), sampling)
    events = list(engine.stream(replace(rendered, stop=()), sampling, threading.Event()))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.error is None
    return finished, rendered


def cold_answer(source, text, context=()):
    """The answer of a model that has never evaluated anything: loaded for this answer alone."""
    with loaded_engine(source) as engine:
        return answer(engine, text, context)[0]


@pytest.mark.parametrize("source", MODELS)
def test_cached_and_cold_answers_are_token_for_token_identical(source):
    with loaded_engine(source) as engine:
        assert (engine.info.sliding_window is not None) == (source == GEMMA)  # both kinds are covered
        warmed = engine.warm(ALIGNED)
        assert warmed > 500  # the header and the three examples, evaluated ahead
        assert engine.warm(ALIGNED) == 0  # saved already: nothing is evaluated again
        cached = {}
        for text in QUESTIONS:
            engine.warm(ALIGNED)  # what the session does after every answer: the saved state copied back
            finished, rendered = answer(engine, text)
            assert list(rendered.tokens[:warmed]) == list(engine._prefix.tokens)
            cached[text] = finished
        again, _ = answer(engine, QUESTIONS[0])  # straight after another answer: restored first
        assert again.token_ids == cached[QUESTIONS[0]].token_ids
        for text in QUESTIONS:
            cold = cold_answer(source, text)
            assert cold.token_ids is not None and len(cold.token_ids) == SHORT.max_tokens
            assert cold.token_ids == cached[text].token_ids and cold.text == cached[text].text


@pytest.mark.parametrize("source", MODELS)
def test_a_conversation_continues_identically_cached_or_cold(source):
    with loaded_engine(source) as engine:
        first, _ = answer(engine, QUESTIONS[1])
        exchanges = [Exchange(QUESTIONS[1], first.text)]
        cached, rendered = answer(engine, "And of Italy?", exchanges)
        assert "Question: What is the capital of France?\nAnswer: " in rendered.text
        assert rendered.text.endswith("Question: And of Italy?\nAnswer:") and rendered.context_used == 1
        assert cold_answer(source, "And of Italy?", exchanges).token_ids == cached.token_ids


def test_the_first_answer_without_a_warm_up_is_the_same_as_a_warmed_one():
    """The cold path builds the very state a warm-up saves (prefix_cache.py), then answers from it."""
    with loaded_engine(GEMMA) as engine:
        kv_state.forget(engine._llama)
        unwarmed, _ = answer(engine, QUESTIONS[0])  # builds and saves the prefix itself
        assert engine._prefix.tokens is not None
        engine._prefix.forget()
        kv_state.forget(engine._llama)
        engine.warm(ALIGNED)
        assert answer(engine, QUESTIONS[0])[0].token_ids == unwarmed.token_ids


def test_a_real_answer_stops_at_the_end_marker_and_never_shows_it():
    with loaded_engine(SMOLLM2) as engine:
        rendered = engine.render(ALIGNED, QUESTIONS[1], [], SamplingSettings(max_tokens=64))
        events = list(engine.stream(rendered, SamplingSettings(max_tokens=64), threading.Event()))
    finished = events[-1]
    layout = active_prompt_file().prompt.layout
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert finished.metrics.stop_reason == "stop" and finished.metrics.tokens < 64
    assert "Paris" in finished.text and streamed == finished.text
    assert not any(marker in streamed for marker in layout.markers())


def test_the_inspector_sees_the_whole_text_and_its_token_count():
    with pane("aligned", SMOLLM2, "aligned") as session:
        session.load().result(timeout=120)
        preview = session.render_preview("Why is the sea salty?").result(timeout=60)
        expected = ALIGNED.build("Why is the sea salty?", [], None)
        assert preview.text == expected.text and preview.stop == expected.stop
        assert preview.token_count == len(preview.tokens) > 600
        assert preview.prompt_file == active_prompt_file().ref


def test_esc_stops_a_warm_up_that_is_running_and_the_next_answer_is_unchanged():
    with pane("aligned", GEMMA, "aligned") as session:
        session.load().result(timeout=120)
        started = time.perf_counter()
        assert session.warming.result(timeout=120) > 500
        full = time.perf_counter() - started  # a whole warm-up, on this machine
        engine = session._engine
        engine._prefix.forget()
        warming = session.warm()
        time.sleep(full / 4)  # well inside the prefix's decodes
        assert not warming.done()
        stopped = time.perf_counter()
        session.cancel()
        assert warming.result(timeout=5) == 0  # stopped: nothing was saved
        assert time.perf_counter() - stopped < 0.5
        assert engine._prefix.tokens is None
        turn = session.send(QUESTIONS[0]).result(timeout=120)  # with the stop strings, as sessions send
        with loaded_engine(GEMMA) as cold:
            rendered = cold.render(ALIGNED, QUESTIONS[0], [], SHORT)
            expected = list(cold.stream(rendered, SHORT, threading.Event()))[-1]
        assert turn.error is None and turn.text == expected.text and turn.metrics.tokens == expected.metrics.tokens
        assert session.warming.result(timeout=30) == 0  # after the answer: copied back, not evaluated
        assert engine._prefix.live
