"""The token-shift lens on the real embedded models: self-lens, certain continuations against a
plain llama-cpp-python read of the same logits, re-tokenized answers on the embedded pair, the
next answer after scoring, cancelling, a pane that failed to load, reopened conversations, and the
memory scoring costs."""

import dataclasses
import threading
import time

import numpy as np
import pytest

from models.engines.llama import runtime
from models.errors import DuetError
from models.lens.pairing import DIFFERENT_FAMILIES
from models.lens.request import ScoreCancelled, ScoreRequest
from models.lens.run import request_for, score_answer, score_pane
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore

GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0, max_tokens=32)
PROMPTS = ("The capital of France is", "Tell me how to train my dog to sit", "Write a short poem about the sea.")
COUNTING = "1, 2, 3, 4, 5, 6,"


@pytest.fixture(scope="module")
def base():
    session = PaneSession("base", ModelSpec(source="embedded:gemma-3-270m"), "raw", GREEDY)
    session.load().result(120)
    yield session
    session.close()


@pytest.fixture(scope="module")
def chat():
    session = PaneSession("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat", GREEDY)
    session.load().result(120)
    yield session
    session.close()


def lens(answering, scorer, turn=None, **changes):
    turn = turn or answering.last_turn
    if not changes:
        return score_answer(answering, scorer, turn).result(120)
    request = dataclasses.replace(request_for(answering, turn, scorer.mode), **changes)
    return scorer.score(request, answering.vocabulary()).result(120)


def assert_self_lens(session, turn, result):
    assert not result.retokenized and result.same_vocabulary is True and result.note is None
    assert result.text == turn.text and result.caveat is None
    assert len(result.tokens) <= len(turn.token_ids)  # byte tokens grouped into characters
    stray = [(t.text, t.rank, t.top[:2]) for t in result.tokens if t.rank > 1 and not t.near_tie]
    assert not stray, f"{session.role}: a model disagrees with its own greedy answer at {stray}"
    assert all(t.shift_class != "shifted" for t in result.tokens)


# -- self-lens -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["base", "chat"])
def test_a_models_own_greedy_answer_is_unshifted(role, base, chat):
    session = base if role == "base" else chat
    for prompt in PROMPTS:
        # A fresh conversation each time: the answer's prompt is then read the way scoring reads
        # it (after the warmed prefix). A later chat turn's prompt partly comes from the cache of
        # the turn before, whose logits differ slightly from a fresh read (see ScoreRequest.exact).
        session.clear()
        session.warming.result(60)
        turn = session.send(prompt).result(120)
        assert turn.token_ids and len(turn.token_ids) == turn.metrics.tokens
        assert_self_lens(session, turn, lens(session, session))


def test_self_lens_reads_the_answer_the_way_it_was_generated(base):
    """Batched decodes (exact=False) give other logits than one-token decodes on llama.cpp's CPU
    kernels; the exact read agrees with generation at every token."""
    base.clear()
    turn = base.send(PROMPTS[1]).result(120)
    exact = lens(base, base)
    fast = lens(base, base, exact=False)
    assert [t.text for t in fast.tokens] == [t.text for t in exact.tokens]
    assert all(t.shift_class != "shifted" for t in fast.tokens)
    assert_self_lens(base, turn, exact)


def test_a_stop_string_keeps_the_ids_that_spell_the_kept_text(base):
    base.clear()
    try:
        base.sampling = GREEDY.model_copy(update={"stop": (" France",)})  # a whole token: cut cleanly
        clean = base.send(PROMPTS[0]).result(120)
        base.sampling = GREEDY.model_copy(update={"stop": ("France",)})  # inside " France": cut through it
        through = base.send(PROMPTS[0]).result(120)
    finally:
        base.sampling = GREEDY
    assert clean.metrics.stop_reason == through.metrics.stop_reason == "stop"
    assert through.text == clean.text + " "  # the cut token's space stays in the text
    assert clean.token_ids and len(clean.token_ids) < clean.metrics.tokens  # the stop token is not kept
    assert_self_lens(base, clean, lens(base, base, clean))
    assert through.token_ids is None  # no kept ids spell the text: the lens tokenizes it again, and says so
    result = lens(base, base, through)
    assert result.retokenized and result.note == "re-tokenized: this answer's token ids were not kept"
    assert result.text == through.text


