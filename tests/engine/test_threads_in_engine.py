"""The engine really changes its thread count while it generates, and a session holds its share only while answering."""

import threading

from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import llama_cpp
from models.events import TextDelta
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.threads import CPU_BUDGET, ThreadBudget


def test_the_engine_switches_threads_while_it_generates(base_path):
    engine = LlamaEngine(ModelSpec(source=str(base_path), n_ctx=512))
    engine.load()
    budget = ThreadBudget(cores=2)
    mine, other = budget.acquire(), budget.acquire()  # another pane is generating too
    sampling = SamplingSettings(max_tokens=12)
    rendered = engine.render(get_mode("raw"), "The capital of France is", [], sampling)
    ctx = engine._llama._ctx.ctx
    seen = []
    for event in engine.stream(rendered, sampling, threading.Event(), lease=mine):
        if isinstance(event, TextDelta):
            seen.append(llama_cpp().llama_n_threads(ctx))
            if len(seen) == 2:
                budget.release(other)  # the other pane finished
    engine.close()
    assert seen[0] == 1 and seen[-1] == 2


def test_a_session_holds_its_share_only_while_answering(base_path):
    session = PaneSession("base", ModelSpec(source=str(base_path), n_ctx=512), "raw", SamplingSettings(max_tokens=4))
    session.load().result()
    try:
        before = len(CPU_BUDGET._leases)
        shares = []
        session.send("Hello", lambda e: shares.append(len(CPU_BUDGET._leases))).result(timeout=60)
        assert shares and all(n == before + 1 for n in shares)
        assert len(CPU_BUDGET._leases) == before
    finally:
        session.close()
