"""Sharing the cores among generating panes, on the real embedded model."""

import threading

from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import llama_cpp
from models.events import TextDelta
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.threads import CPU_BUDGET, ThreadBudget


def test_generating_panes_split_the_cores_and_the_last_one_takes_them_all():
    budget = ThreadBudget(cores=4)
    a = budget.acquire()
    assert a.threads == 4
    b = budget.acquire()
    assert (a.threads, b.threads) == (2, 2)
    c = budget.acquire()
    assert sorted((a.threads, b.threads, c.threads)) == [1, 1, 2]  # every core used, none twice
    budget.release(b), budget.release(c)
    assert a.threads == 4
    budget.release(a)
    budget.release(a)  # releasing twice is harmless


def test_pinned_threads_are_kept_and_left_out_of_the_share():
    budget = ThreadBudget(cores=4)
    pinned = budget.acquire(fixed=3)
    flexible = budget.acquire()
    assert (pinned.threads, flexible.threads) == (3, 1)
    budget.release(pinned)
    assert flexible.threads == 4
    crowded = ThreadBudget(cores=2)
    crowded.acquire(fixed=2)
    assert crowded.acquire().threads == 1  # never zero threads


def test_a_lease_reports_a_change_once():
    budget = ThreadBudget(cores=2)
    a = budget.acquire()
    assert a.threads_if_changed() == 2
    assert a.threads_if_changed() is None
    b = budget.acquire()
    assert a.threads_if_changed() == 1
    budget.release(b)
    assert a.threads_if_changed() == 2 and a.threads_if_changed() is None


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
