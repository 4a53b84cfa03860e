"""The token-shift lens's data and arithmetic on hand-made data: classes, summaries, aggregation,
near-ties, ranks against a full sort, byte groups, pairing, vocabularies, and token ids in the
history database (an older database included)."""

import threading

import numpy as np
import pytest

from models.errors import DuetError
from models.files.describe import catalog_model
from models.lens.grouping import group_characters, piece_text
from models.lens.pairing import (
    DIFFERENT_FAMILIES,
    DIFFERENT_MODELS,
    UNKNOWN_VOCABULARY,
    caveat,
    scorer_role,
)
from models.lens.ranking import rank_row
from models.lens.shift import NEAR_TIE, ShiftResult, TokenScore, classify, most_shifted, summarize
from models.lens.vocabulary import same_vocabulary, vocabulary_of
from models.store.history import HistoryStore
from models.store.schema import SCHEMA_VERSION
from tests.support.history_records import old_database, pane


def token(text, rank, p=0.5, near_tie=False, token_id=7):
    return TokenScore(text, token_id, rank, p, (("x", 0.4),), near_tie)


# -- classes and summaries ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "rank, expected",
    [(1, "unshifted"), (2, "marginal"), (3, "marginal"), (4, "shifted"), (262144, "shifted")],
)
def test_classes_follow_the_papers_boundaries(rank, expected):
    assert classify(rank) == expected
    assert token("a", rank).shift_class == expected


def test_rank_zero_is_not_a_rank():
    with pytest.raises(ValueError):
        classify(0)


def test_summary_counts_and_percentages():
    tokens = [token("a", 1), token("b", 1), token("c", 1), token("d", 2), token("e", 3), token("f", 9, near_tie=True)]
    summary = summarize(tokens)
    assert summary.count == 6 and summary.counts == {"unshifted": 3, "marginal": 2, "shifted": 1}
    assert summary.unshifted == 50.0 and summary.marginal == pytest.approx(100 * 2 / 6)
    assert summary.shifted == pytest.approx(100 / 6) and summary.near_ties == 1
    assert summary.line() == "unshifted 50% · marginal 33% · shifted 17% of 6 tokens"
    assert summary.as_dict() == {"count": 6, "unshifted": 50.0, "marginal": 33.33, "shifted": 16.67}


def test_empty_summary_is_all_zero():
    summary = summarize([])
    assert (summary.count, summary.unshifted, summary.marginal, summary.shifted) == (0, 0.0, 0.0, 0.0)
    assert summary.line().endswith("of 0 tokens")


def test_most_shifted_aggregates_by_text_with_count_and_mean_rank():
    tokens = [
        token(" However", 10),
        token("However", 20),  # same text without its space: one entry
        token(" the", 1),  # unshifted: not listed
        token(" is", 3),  # marginal: not listed
        token("\n", 5),
        token("\n", 7),
        token(" Sure", 400),
    ]
    found = most_shifted(tokens, n=10)
    assert [(s.text, s.count, s.mean_rank) for s in found] == [
        ("However", 2, 15.0),
        ("\n", 2, 6.0),  # a whitespace-only token keeps its text
        ("Sure", 1, 400.0),
    ]
    assert most_shifted(tokens, n=1)[0].text == "However"
    assert found[0].as_dict() == {"text": "However", "count": 2, "mean_rank": 15.0}


def test_result_as_the_issues_json_shape():
    result = ShiftResult("gemma-3-270m", "raw", (token("Hi", 1), token(" there", 5)), retokenized=True)
    data = result.as_dict()
    assert set(data) == {
        "scored_by",
        "retokenized",
        "context_mode",
        "summary",
        "tokens",
        "most_shifted",
        "caveat",
        "relation",
    }
    assert data["caveat"] is None and data["relation"] is None
    assert data["tokens"][1] == {
        "text": " there",
        "rank": 5,
        "p": 0.5,
        "class": "shifted",
        "top": [{"text": "x", "p": 0.4}],
    }
    assert data["summary"] == {"count": 2, "unshifted": 50.0, "marginal": 0.0, "shifted": 50.0}
    assert data["most_shifted"] == [{"text": "there", "count": 1, "mean_rank": 5.0}]
    assert result.text == "Hi there"
    assert result.summary_line() == (
        "unshifted 50% · marginal 0% · shifted 50% of 2 tokens · scored by gemma-3-270m (re-tokenized)"
    )


