"""Each figure: Duet measured against bare llama-cpp-python in the same run."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

from benchmarks.app_driver import fresh_turn, interleave_in_app, run_app, send_and_wait, wait_for
from benchmarks.bare import bare_llama, bare_stream
from benchmarks.bare_process import BareProcess
from benchmarks.lens_scoring import lens_scoring
from benchmarks.safety_costs import abort_switch, template_render
from benchmarks.startup import startup
from benchmarks.stats import decode_rate, figure_result, interleave, median, percentile, ratio
from models.engines.llama.engine import LlamaEngine
from models.events import Finished, TextDelta
from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT, embedded_path
from models.pair import PaneConfig
from models.prompts import RAW
from models.settings import ModelSpec, SamplingSettings, default_threads_per_model
from models.threads import available_cores
from models.worker import on_own_thread

ROOT = Path(__file__).resolve().parent.parent
# A prompt both embedded models continue for hundreds of tokens without stopping.
LONG_PROMPT = "Chapter 1. The history of the Roman Empire begins"
# In chat mode SmolLM2 answers this in about a dozen tokens; Gemma's raw continuation runs to the limit.
SHORT_CHAT_PROMPT = "Say hello in five words."


# -- 1. engine overhead ----------------------------------------------------------------------
def engine_overhead(repeats: int, max_tokens: int) -> dict:
    threads = default_threads_per_model()
    engine = LlamaEngine(ModelSpec(source=DEFAULT_BASE, n_threads=threads))
    engine.load()
    llama = engine._require()  # the same loaded model for both sides: only the code around it differs
    sampling = SamplingSettings(max_tokens=max_tokens)
    counts: dict[str, list[int]] = {"duet": [], "bare": []}

    def duet() -> float:
        llama.reset()
        rendered = engine.render(RAW, LONG_PROMPT, [], sampling)
        times = []
        for event in engine.stream(rendered, sampling, threading.Event()):
            if isinstance(event, TextDelta):
                times.append(time.perf_counter())
            elif isinstance(event, Finished):
                counts["duet"].append(event.metrics.tokens)
        return decode_rate(times)

    def bare() -> float:
        run = bare_stream(llama, LONG_PROMPT, sampling)
        counts["bare"].append(len(run["times"]))
        return decode_rate(run["times"])

    duet_rates, bare_rates = interleave(repeats, duet, bare)
    engine.close()
    d, b = median(duet_rates), median(bare_rates)
    return figure_result(
        "1. engine tokens/s (one pane)",
        d,
        b,
        ratio(d, b),
        ">= 0.97",
        ratio(d, b) >= 0.97,
        "tok/s",
        tokens={k: sorted(set(v)) for k, v in counts.items()},
        samples={"duet": duet_rates, "bare": bare_rates},
    )


# -- 2. app overhead -------------------------------------------------------------------------
def app_overhead(repeats: int, max_tokens: int, data_dir: str) -> dict:
    threads = default_threads_per_model()
    sampling = SamplingSettings(max_tokens=max_tokens)
    panes = [PaneConfig("base", ModelSpec(source=DEFAULT_BASE, n_threads=threads), "raw")]

    async def turns(app, pilot):
        async def duet():
            await fresh_turn(app, pilot, LONG_PROMPT)
            return app.sessions["base"].turns[-1].metrics.tokens_per_s

        return await interleave_in_app(
            app, pilot, repeats, duet, lambda: decode_rate(bare.stream("gemma-3-270m", LONG_PROMPT, sampling)["times"])
        )

    with BareProcess({"gemma-3-270m": threads}) as bare:
        duet_rates, bare_rates = run_app(panes, sampling, data_dir, turns)
    d, b = median(duet_rates), median(bare_rates)
    return figure_result(
        "2. app tokens/s (one pane, streaming into the widget)",
        d,
        b,
        ratio(d, b),
        ">= 0.95",
        ratio(d, b) >= 0.95,
        "tok/s",
        threads=threads,
        samples={"duet": duet_rates, "bare": bare_rates},
    )


# -- 3. two panes at once --------------------------------------------------------------------
def two_panes(
    repeats: int, max_tokens: int, data_dir: str, splits: list[tuple[int | None, int | None]], uneven_repeats: int = 0
) -> dict:
    """Both answers as long (the ratio figure) and, with uneven_repeats, the usual case where the
    chat answer ends long before the base one: a split has to win both to be the default."""
    sampling = SamplingSettings(max_tokens=max_tokens)
    cores = available_cores()
    names = ["gemma-3-270m", "smollm2-135m-instruct"]
    bare = BareProcess({name: cores for name in names})

    def bare_sequential() -> float:
        return bare.sequential(names, LONG_PROMPT, sampling)

    by_split = {}
    for base_threads, chat_threads in splits:
        panes = [
            PaneConfig("base", ModelSpec(source=DEFAULT_BASE, n_threads=base_threads), "raw"),
            PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT, n_threads=chat_threads), "raw"),
        ]
        ttfts: list[dict[str, float]] = []

        async def turns(app, pilot, ttfts=ttfts):  # this split's list, bound now
            async def both():
                wall = await fresh_turn(app, pilot, LONG_PROMPT)
                ttfts.append({r: s.turns[-1].metrics.ttft_s for r, s in app.sessions.items()})
                return wall

            return await interleave_in_app(app, pilot, repeats, both, bare_sequential)

        walls, bares = run_app(panes, sampling, data_dir, turns)
        by_split[_split_name(base_threads, chat_threads)] = {
            "wall_s": median(walls),
            "bare_sequential_s": median(bares),
            "ratio": ratio(median(walls), median(bares)),
            "ttft_s": {r: median([t[r] for t in ttfts]) for r in ("base", "chat")},
        }
    bare.close()
    return _two_panes_result(
        by_split, uneven_answers(uneven_repeats, max_tokens, data_dir, splits) if uneven_repeats else None
    )


def _two_panes_result(by_split: dict, uneven: dict | None) -> dict:
    best = min(by_split, key=lambda k: by_split[k]["ratio"])
    default = _split_name(None, None)
    chosen = by_split.get(default, by_split[best])
    extra = {}
    if uneven is not None:
        extra = {
            "chat_ends_early": uneven,
            "best_split_chat_ends_early": min(uneven, key=lambda k: uneven[k]["wall_s"]),
        }
    return figure_result(
        "3. two panes: wall time vs both bare runs in sequence",
        chosen["wall_s"],
        chosen["bare_sequential_s"],
        chosen["ratio"],
        "<= 1.0",
        chosen["ratio"] <= 1.0,
        "s",
        default_split=default,
        best_split_same_length=best,
        splits=by_split,
        ttft_s=chosen["ttft_s"],
        **extra,
    )


def uneven_answers(repeats: int, max_tokens: int, data_dir: str, splits: list[tuple[int | None, int | None]]) -> dict:
    """Wall time until both panes are done when the chat pane (chat mode) stops early and the base
    pane (raw) runs to max_tokens. Each turn in a fresh app, the splits alternating, so a slow
    stretch of this noisy machine does not land on one split."""
    sampling = SamplingSettings(max_tokens=max_tokens)
    walls: dict[str, list[float]] = {_split_name(*split): [] for split in splits}
    tokens = {}

    async def one_turn(app, pilot):
        for session in app.sessions.values():
            await asyncio.wrap_future(session.warming)  # the chat prefix is read before a person has typed
        wall = await send_and_wait(app, pilot, SHORT_CHAT_PROMPT)
        return wall, {r: s.turns[-1].metrics.tokens for r, s in app.sessions.items()}

    for i in range(repeats):
        for base_threads, chat_threads in splits if i % 2 == 0 else list(reversed(splits)):
            panes = [
                PaneConfig("base", ModelSpec(source=DEFAULT_BASE, n_threads=base_threads), "raw"),
                PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT, n_threads=chat_threads), "chat"),
            ]
            name = _split_name(base_threads, chat_threads)
            wall, tokens[name] = run_app(panes, sampling, data_dir, one_turn)
            walls[name].append(wall)
    return {name: {"wall_s": median(w), "samples": w, "tokens": tokens[name]} for name, w in walls.items()}


def _split_name(base_threads: int | None, chat_threads: int | None) -> str:
    """'auto' is Duet's default: the cores shared among the panes generating at the moment."""
    if base_threads is None and chat_threads is None:
        return "auto"
    return f"{base_threads}+{chat_threads}"


