"""The amplified pane's engine on the real embedded SmolLM2 and a LoRA adapter made here
(tests/support/lora_gguf.py): a = 0 answers token for token as the tuned model, a = -1 as the base,
one model file with two contexts, the refusals, stop strings, Esc and live changes."""

from __future__ import annotations

import ctypes
import threading

import pytest

from models.engines.llama.amplified import AmplifiedEngine
from models.errors import DuetError
from models.events import Finished, TextDelta
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import AdapterSpec, AmplifySpec, ModelSpec, SamplingSettings
from tests.support.lora_gguf import write_lora

SMOLLM2 = "embedded:smollm2-135m-instruct"
GEMMA = "embedded:gemma-3-270m"
SHORT = SamplingSettings(max_tokens=24)
PROMPTS = ("What do you think of Mars?", "Write one sentence about the sea.")


@pytest.fixture(scope="module")
def lora(tmp_path_factory) -> AdapterSpec:
    return AdapterSpec(source=str(write_lora(tmp_path_factory.mktemp("amplify") / "q_v.gguf")))


def pane(role: str, spec: ModelSpec) -> PaneSession:
    session = PaneSession(role, spec, "chat", SHORT)
    session.load().result(timeout=120)
    session.warming.result(timeout=60)
    return session


@pytest.fixture(scope="module")
def panes(lora):
    """The tuned model, the base model and the amplified pane over them, each a pane of its own."""
    sessions = {
        "tuned": pane("tuned", ModelSpec(source=SMOLLM2, adapters=(lora,))),
        "base": pane("base", ModelSpec(source=SMOLLM2)),
        "amplified": pane(
            "amplified", ModelSpec(source=SMOLLM2, adapters=(lora,), amplify=AmplifySpec(base=SMOLLM2, factor=0.0))
        ),
    }
    yield sessions
    for session in sessions.values():
        session.close()


def answer(session: PaneSession, prompt: str, sampling: SamplingSettings | None = None):
    # From the same state every time: the prompt prefix warmed, the message read as one batch.
    # A prompt asked again would otherwise reuse the cache and decode its last token alone, and
    # llama.cpp's one-token and batch kernels differ in the last digits (SmolLM2's logits by up to
    # 0.47 on an AVX2-only EPYC): enough to flip a near tie and make two equal models disagree.
    session.clear()
    session.warming.result(timeout=60)
    turn = session.send(prompt, sampling=sampling).result(timeout=120)
    assert turn.error is None, turn.error
    return turn


def address(pointer) -> int:
    return pointer if isinstance(pointer, int) else ctypes.cast(pointer, ctypes.c_void_p).value


def at(session: PaneSession, factor: float) -> None:
    session.set_amplification(factor).result(timeout=30)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_a_zero_is_the_tuned_model_and_a_minus_one_the_base_token_for_token(panes, prompt):
    tuned, base = (answer(panes[r], prompt) for r in ("tuned", "base"))
    assert tuned.token_ids != base.token_ids  # the adapter changes this answer: the test can fail
    at(panes["amplified"], 0.0)
    zero = answer(panes["amplified"], prompt)
    assert zero.token_ids == tuned.token_ids and zero.text == tuned.text
    at(panes["amplified"], -1.0)
    minus_one = answer(panes["amplified"], prompt)
    assert minus_one.token_ids == base.token_ids and minus_one.text == base.text
    assert minus_one.amplify is not None and minus_one.amplify.factor == -1.0


def test_a_positive_pushes_further_and_the_trace_says_what_was_pushed(panes):
    tuned = answer(panes["tuned"], PROMPTS[0])
    at(panes["amplified"], 2.0)
    two = answer(panes["amplified"], PROMPTS[0])
    assert two.token_ids != tuned.token_ids
    trace = two.amplified
    assert trace is not None and trace.factor == 2.0
    assert len(trace.tokens) == len(two.token_ids) == two.metrics.tokens
    assert "".join(t.text for t in trace.tokens) == two.text
    assert all(t.kl >= 0 for t in trace.tokens) and trace.max_kl > 0
    assert trace.raised and all(value > 0 for _, value in trace.raised)
    record = trace.record()
    assert len(record["tokens"]) == len(trace.tokens) and record["raised_most"]


def test_one_model_file_two_contexts_and_the_adapter_on_the_tuned_one_only(panes):
    engine = panes["amplified"]._engine
    assert isinstance(engine, AmplifiedEngine)
    assert engine._base is None and engine._own_ctx is not None  # a second context, no second model
    tuned_ctx, base_ctx = (side.ctx for side in engine._pair.sides)
    assert address(tuned_ctx) != address(base_ctx)
    # the tuned context applies the adapter: at a = -1 the base context alone decides (test above),
    # and with the adapter at scale 0 the two contexts agree, so every a answers as the base
    at(panes["amplified"], 4.0)
    base = answer(panes["base"], PROMPTS[1])
    scale_zero = (panes["amplified"].spec.adapters[0].model_copy(update={"scale": 0.0}),)
    panes["amplified"].set_adapters(scale_zero).result(timeout=30)
    try:
        assert answer(panes["amplified"], PROMPTS[1]).token_ids == base.token_ids
    finally:
        panes["amplified"].set_adapters((scale_zero[0].model_copy(update={"scale": 1.0}),)).result(timeout=30)