# -- a certain continuation, checked against plain llama-cpp-python ------------------------------
def plain_rows(path, context_text, answer_ids):
    """The logits rows that score each answer token, read through llama-cpp-python's own eval, one
    answer token per decode (as it generates)."""
    lib = runtime.llama_cpp()
    llama = lib.Llama(model_path=str(path), n_ctx=2048, n_batch=512, logits_all=False, verbose=False)
    try:
        context = llama.tokenize(context_text.encode(), add_bos=True, special=True)
        llama.eval(context)
        rows = []
        for token in answer_ids:
            rows.append(np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)).copy())
            llama.eval([token])
        return rows
    finally:
        llama.close()


def test_a_certain_continuation_is_unshifted_and_an_absurd_one_shifted(base, base_path):
    request = ScoreRequest(prompt=COUNTING, answer=" 7, 8, zebra", mode="raw")
    result = base.score(request).result(120)
    assert result.retokenized and result.same_vocabulary is None  # no ids given: tokenized again
    assert result.text == " 7, 8, zebra"
    *counting, zebra = result.tokens
    assert all(t.rank == 1 and t.p > 0.5 for t in counting), [(t.text, t.rank, t.p) for t in result.tokens]
    assert zebra.text == " zebra" and zebra.shift_class == "shifted" and zebra.rank > 100 and zebra.p < 1e-3
    ids = [t.token_id for t in result.tokens]
    for scored, row, chosen in zip(result.tokens, plain_rows(base_path, COUNTING, ids), ids):
        order = np.argsort(-row, kind="stable")  # the independent check: a full sort of the row
        assert scored.rank == int(np.nonzero(row[order] == row[chosen])[0][0]) + 1
        probs = np.exp(row.astype(np.float64) - row.max())
        probs /= probs.sum()
        assert scored.p == pytest.approx(probs[chosen], rel=1e-4)
        assert [p for _, p in scored.top] == pytest.approx(list(probs[order[:5]]), rel=1e-4)


@pytest.mark.parametrize("exact", [True, False])
def test_answers_longer_than_a_decode_stay_aligned(base, exact):
    counting = "".join(f" {n}," for n in range(7, 40))  # > 32 tokens: several 32-row decodes
    result = base.score(ScoreRequest(prompt=COUNTING, answer=counting, mode="raw", exact=exact)).result(120)
    assert len(result.tokens) > 64 and result.text == counting
    assert result.summary().shifted == 0.0 and result.summary().unshifted > 95.0


# -- re-tokenized answers on the embedded pair -----------------------------------------------------
def test_the_embedded_pair_is_scored_retokenized_and_covers_the_answers(base, chat):
    base.clear(), chat.clear()
    base_turn, chat_turn = base.send(PROMPTS[1]).result(120), chat.send(PROMPTS[1]).result(120)
    sessions = {"base": base, "chat": chat}
    of_chat, of_base = score_pane(sessions, "chat").result(120), score_pane(sessions, "base").result(120)
    for result, turn, scorer in ((of_chat, chat_turn, base), (of_base, base_turn, chat)):
        assert result.retokenized and result.same_vocabulary is False and result.note is None
        assert "".join(t.text for t in result.tokens) == turn.text
        assert result.scored_by == scorer.info.label and result.context_mode == scorer.mode
        assert result.caveat == DIFFERENT_FAMILIES
        assert "(re-tokenized)" in result.summary_line()
        assert sum(result.summary().counts.values()) == result.summary().count == len(result.tokens)


def test_byte_level_tokens_are_shown_as_whole_characters(chat):
    answer = "Café ☕ and a dog 🐕, naïve résumé!"
    result = chat.score(ScoreRequest(prompt="Say something", answer=answer, mode="chat")).result(120)
    assert result.text == answer
    assert "☕" in [t.text.strip() for t in result.tokens] and "🐕" in [t.text.strip() for t in result.tokens]
    assert any(t.token_id is None for t in result.tokens)  # SmolLM2 spells emoji in byte tokens


# -- the pane afterwards ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gemma_chat():
    """Gemma 3 in chat mode (llama-cpp-python's gemma format): a sliding-window model whose
    conversation extends its cache."""
    session = PaneSession("chat", ModelSpec(source="embedded:gemma-3-270m", chat_format="gemma"), "chat", GREEDY)
    session.load().result(120)
    yield session
    session.close()