# -- 4. long answers -------------------------------------------------------------------------
def long_answer(appends: int) -> dict:
    from textual.app import App

    from models.session import PaneSession
    from tui.widgets.pane import ChatPane

    class PaneApp(App):
        def compose(self):  # a pane alone, fed events here; its session never loads a model
            yield ChatPane(PaneSession("chat", ModelSpec(source="bench"), "chat"))

    word = " lorem"

    async def cost_at(tokens_before: int) -> float:
        app = PaneApp()
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(ChatPane)
            generation = await pane.begin_turn("prompt")
            lines = [" ".join(["lorem"] * 12) for _ in range(tokens_before // 12)]
            prefill = "\n\n".join(lines) + "\n\n"  # paragraphs, like a real long answer
            await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, TextDelta(prefill)))
            answer = pane._answer
            if answer is None:
                raise RuntimeError("the pane did not start an answer for the turn")
            await _drain(answer, pilot)
            started = time.perf_counter()
            for _ in range(appends):
                await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, TextDelta(word)))
                await _drain(answer, pilot)
            elapsed = time.perf_counter() - started
            assert len(answer.text) >= len(prefill) + appends * len(word)
            return elapsed / appends

    async def both():
        short = [await cost_at(200) for _ in range(2)]
        long = [await cost_at(8000) for _ in range(2)]
        return median(short), median(long)

    short, long = asyncio.run(both())
    return figure_result(
        "4. append cost at 8,000 vs 200 tokens",
        long * 1000,
        short * 1000,
        ratio(long, short),
        "<= 1.2",
        ratio(long, short) <= 1.2,
        "ms/append",
    )