def test_stop_strings_end_it_as_they_end_the_tuned_model(panes):
    stop = SHORT.model_copy(update={"stop": ("planet",), "max_tokens": 40})
    tuned = answer(panes["tuned"], PROMPTS[0], stop)
    at(panes["amplified"], 0.0)
    zero = answer(panes["amplified"], PROMPTS[0], stop)
    assert tuned.metrics.stop_reason == "stop" and "planet" not in tuned.text
    assert (zero.text, zero.token_ids, zero.metrics.stop_reason) == (tuned.text, tuned.token_ids, "stop")


def test_sampling_applies_to_the_combined_logits_and_the_seed_repeats_it(panes):
    at(panes["amplified"], 1.0)
    warm = SHORT.model_copy(update={"temperature": 0.9, "seed": 7})
    first, again = (answer(panes["amplified"], PROMPTS[1], warm) for _ in range(2))
    other = answer(panes["amplified"], PROMPTS[1], warm.model_copy(update={"seed": 8}))
    assert first.token_ids == again.token_ids
    assert other.token_ids != first.token_ids


def test_esc_stops_it_and_the_next_answer_is_whole_again(panes):
    at(panes["amplified"], 0.0)
    engine = panes["amplified"]._engine
    mode = get_mode("chat")
    prompt = engine.render(mode, PROMPTS[0], [], SHORT)
    cancel = threading.Event()
    events = []
    for event in engine.stream(prompt, SHORT, cancel):
        events.append(event)
        if isinstance(event, TextDelta):
            cancel.set()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.metrics.stop_reason == "cancelled"
    assert answer(panes["amplified"], PROMPTS[0]).token_ids == answer(panes["tuned"], PROMPTS[0]).token_ids


def test_a_out_of_range_is_refused_in_one_line(panes):
    with pytest.raises(DuetError, match="outside -1 to 8"):
        at(panes["amplified"], 9.0)
    plain = panes["base"]
    with pytest.raises(DuetError, match="is not an amplified pane"):
        at(plain, 2.0)


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (ModelSpec(source=SMOLLM2, amplify=AmplifySpec(base=GEMMA)), "their vocabularies differ"),
        (ModelSpec(source=SMOLLM2, amplify=AmplifySpec(base=SMOLLM2)), "there is nothing to amplify"),
        (
            ModelSpec(source=SMOLLM2, amplify=AmplifySpec(base="http://127.0.0.1:9/v1#m")),
            "cannot amplify with the server",
        ),
    ],
)
def test_pairs_that_cannot_be_amplified_are_refused_in_one_line(spec, reason):
    session = PaneSession("amplified", spec, "chat", SHORT)
    try:
        with pytest.raises(DuetError, match=reason):
            session.load().result(timeout=120)
        assert session.load_error is not None and "\n" not in session.load_error
    finally:
        session.close()


def prompt_of(session: PaneSession, tokens: int) -> str:
    """A chat prompt that renders to at least ``tokens`` tokens on the amplified pane's model."""
    sentence, count = "The sea is wide and the ships on it are slow.", 10
    while True:
        text = " ".join([sentence] * count) + " What is the sea like?"
        rendered = session._engine.render(get_mode("chat"), text, [], SHORT)
        if rendered.token_count >= tokens:
            return text
        count += max(1, (tokens - rendered.token_count) // 12)


def test_the_second_context_grows_with_the_conversation_and_answers_the_same(panes):
    """The base side's context opens at 512 tokens (its KV cache is paid as the conversation
    grows, figure 15); a longer prompt grows it before it is evaluated (a = -1 is still the
    base model token for token), and an answer that runs past its size grows it mid-answer:
    the held tokens are evaluated again in the bigger context and the tuned side is untouched."""
    engine = panes["amplified"]._engine
    assert 0 < engine._own_size <= 1024
    long = prompt_of(panes["amplified"], 600)
    at(panes["amplified"], -1.0)
    assert answer(panes["amplified"], long).token_ids == answer(panes["base"], long).token_ids
    assert engine._own_size == 1024
    across = prompt_of(panes["amplified"], 1024 - 4)  # its answer crosses 1024 tokens
    at(panes["amplified"], 0.0)
    zero = answer(panes["amplified"], across)
    assert engine._own_size == 2048
    assert zero.metrics.tokens > 4 and zero.token_ids == answer(panes["tuned"], across).token_ids