@pytest.mark.parametrize("role", ["base", "chat", "gemma-chat"])
def test_the_next_answer_is_the_same_as_without_scoring(role, base, chat, request):
    session, other = {
        "base": (base, chat),
        "chat": (chat, base),
        "gemma-chat": (request.getfixturevalue("gemma_chat"), chat),
    }[role]
    session.clear()
    session.send(PROMPTS[0]).result(120)
    expected = session.send(PROMPTS[2]).result(120)  # chat mode: continues the conversation's cache
    session.clear()
    session.send(PROMPTS[0]).result(120)
    other.clear()
    other.send(PROMPTS[0]).result(120)
    lens(session, session)
    lens(other, session)  # scoring the other pane's answer, re-tokenized
    again = session.send(PROMPTS[2]).result(120)
    assert again.text == expected.text and again.token_ids == expected.token_ids


def test_cancelling_a_scoring_run_stops_it_and_leaves_the_pane_usable(base):
    base.clear()
    long = base.send("List every country in the world:", sampling=GREEDY.model_copy(update={"max_tokens": 256})).result(
        120
    )
    future = score_answer(base, base, long)
    time.sleep(0.5)
    cancelled_at = time.perf_counter()
    base.cancel()
    with pytest.raises(ScoreCancelled):
        future.result(60)
    latency = time.perf_counter() - cancelled_at
    assert latency < 1.0, latency  # one decode is ~30 ms here
    again = base.send(PROMPTS[0]).result(120)
    assert again.error is None and again.text
    assert_self_lens(base, again, lens(base, base))


