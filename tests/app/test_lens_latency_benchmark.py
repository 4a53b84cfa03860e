"""Figure 18 measures what it says, on the smallest workload: `duet ask --shift` scores every pane
and the command without it does not, and in the app F8, ctrl+w, F8 puts both panes' lenses on
screen while the bare process scores the same answers, token for token (no timing assertions)."""

from __future__ import annotations

import math

import pytest

from benchmarks.lens_latency import ask_figure, lens_figure

TOKENS = 12


def positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def test_ask_figure_times_the_command_with_and_without_shift(tmp_path):
    result = ask_figure(repeats=1, max_tokens=TOKENS, data_dir=str(tmp_path))
    assert result["figure"].startswith("18a.") and result["unit"] == "s"
    assert positive(result["duet"]) and positive(result["bare"])
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])
    assert len(result["samples"]["shift"]) == len(result["samples"]["plain"]) == 1
    assert result["every_pane_scored"] and set(result["lens_tokens"]) == {"base", "chat"}
    assert all(count > 0 for counts in result["lens_tokens"].values() for count in counts)
    for side in ("shift", "plain"):
        assert set(result["tokens"][side]) == {"base", "chat"}
        assert all(0 < n <= TOKENS for counts in result["tokens"][side].values() for n in counts)


def test_lens_figure_shows_both_lenses_and_the_bare_side_scores_the_same_tokens(tmp_path):
    result = lens_figure(repeats=1, max_tokens=TOKENS, data_dir=str(tmp_path))
    assert result["figure"].startswith("18b.") and result["unit"] == "s"
    assert positive(result["duet"]) and positive(result["bare"])
    both = result["both_panes"]
    assert positive(both["duet_s"]) and positive(both["bare_in_two_threads_s"])
    assert positive(result["answers_s"]) and all(positive(s) for s in result["cold_round"].values())
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])
    assert len(result["samples"]["duet"]) == len(result["samples"]["bare"]) == 1
    shown = result["lens_shown_s"]
    assert shown["chat"] == result["duet"] and shown["chat"] <= shown["base"] == both["duet_s"]  # chat's lens first
    [lens], [bare], [model_tokens] = result["lens_tokens"], result["bare_tokens"], result["bare_model_tokens"]
    assert set(lens) == {"base", "chat"} and all(n > 0 for n in lens.values())  # every pane scored
    assert bare == lens and result["same_work"]  # the bare side scored what the lens shows
    assert all(model_tokens[role] >= lens[role] for role in lens)  # byte tokens of one character are one entry
    assert result["bare_threads"]["first_view"] >= result["bare_threads"]["both"] >= 1
