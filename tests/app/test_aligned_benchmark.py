"""Figure 11 (benchmarks/aligned_ttft.py) measures what it says, on a tiny run (no timing asserted)."""

from __future__ import annotations

import pytest

from benchmarks.aligned_ttft import QUESTION, aligned_first_token


def test_the_aligned_ttft_figure_times_cached_cold_raw_and_bare_on_the_same_question():
    result = aligned_first_token(repeats=1, models=("smollm2-135m-instruct",))
    ms = result["ttft_ms"]["smollm2-135m-instruct"]
    assert set(ms) == {"cached", "cold", "raw", "bare_raw", "bare_aligned"} and all(v > 0 for v in ms.values())
    assert result["question"] == QUESTION and result["unit"] == "ms"
    assert result["prefix_tokens"]["smollm2-135m-instruct"] > 500  # the cached part is the header and examples
    assert result["prompt_tokens"]["smollm2-135m-instruct"] > result["prefix_tokens"]["smollm2-135m-instruct"]
    assert all(len(v) == 1 for v in result["samples"]["smollm2-135m-instruct"].values())
    assert result["duet"] == pytest.approx(ms["cached"], abs=0.05) and result["bare"] == pytest.approx(
        ms["bare_raw"], abs=0.05
    )
    assert result["ratio"] == pytest.approx(result["duet"] / result["bare"])