def test_a_pane_whose_model_failed_to_load_cannot_score(base, tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    session = PaneSession("chat", ModelSpec(source=str(broken)), "raw", GREEDY)
    try:
        with pytest.raises(DuetError):
            session.load().result(60)
        with pytest.raises(DuetError, match=r"^cannot score: .*broken\.gguf is not loaded") as raised:
            session.score(ScoreRequest(prompt="x", answer="y", mode="raw")).result(60)
        assert "\n" not in str(raised.value)
    finally:
        session.close()


def test_token_ids_survive_a_save_and_reopen_and_give_the_same_lens(base, chat, data_dir):
    base.clear(), chat.clear()
    turns = [base.send(PROMPTS[2]).result(120), chat.send(PROMPTS[2]).result(120)]
    before = {role: score_pane({"base": base, "chat": chat}, role).result(120) for role in ("base", "chat")}
    with HistoryStore() as store:
        cid = store.start_session_conversation([base, chat])
        store.add_session_turn(cid, PROMPTS[2], [base, chat], turns)
    with HistoryStore() as store:
        restored = store.restore_turns(cid)
    assert restored["base"][0].token_ids == turns[0].token_ids and restored["chat"][0].token_ids == turns[1].token_ids
    base.restore(restored["base"]), chat.restore(restored["chat"])
    after = {role: score_pane({"base": base, "chat": chat}, role).result(120) for role in ("base", "chat")}
    assert after == before
    assert not lens(chat, chat).retokenized  # the reopened ids, not the text tokenized again


# -- memory ---------------------------------------------------------------------------------------
def proc_status(key):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def test_scoring_a_256_token_answer_on_gemma_costs_little_memory(base):
    base.clear()
    long = base.send("List every country in the world:", sampling=GREEDY.model_copy(update={"max_tokens": 256})).result(
        120
    )
    assert long.metrics.tokens == 256 and long.token_ids
    base.vocabulary().result(60)  # computed once per model file, not part of a scoring run
    before = proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM (peak resident memory) starts again from now
    started = time.perf_counter()
    result = score_answer(base, base, long).result(300)
    seconds = time.perf_counter() - started
    peak, after = proc_status("VmHWM") - before, proc_status("VmRSS") - before
    print(f"\nscoring 256 Gemma tokens: {seconds:.2f} s, peak +{peak / 2**20:.1f} MB, after +{after / 2**20:.1f} MB")
    assert len(result.tokens) > 200
    assert peak <= 64 * 2**20, f"peak extra memory {peak / 2**20:.1f} MB"


def test_scoring_waits_for_no_one_when_two_panes_score_each_other(base, chat):
    base.clear(), chat.clear()
    base.send(PROMPTS[0]).result(120), chat.send(PROMPTS[0]).result(120)
    sessions = {"base": base, "chat": chat}
    futures = [score_pane(sessions, "chat"), score_pane(sessions, "base")]  # at once, crosswise
    done = threading.Event()
    threading.Thread(target=lambda: ([f.result(120) for f in futures], done.set()), daemon=True).start()
    assert done.wait(120)


# -- both panes at once (duet ask --shift) -----------------------------------------------------
def test_both_panes_score_each_other_at_the_same_time(base, chat, monkeypatch):
    """Each scoring waits for the other pane's vocabulary. Asked anew per scoring, the chat pane's
    vocabulary job queued behind the chat pane's own scoring, and the base pane's scoring could only
    start once that had ended: the two ran one after the other (PaneSession.vocabulary)."""
    from tui.cli.shift import score_turns

    for session in (base, chat):
        session.clear()
        session.send("Tell me about the sea.").result(120)
    spans: dict[str, list[float]] = {}
    engines = {base._engine: "base", chat._engine: "chat"}
    real = type(base._engine).score

    def timed(engine, request, cancel, lease=None):
        started = time.monotonic()
        try:
            return real(engine, request, cancel, lease)
        finally:
            spans[engines[engine]] = [started, time.monotonic()]

    monkeypatch.setattr(type(base._engine), "score", timed)
    found = score_turns([base, chat])
    assert {role: type(r).__name__ for role, r in found.items()} == {"base": "ShiftResult", "chat": "ShiftResult"}
    (a_start, a_end), (b_start, b_end) = spans["base"], spans["chat"]
    assert a_start < b_end and b_start < a_end, f"the scorings did not overlap: {spans}"
    assert base.vocabulary() is base.vocabulary()  # one job per load, handed to every caller


# -- the scorer's own prompt, not read again (models/engines/llama/prompt_row.py) ---------------
def _count_decodes(monkeypatch) -> list[int]:
    """The token count of every llama_decode the scoring makes from now on, in order."""
    import models.engines.llama.scoring as scoring_module

    decodes: list[int] = []
    real = scoring_module._decode

    def counted(llama, batch, tokens, *rest):
        decodes.append(len(tokens))
        return real(llama, batch, tokens, *rest)

    monkeypatch.setattr(scoring_module, "_decode", counted)
    return decodes


@pytest.mark.parametrize("scoring", ["chat", "base"])
def test_the_context_of_the_scorers_own_last_answer_is_not_read_again(base, chat, scoring, monkeypatch):
    """The lens on the other pane's answer to the same first message starts from the scoring pane's
    own cache and first row: only the answer is evaluated, and every rank and p is the one a
    fresh read of the context gives (SmolLM2's chat prompt is read in the same two parts, Gemma's
    raw prompt in one)."""
    scorer, answering = (chat, base) if scoring == "chat" else (base, chat)
    for session in (base, chat):
        session.clear()
        session.send(PROMPTS[0]).result(120)
    decodes = _count_decodes(monkeypatch)
    reused = lens(answering, scorer)
    assert decodes and set(decodes) == {1}  # the answer, one token per decode; no context read
    decodes.clear()
    scorer._executor.submit(lambda: scorer._engine._prompt_row.forget()).result(10)
    fresh = lens(answering, scorer)
    assert max(decodes) > 1  # the context was read this time
    assert [(t.text, t.rank, t.p, t.top) for t in fresh.tokens] == [(t.text, t.rank, t.p, t.top) for t in reused.tokens]


def test_a_scorer_whose_cache_moved_on_reads_the_context_again(base, chat, monkeypatch):
    """Another answer since (here: the scorer's own next turn) means another cache: no reuse."""
    for session in (base, chat):
        session.clear()
        session.send(PROMPTS[0]).result(120)
    first = chat.last_turn
    chat.send(PROMPTS[2]).result(120)  # the scorer's cache now holds another prompt and answer
    decodes = _count_decodes(monkeypatch)
    lens(chat, base, first)  # base scores the chat pane's first answer: base's cache is its own
    assert set(decodes) == {1}
    decodes.clear()
    lens(base, chat, base.last_turn)  # chat scores base's answer after PROMPTS[0]: not its last prompt
    assert max(decodes) > 1