async def _drain(answer, pilot) -> None:
    await pilot.pause()  # the append is awaited in the handler; this lets the screen refresh


# -- 5. responsiveness -----------------------------------------------------------------------
def responsiveness(keys: int, data_dir: str) -> dict:
    from textual import events

    from tui.widgets.prompt_input import PromptInput

    panes = [
        PaneConfig("base", ModelSpec(source=DEFAULT_BASE), "raw"),
        PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT), "raw"),
    ]
    sampling = SamplingSettings(max_tokens=400)

    async def latencies(app, pilot, streaming: bool) -> list[float]:
        if streaming:
            await app.send(LONG_PROMPT)
            await wait_for(
                pilot, lambda: all(p.query("AnswerTurn") and p.query("AnswerTurn").first().text for p in app.panes)
            )
        prompt = app.query_one(PromptInput)
        out = []
        for _ in range(keys):
            expected = len(prompt.text) + 1
            # What the terminal driver does with a keystroke: post a Key event to the app. (Pilot's
            # press() waits for the app to go idle, which it never does while streaming.)
            started = time.perf_counter()
            app.post_message(events.Key("x", "x"))
            while len(prompt.text) < expected:
                await asyncio.sleep(0.0005)
            out.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)  # a typing pace, not a burst
        if streaming:
            assert app.busy, "the answers finished before the keys were measured; raise max_tokens"
            app.action_stop_all()
            await wait_for(pilot, lambda: not app.busy)
        return out

    busy = run_app(panes, sampling, data_dir, lambda app, pilot: latencies(app, pilot, True))
    idle = run_app(panes, sampling, data_dir, lambda app, pilot: latencies(app, pilot, False))
    p95_busy, p95_idle = percentile(busy, 95) * 1000, percentile(idle, 95) * 1000
    return figure_result(
        "5. keypress-to-document latency p95 while both stream (idle app as bare)",
        p95_busy,
        p95_idle,
        ratio(p95_busy, p95_idle),
        "p95 < 50 ms",
        p95_busy < 50,
        "ms",
        p50_ms={"streaming": percentile(busy, 50) * 1000, "idle": percentile(idle, 50) * 1000},
    )


