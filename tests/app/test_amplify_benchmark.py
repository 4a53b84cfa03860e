"""Figure 15 measures what it says, on a tiny workload: the bare lockstep loop writes the tokens the
amplified pane writes (the same work), and the memory children report a resident size each."""

from __future__ import annotations

import threading

from benchmarks.amplify import FACTOR, PROMPT, BareLockstep, _engine, memory
from models.events import Finished
from models.prompts import get_mode
from models.settings import SamplingSettings
from tests.support.lora_gguf import write_lora


def test_the_bare_loop_writes_what_the_amplified_pane_writes(tmp_path):
    adapter = str(write_lora(tmp_path / "lora.gguf"))
    engine = _engine(adapter, 2)
    try:
        assert engine.factor == FACTOR
        sampling = SamplingSettings(max_tokens=12)
        prompt = engine.render(get_mode("chat"), PROMPT, [], sampling)
        finished = list(engine.stream(prompt, sampling, threading.Event()))[-1]
        assert isinstance(finished, Finished) and finished.error is None and finished.token_ids
        bare = BareLockstep(adapter, 2, list(prompt.tokens))
        try:
            assert bare.rate(12) > 0
            assert tuple(bare.tokens[: len(finished.token_ids)]) == finished.token_ids
        finally:
            bare.close()
    finally:
        engine.close()


def test_memory_children_report_one_pane_and_the_amplified_pane(tmp_path):
    found = memory(str(write_lora(tmp_path / "lora.gguf")), 2)
    assert set(found) == {"pane", "amplified"}
    assert all(side["peak"] >= side["rss"] > 50 * 2**20 for side in found.values())