# -- ranks, p, top alternatives and near-ties -----------------------------------------------------
def softmax(row):
    shifted = np.exp(row.astype(np.float64) - row.max())
    return shifted / shifted.sum()


def test_ranks_p_and_top_match_a_full_sort():
    rng = np.random.default_rng(3)
    row = (rng.standard_normal(50_000) * 4).astype(np.float32)
    order = np.argsort(-row, kind="stable")
    probs = softmax(row)
    for chosen in (int(order[0]), int(order[1]), int(order[2]), int(order[3]), int(order[777]), int(order[-1])):
        scored = rank_row(row, chosen)
        assert scored.rank == int(np.nonzero(order == chosen)[0][0]) + 1
        assert scored.p == pytest.approx(probs[chosen], rel=1e-5)
        assert scored.top_ids == tuple(int(t) for t in order[:5])
        assert scored.top_p == pytest.approx([probs[t] for t in order[:5]], rel=1e-5)


def test_rank_counts_only_strictly_greater_logits():
    row = np.array([2.0, 3.0, 3.0, 1.0], dtype=np.float32)
    assert rank_row(row, 2).rank == 1 and rank_row(row, 1).rank == 1  # a tie for first: both rank 1
    assert rank_row(row, 0).rank == 3 and rank_row(row, 3).rank == 4


def test_near_ties_are_top_two_log_probabilities_within_a_hundredth():
    base = np.full(1000, -5.0, dtype=np.float32)
    tie = base.copy()
    tie[10], tie[20] = 4.0, 4.0 - NEAR_TIE / 2
    clear = base.copy()
    clear[10], clear[20] = 4.0, 4.0 - 3 * NEAR_TIE
    assert rank_row(tie, 20).near_tie and rank_row(tie, 10).near_tie  # a property of the position
    assert not rank_row(clear, 20).near_tie
    log_p = np.log(softmax(tie))
    assert log_p[10] - log_p[20] <= NEAR_TIE


# -- byte-level tokens as whole characters --------------------------------------------------------
def test_byte_tokens_group_into_whole_characters():
    pieces = [b"caf", b"\xc3", b"\xa9", b" \xe2", b"\x98", b"\x95", b"!"]
    scores = [
        token("", 1, 0.9, token_id=1),
        token("", 2, 0.5, token_id=2),
        token("", 1, 0.8, token_id=3),
        token("", 1, 0.5, token_id=4),
        token("", 5, 0.5, near_tie=True, token_id=5),
        token("", 1, 0.5, token_id=6),
        token("", 1, 0.7, token_id=7),
    ]
    grouped = group_characters(pieces, scores)
    assert [g.text for g in grouped] == ["caf", "é", " ☕", "!"]
    assert "".join(g.text for g in grouped) == b"".join(pieces).decode("utf-8")
    cafe, accent, coffee, bang = grouped
    assert cafe.token_id == 1 and cafe.rank == 1 and cafe.p == 0.9
    assert accent.token_id is None and accent.rank == 2 and accent.p == pytest.approx(0.5 * 0.8)  # worst rank, product
    assert coffee.rank == 5 and coffee.shift_class == "shifted" and coffee.near_tie
    assert coffee.p == pytest.approx(0.125) and coffee.top == scores[3].top  # the first member's alternatives
    assert bang.token_id == 7


def test_an_answer_ending_inside_a_character_keeps_its_replacement():
    grouped = group_characters([b"ok", b"\xe2\x98"], [token("", 1), token("", 1)])
    assert [g.text for g in grouped] == ["ok", "\ufffd"]


def test_a_token_with_no_bytes_stays_a_token():
    grouped = group_characters([b"a", b"", b"b"], [token("", 1), token("", 4), token("", 1)])
    assert [(g.text, g.rank) for g in grouped] == [("a", 1), ("", 4), ("b", 1)]


def test_piece_text_names_bytes_that_are_no_character():
    assert piece_text(b" caf\xc3\xa9") == " café"
    assert piece_text(b"\xe2\x98") == "<0xE2><0x98>"
    assert piece_text(b"a\xffb") == "a<0xFF>b"


