"""duet run's "What differed", counted from the run's records."""

from tui.export.run_summary import what_differed


def pane(role: str, text: str, stop: str, shifted: float | None = None, count: int = 10) -> dict:
    record = {"role": role, "text": text, "error": None, "metrics": {"stop_reason": stop, "tokens": count}}
    if shifted is not None:
        record["shift"] = {"scored_by": "other", "summary": {"count": count, "shifted": shifted}}
    return record


def test_endings_lengths_identical_answers_and_the_shifted_share():
    items = [
        {"panes": [pane("base", "aaaa", "length", 10.0), pane("chat", "bb", "eos", 50.0)]},
        {"panes": [pane("base", "same", "length", 30.0, 30), pane("chat", "same", "stop", 0.0)]},
        {"panes": [pane("base", "x", "cancelled"), {**pane("chat", "", "error"), "error": "failed"}]},
    ]
    lines = what_differed({"items": items})
    assert lines[0] == "base: ended 0 of 3 answers by itself, ran to the token limit in 2 (1 stopped otherwise)"
    assert lines[1] == "chat: ended 2 of 2 answers by itself, ran to the token limit in 0"
    assert lines[2] == "mean answer length in characters: base 3, chat 3"
    assert lines[3] == "identical answers from every pane: 1 of 2 prompts"  # the third had one answer
    assert lines[4] == "base: 25% of its 40 tokens shifted (below other's top 3)"  # (1 + 9) of 40
    assert lines[5] == "chat: 25% of its 20 tokens shifted (below other's top 3)"


def test_a_run_without_answers_has_nothing_to_say():
    assert what_differed({"items": []}) == []