# -- 7. time to first token ------------------------------------------------------------------
def first_token(repeats: int, data_dir: str) -> dict:
    sampling = SamplingSettings(max_tokens=8)
    panes = [
        PaneConfig("base", ModelSpec(source=DEFAULT_BASE), "raw"),
        PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT), "chat"),
    ]
    prompts, warmed = {}, {}

    async def turns(app, pilot):
        for role, session in app.sessions.items():  # the warm-up that followed the load
            warmed[role] = await asyncio.wrap_future(session.warming)
        out = []
        for _ in range(repeats):
            for pane in app.panes:
                app.sessions[pane.role].clear()
                await pane.clear()
            # A person types the message after the panes are ready: the template prefix that a
            # cleared pane warms meanwhile (see LlamaEngine.warm) is done before "Hello" is sent.
            # (It evaluates nothing when the prefix is still in the cache: keep the largest count.)
            for role, session in app.sessions.items():
                warmed[role] = max(warmed[role], await asyncio.wrap_future(session.warming))
            await send_and_wait(app, pilot, "Hello")
            out.append({r: s.turns[-1].metrics.ttft_s for r, s in app.sessions.items()})
            prompts.update({r: s.turns[-1].rendered.text for r, s in app.sessions.items()})
        return out

    duet = run_app(panes, sampling, data_dir, turns)
    threads = default_threads_per_model()
    bare = {}
    for role, name in (("base", "gemma-3-270m"), ("chat", "smollm2-135m-instruct")):
        llama = bare_llama(embedded_path(name), threads)
        runs = [on_own_thread(partial(bare_stream, llama, prompts[role], sampling)) for _ in range(repeats)]
        bare[role] = median([run["ttft_s"] for run in runs])
        llama.close()
    d = {r: median([t[r] for t in duet]) for r in ("base", "chat")}
    worst = max(d.values())
    return figure_result(
        "7. time to first token, 'Hello', both panes",
        worst * 1000,
        max(bare.values()) * 1000,
        ratio(worst, max(bare.values())),
        "< 150 ms each",
        worst < 0.150,
        "ms",
        duet_ttft_ms={r: v * 1000 for r, v in d.items()},
        bare_ttft_ms={r: v * 1000 for r, v in bare.items()},
        warmed_prefix_tokens=warmed,
    )


def run_all(quick: bool) -> list[dict]:
    data_dir = tempfile.mkdtemp(prefix="duet-bench-")
    reps = 2 if quick else 5
    tokens = 64 if quick else 192
    steps = [
        lambda: engine_overhead(reps + 1, tokens),
        lambda: app_overhead(reps, tokens, data_dir),
        lambda: two_panes(
            reps,
            tokens,
            data_dir,
            [(None, None)] if quick else [(None, None), (1, 1), (2, 2)],
            uneven_repeats=0 if quick else 3,
        ),
        lambda: long_answer(40 if quick else 150),
        lambda: responsiveness(20 if quick else 60, data_dir),
        lambda: startup(reps, data_dir),
        lambda: first_token(reps + 1, data_dir),
        lambda: lens_scoring(2 if quick else 3, available_cores()),
        lambda: template_render(50 if quick else 200),
        lambda: abort_switch(reps, tokens, available_cores()),
    ]
    results = []
    for step in steps:
        started = time.perf_counter()
        result = step()
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        results.append(result)
        print(f"  done: {result['figure']} ({result['elapsed_s']} s)", file=sys.stderr, flush=True)
    return results