def test_grouping_needs_one_score_per_piece():
    with pytest.raises(ValueError):
        group_characters([b"a"], [])


# -- who scores whom, and the caveat -------------------------------------------------------------
def test_scorer_roles():
    roles = ["base", "chat", "third"]
    assert scorer_role("chat", roles) == "base"
    assert scorer_role("base", roles) == "chat"
    assert scorer_role("third", roles) == "base"
    assert scorer_role("base", ["base"]) is None


def test_catalog_pairs_are_a_base_and_its_fine_tune_except_the_embedded_families():
    assert caveat("llama-2-7b/chat", "llama-2-7b/base", True) is None
    assert (
        caveat("hf:TheBloke/Llama-2-7B-Chat-GGUF/llama-2-7b-chat.Q4_K_M.gguf", "/m/llama-2-7b.Q4_K_M.gguf", True)
        is None
    )
    embedded = caveat("embedded:smollm2-135m-instruct", "embedded:gemma-3-270m", False)
    assert embedded == DIFFERENT_FAMILIES and "\n" not in embedded
    assert caveat("embedded/chat", "embedded/base", False) == DIFFERENT_FAMILIES
    assert catalog_model("embedded:gemma-3-270m").name == "embedded/base"


def test_other_pairs_say_different_models_when_vocabularies_differ():
    assert caveat("/m/a.gguf", "/m/b.gguf", False) == DIFFERENT_MODELS
    assert caveat("/m/a.gguf", "/m/b.gguf", True) is None
    assert caveat("http://localhost:8080/v1#m", "/m/b.gguf", None) == UNKNOWN_VOCABULARY
    assert caveat("/m/a.gguf", "/m/a.gguf", None) is None  # a model scoring itself


def test_vocabularies_compare_by_size_and_every_text():
    a = vocabulary_of([b"<s>", b"hello", b" world"])
    assert a == vocabulary_of([b"<s>", b"hello", b" world"]) and a.size == 3
    assert a != vocabulary_of([b"<s>", b" world", b"hello"])  # the same texts under other ids
    assert a != vocabulary_of([b"<s>", b"hell", b"o world"])  # lengths are part of the digest
    assert same_vocabulary(a, None) is None and same_vocabulary(a, a) is True


# -- token ids in the history -----------------------------------------------------------------
def test_token_ids_round_trip_through_the_history(data_dir):
    with HistoryStore() as store:
        cid = store.start_conversation([{"role": "base", "model": "b", "mode": "raw"}])
        store.add_turn(cid, "p", [pane("base", " a b", token_ids=[5, 6, 262143]), pane("chat", "c")])
    with HistoryStore() as store:
        base, chat = store.get(cid)["turns"][0]["panes"]
        assert base["token_ids"] == [5, 6, 262143] and chat["token_ids"] is None
        turns = store.restore_turns(cid)
        assert turns["base"][0].token_ids == (5, 6, 262143) and turns["chat"][0].token_ids is None


def test_a_version_2_database_gains_token_ids_and_keeps_its_turns(data_dir):
    old_database(data_dir / "history.db", 2, "base", "old-base", "raw")
    with HistoryStore() as store:
        assert store.schema_version == SCHEMA_VERSION >= 4
        old = store.get(1)["turns"][0]["panes"][0]
        assert old["text"] == " world" and old["token_ids"] is None
        store.add_turn(1, "again", [pane("base", " x", token_ids=[1, 2])])
        assert store.get(1)["turns"][1]["panes"][0]["token_ids"] == [1, 2]


# -- engines without the capability --------------------------------------------------------------
def test_a_server_pane_says_in_one_line_that_it_cannot_score():
    from models.engines import make_engine
    from models.lens.request import ScoreRequest
    from models.settings import ModelSpec

    engine = make_engine(ModelSpec(source="http://127.0.0.1:9/v1#some-model"))
    assert not engine.can_score and engine.vocabulary() is None
    with pytest.raises(DuetError, match="the server does not return log-probabilities for a given text") as raised:
        engine.score(ScoreRequest(prompt="x", answer="y", mode="chat"), threading.Event())
    assert "\n" not in str(raised.value)
