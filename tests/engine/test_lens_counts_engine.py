"""The lens's token count beside the status line's on the real embedded models: a stop string's
tokens are generated but not scored, and a cut through a token makes the lens tokenize again; the
line models/lens/counts.py writes says which."""

from models.lens.counts import count_note
from models.lens.run import score_answer
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

GREEDY = SamplingSettings(max_tokens=160, temperature=0)


def aligned_and_scorer(source: str) -> tuple[PaneSession, PaneSession]:
    answering = PaneSession("aligned", ModelSpec(source=source), "aligned", GREEDY)
    scorer = PaneSession("base", ModelSpec(source=source), "raw", GREEDY)
    answering.load().result(timeout=120)
    scorer.load().result(timeout=120)
    return answering, scorer


def test_the_tokens_of_a_stop_string_are_counted_by_the_status_line_only():
    answering, scorer = aligned_and_scorer("embedded:smollm2-135m-instruct")
    try:
        turn = answering.send("What is the capital of France?").result(timeout=120)
        result = score_answer(answering, scorer).result(timeout=120)
        assert turn.metrics.stop_reason == "stop" and not result.retokenized
        cut = turn.metrics.tokens - len(result.tokens)
        assert cut > 0 and turn.token_ids is not None and len(turn.token_ids) == len(result.tokens)
        note = count_note(result, turn.metrics.tokens, turn.token_ids)
        assert note == (
            f"{len(result.tokens)} tokens here, {turn.metrics.tokens} in the status line: "
            f"{cut} token{'s' * (cut != 1)} that completed a stop string, cut from the answer and not scored"
        )
    finally:
        answering.close()
        scorer.close()


def test_a_cut_through_a_token_is_named_as_such_not_as_another_vocabulary():
    answering, scorer = aligned_and_scorer("embedded:gemma-3-270m")
    try:
        turn = answering.send("Tell me how to train my dog to sit").result(timeout=120)
        result = score_answer(answering, scorer).result(timeout=120)
        assert turn.token_ids is None and result.retokenized and result.same_vocabulary is True
        note = count_note(result, turn.metrics.tokens, turn.token_ids)
        assert note is not None and "a stop string cut through a token" in note
    finally:
        answering.close()
        scorer.close()
