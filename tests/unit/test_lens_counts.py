"""Why the lens counts other tokens than the status line: one line for each reason, none when they agree."""

from models.lens.counts import count_note
from models.lens.shift import ShiftResult, TokenScore


def result(texts: list[tuple[str, int | None]], retokenized: bool = False, same: bool | None = False) -> ShiftResult:
    tokens = tuple(TokenScore(text, token_id, rank=1, p=0.5) for text, token_id in texts)
    return ShiftResult("scorer", "raw", tokens, retokenized=retokenized, same_vocabulary=same)


def test_equal_counts_need_no_line():
    assert count_note(result([("a", 1), ("b", 2)]), generated=2, kept_ids=(1, 2)) is None


def test_a_token_cut_with_a_stop_string_is_named():
    note = count_note(result([("a", 1), ("b", 2)]), generated=3, kept_ids=(1, 2))
    assert note == (
        "2 tokens here, 3 in the status line: 1 token that completed a stop string, cut from the answer and not scored"
    )


def test_byte_level_tokens_shown_as_one_character_are_named():
    # "é" made of two byte tokens, shown as one entry without an id
    note = count_note(result([("a", 1), ("é", None)]), generated=3, kept_ids=(1, 7, 8))
    assert note == "2 tokens here, 3 in the status line: 2 byte-level tokens shown as 1 character"


def test_both_reasons_at_once():
    note = count_note(result([("a", 1), ("é", None)]), generated=5, kept_ids=(1, 7, 8))
    assert note is not None and "2 tokens that completed a stop string" in note and "2 byte-level tokens" in note


def test_a_retokenized_answer_says_it_was_cut_into_the_scorers_tokens():
    note = count_note(result([("a", None), ("b", 5), ("c", 6)], retokenized=True), generated=2, kept_ids=(1, 2))
    assert note is not None and note.startswith("3 tokens here, 2 in the status line: ")
    assert "scoring model's own tokens" in note
    assert count_note(result([("a", 5), ("b", 6)], retokenized=True), generated=2, kept_ids=None) is None


def test_a_retokenized_answer_of_the_same_vocabulary_blames_the_stop_string():
    note = count_note(result([("a", 5), ("b", 6)], retokenized=True, same=True), generated=4, kept_ids=None)
    assert note is not None and "a stop string cut through a token" in note and "another vocabulary" not in note
