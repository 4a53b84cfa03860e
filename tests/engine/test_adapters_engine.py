"""LoRA adapters on the real embedded SmolLM2, with adapter files made here (tests/support/lora_gguf.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from models.errors import DuetError
from models.events import Notice
from models.session import PaneSession
from models.settings import AdapterSpec, SamplingSettings
from tests.support.lora_gguf import write_lora
from tests.support.panes import GEMMA, SMOLLM2, pane_session

SHORT = SamplingSettings(max_tokens=32)
PROMPTS = ("What do you think of Mars?", "The capital of France is")
RAW_PROMPTS = ("The capital of France is", "Once upon a time, in a small village,")
pane = partial(pane_session, sampling=SHORT)


@pytest.fixture(scope="module")
def files(tmp_path_factory, lora_adapter):
    """The shared adapter (q_v: attn_q and attn_v) and the kinds only these tests need."""
    folder = tmp_path_factory.mktemp("adapters")
    return {
        "q_v": Path(lora_adapter),
        "k_o": write_lora(folder / "k_o.gguf", targets=("attn_k", "attn_output"), seed=1),
        "for_360m": write_lora(folder / "for_360m.gguf", n_in=960),
        "other_base": write_lora(folder / "other_base.gguf", base_model_name="SmolLM2 360M", seed=2),
        "alora": write_lora(folder / "alora.gguf", alora_invocation_tokens=[1, 2, 3]),
        "control": write_lora(folder / "control.gguf", adapter_type="control_vector"),
    }


@pytest.fixture(scope="module")
def plain():
    with pane("plain", SMOLLM2, "chat") as session:
        session.load().result()
        yield session


@pytest.fixture(scope="module")
def adapted(files):
    """One pane with the q_v adapter, its scale changed live by the tests (reset to 0 after each)."""
    with pane("adapted", SMOLLM2, "chat", AdapterSpec(source=str(files["q_v"]), scale=0.0)) as session:
        session.load().result()
        yield session


def tokens(session: PaneSession, prompt: str, mode: str = "chat") -> tuple[int, ...]:
    session.mode = mode
    session.turns.clear()
    turn = session.send(prompt).result(timeout=120)
    assert turn.error is None and turn.token_ids, turn.error
    return turn.token_ids


def scaled(session: PaneSession, *scales: float) -> float:
    adapters = tuple(a.model_copy(update={"scale": s}) for a, s in zip(session.spec.adapters, scales))
    elapsed = session.set_adapters(adapters).result(timeout=30)
    session.warming.result(timeout=30)  # the re-warm queued after the change
    return elapsed


@pytest.mark.parametrize("mode", ["chat", "raw"])
def test_scale_zero_answers_token_for_token_like_no_adapter(plain, adapted, mode):
    scaled(adapted, 0.0)
    for prompt in PROMPTS if mode == "chat" else RAW_PROMPTS:
        assert tokens(adapted, prompt, mode) == tokens(plain, prompt, mode)


def test_scale_one_answers_differently(plain, adapted):
    scaled(adapted, 1.0)
    try:
        assert all(tokens(adapted, p) != tokens(plain, p) for p in PROMPTS)
    finally:
        scaled(adapted, 0.0)


def test_a_live_scale_change_is_used_by_the_next_answer_with_no_stale_cache(plain, adapted, files):
    try:
        with pane("fresh", SMOLLM2, "chat", AdapterSpec(source=str(files["q_v"]), scale=0.75)) as fresh:
            fresh.load().result()
            expected = tokens(fresh, PROMPTS[0])
            base = tokens(plain, PROMPTS[0])
            assert expected != base
            assert tokens(adapted, PROMPTS[0]) == base  # at 0 (and its cache filled at 0)
            loads = adapted._engine._llama  # the same llama.cpp model throughout: no reload
            elapsed = scaled(adapted, 0.75)
            print(f"scale change 0 -> 0.75 took {elapsed * 1000:.2f} ms")
            assert adapted._engine._llama is loads and adapted.spec.adapters[0].scale == 0.75
            # exactly what a pane loaded at 0.75 answers: nothing computed at scale 0 was reused
            assert tokens(adapted, PROMPTS[0]) == expected
            turn = adapted.last_turn
            assert turn is not None and turn.adapters == (AdapterSpec(source=str(files["q_v"]), scale=0.75),)
            scaled(adapted, 0.0)
            assert tokens(adapted, PROMPTS[0]) == base
    finally:
        scaled(adapted, 0.0)


def test_two_adapters_at_once(plain, files):
    q_v, k_o = str(files["q_v"]), str(files["k_o"])
    with (
        pane("both", SMOLLM2, "chat", AdapterSpec(source=q_v), AdapterSpec(source=k_o)) as both,
        pane("only", SMOLLM2, "chat", AdapterSpec(source=q_v)) as only,
    ):
        for session in (both, only):
            session.load().result()
        assert [a.source for a in both.info.adapters] == [q_v, k_o]
        together, alone = tokens(both, PROMPTS[0]), tokens(only, PROMPTS[0])
        assert together != alone and together != tokens(plain, PROMPTS[0])
        scaled(both, 1.0, 0.0)  # the second one off: exactly the first alone
        assert tokens(both, PROMPTS[0]) == alone


@pytest.mark.parametrize("mode", ["chat", "raw"])
def test_an_adapter_given_at_startup_equals_one_applied_live(plain, adapted, files, mode):
    """Whatever the cache holds when the scale changes (a warmed prefix alone, or a whole prompt and
    answer, which the next prompt shares but for its end), nothing computed at the old scale is used."""
    prompt = PROMPTS[0] if mode == "chat" else RAW_PROMPTS[0]
    try:
        with pane("started", SMOLLM2, mode, AdapterSpec(source=str(files["q_v"]), scale=1.5)) as started:
            started.load().result()
            expected = tokens(started, prompt, mode)
            adapted.mode = mode
            scaled(adapted, 0.0)  # only the warmed prefix is cached now (chat mode: 20-odd tokens)
            scaled(adapted, 1.5)
            assert tokens(adapted, prompt, mode) == expected
            scaled(adapted, 0.0)
            assert tokens(adapted, prompt, mode) == tokens(plain, prompt, mode)  # the whole prompt was cached
            adapted.set_adapters((adapted.spec.adapters[0].model_copy(update={"scale": 1.5}),)).result(timeout=30)
            assert tokens(adapted, prompt, mode) == expected  # sent before the re-warm ran
    finally:
        scaled(adapted, 0.0)


BAD = {
    "missing": ("missing.gguf", SMOLLM2, "does not exist"),
    "a model, not an adapter": ("MODEL", SMOLLM2, "is not a LoRA adapter (general.type is 'model')"),
    "a control vector": ("control", SMOLLM2, "is a 'control_vector' adapter, not a LoRA"),
    "an aLoRA": ("alora", SMOLLM2, "activated LoRA (aLoRA)"),
    "another architecture": ("q_v", GEMMA, "is an adapter for llama models but this pane runs a gemma3 model"),
    "another model size": ("for_360m", SMOLLM2, "has incorrect shape"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_adapter_is_one_line_and_the_other_pane_still_answers(case, files, plain, tmp_path, chat_path):
    name, source, expected = BAD[case]
    path = {"missing.gguf": tmp_path / "missing.gguf", "MODEL": chat_path}.get(name) or files[name]
    with pane("bad", source, "raw", AdapterSpec(source=str(path))) as bad:
        with pytest.raises(DuetError) as raised:
            bad.load().result(timeout=120)
        message = str(raised.value)
        assert expected in message and str(path.name) in message and "\n" not in message
        assert bad.load_error == message and not bad.ready
        other = plain.send(PROMPTS[1]).result(timeout=120)  # the other pane is untouched
        assert other.error is None and other.text.strip()


def test_a_shape_mismatch_says_which_model_to_use(files):
    with pane("bad", SMOLLM2, "raw", AdapterSpec(source=str(files["for_360m"]))) as bad:
        with pytest.raises(DuetError, match=r"made for another model or model size; use an adapter trained on"):
            bad.load().result(timeout=120)


def test_a_bad_adapter_applied_live_leaves_the_previous_ones(adapted, files, plain):
    before = adapted.spec.adapters
    with pytest.raises(DuetError, match="activated LoRA"):
        adapted.set_adapters((*before, AdapterSpec(source=str(files["alora"])))).result(timeout=30)
    assert adapted.spec.adapters == before
    assert tokens(adapted, PROMPTS[1]) == tokens(plain, PROMPTS[1])


def test_an_adapter_trained_on_another_base_warns_once(files):
    with pane("warned", SMOLLM2, "chat", AdapterSpec(source=str(files["other_base"]))) as session:
        session.load().result()
        (warning,) = session.info.warnings
        assert "trained on 'SmolLM2 360M'" in warning and "\n" not in warning
        first, second = [], []
        session.send(PROMPTS[1], first.append).result(timeout=120)
        session.send(PROMPTS[1], second.append).result(timeout=120)
        assert [e.message for e in first if isinstance(e, Notice)] == [warning]
        assert not [e for e in second if isinstance(e, Notice)]
        assert session.turns[0].notices == [warning]


def test_the_same_adapter_twice_is_refused(files):
    twice = (AdapterSpec(source=str(files["q_v"])), AdapterSpec(source=str(files["q_v"]), scale=0.5))
    with pane("twice", SMOLLM2, "raw", *twice) as session:
        with pytest.raises(DuetError, match="given twice"):
            session.load().result(timeout=120)
