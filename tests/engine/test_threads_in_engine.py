"""The engine really changes its thread count while it generates, and a session holds its share only while answering."""

import os
import threading
import time

import pytest

from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import llama_cpp
from models.events import TextDelta
from models.prompts import get_mode
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.threads import CPU_BUDGET, ThreadBudget, available_cores


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


def _os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or available_cores() < 2, reason="Linux, 2 cores or more")
def test_a_pane_that_decoded_with_every_core_leaves_no_openmp_thread_behind(base_path):
    """llama.cpp's OpenMP team lives as long as the thread that started it, and once the process
    holds more OpenMP threads than cores every barrier sleeps in the kernel (models/worker.py).
    A session answering alone gets every core; after the answer the process has no more threads
    than before it."""
    session = PaneSession("base", ModelSpec(source=str(base_path), n_ctx=512), "raw", SamplingSettings(max_tokens=6))
    session.load().result()
    try:
        session.warming.result(timeout=60) if session.warming is not None else None
        time.sleep(0.2)  # the load's and warm's threads have ended
        before = _os_threads()
        threads_used = []
        ctx = session._engine._llama._ctx.ctx

        def seen(event):
            if isinstance(event, TextDelta):
                threads_used.append(llama_cpp().llama_n_threads(ctx))

        session.send("The capital of France is", seen).result(timeout=60)
        assert threads_used and max(threads_used) >= 2  # it did decode with an OpenMP team
        deadline = time.monotonic() + 5
        while _os_threads() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _os_threads() <= before
    finally:
        session.close()
