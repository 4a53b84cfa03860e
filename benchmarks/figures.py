"""Each figure: Duet measured against bare llama-cpp-python in the same run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.bare import bare_llama, bare_stream
from benchmarks.bare_process import BareProcess
from benchmarks.stats import decode_rate, interleave, median, percentile, ratio
from models.engines.llama.engine import LlamaEngine
from models.events import Finished, TextDelta
from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT, embedded_path
from models.pair import PaneConfig
from models.prompts import RAW
from models.settings import ModelSpec, SamplingSettings, default_threads_per_model
from models.store.history import HistoryStore
from models.threads import available_cores

ROOT = Path(__file__).resolve().parent.parent
# A prompt both embedded models continue for hundreds of tokens without stopping.
LONG_PROMPT = "Chapter 1. The history of the Roman Empire begins"
# In chat mode SmolLM2 answers this in about a dozen tokens; Gemma's raw continuation runs to the limit.
SHORT_CHAT_PROMPT = "Say hello in five words."


def _result(name, duet, bare, value_ratio, target, ok, unit, **extra) -> dict:
    return {
        "figure": name,
        "duet": duet,
        "bare": bare,
        "ratio": value_ratio,
        "target": target,
        "pass": bool(ok),
        "unit": unit,
        **extra,
    }


# -- 1. engine overhead ----------------------------------------------------------------------
def engine_overhead(repeats: int, max_tokens: int) -> dict:
    threads = default_threads_per_model()
    engine = LlamaEngine(ModelSpec(source=DEFAULT_BASE, n_threads=threads))
    engine.load()
    llama = engine._llama  # the same loaded model for both sides: only the code around it differs
    sampling = SamplingSettings(max_tokens=max_tokens)
    counts = {"duet": [], "bare": []}

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
    return _result(
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


# -- app helpers -----------------------------------------------------------------------------
def _app(panes: list[PaneConfig], sampling: SamplingSettings, data_dir: str):
    from tui.app import DuetApp

    return DuetApp(panes, sampling, history=HistoryStore(Path(data_dir) / "history.db"))


async def _wait(pilot, condition, timeout: float = 300) -> None:
    # A plain sleep, not pilot.pause(): that forces a full screen refresh every call, work the
    # running app would never do, and on two busy cores it showed up as Duet's overhead.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.01)


def _loaded(app) -> bool:
    return all(p.info is not None or p.load_error for p in app.panes)


async def _send_and_wait(app, pilot, text: str) -> float:
    counts = {r: len(s.turns) for r, s in app.sessions.items()}
    started = time.perf_counter()
    await app.send(text)
    await _wait(pilot, lambda: not app.busy and all(len(s.turns) > counts[r] for r, s in app.sessions.items()))
    return time.perf_counter() - started


async def _fresh_turn(app, pilot, text: str) -> float:
    """One turn from an empty conversation (a cold prompt, as bare_stream's reset gives)."""
    for pane in app.panes:
        app.sessions[pane.role].clear()
        await pane.clear()
    return await _send_and_wait(app, pilot, text)


async def _interleave_in_app(app, pilot, repeats: int, duet_turn, bare_run) -> tuple[list, list]:
    """Like stats.interleave, inside one running app: a warm-up turn first (not counted), then
    app turns and bare runs alternate; the bare side runs while the app sits idle."""
    await _fresh_turn(app, pilot, "Hello")
    duet, bare = [], []
    for i in range(repeats):
        if i % 2 == 0:
            duet.append(await duet_turn()), bare.append(bare_run())
        else:
            bare.append(bare_run()), duet.append(await duet_turn())
    return duet, bare


def _run_app(panes, sampling, data_dir, body):
    async def main():
        app = _app(panes, sampling, data_dir)
        async with app.run_test(size=(160, 48)) as pilot:
            await _wait(pilot, lambda: _loaded(app))
            return await body(app, pilot)

    return asyncio.run(main())


# -- 2. app overhead -------------------------------------------------------------------------
def app_overhead(repeats: int, max_tokens: int, data_dir: str) -> dict:
    threads = default_threads_per_model()
    sampling = SamplingSettings(max_tokens=max_tokens)
    panes = [PaneConfig("base", ModelSpec(source=DEFAULT_BASE, n_threads=threads), "raw")]

    async def turns(app, pilot):
        async def duet():
            await _fresh_turn(app, pilot, LONG_PROMPT)
            return app.sessions["base"].turns[-1].metrics.tokens_per_s

        return await _interleave_in_app(
            app, pilot, repeats, duet, lambda: decode_rate(bare.stream("gemma-3-270m", LONG_PROMPT, sampling)["times"])
        )

    with BareProcess({"gemma-3-270m": threads}) as bare:
        duet_rates, bare_rates = _run_app(panes, sampling, data_dir, turns)
    d, b = median(duet_rates), median(bare_rates)
    return _result(
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
        ttfts = []

        async def turns(app, pilot, ttfts=ttfts):  # this split's list, bound now
            async def both():
                wall = await _fresh_turn(app, pilot, LONG_PROMPT)
                ttfts.append({r: s.turns[-1].metrics.ttft_s for r, s in app.sessions.items()})
                return wall

            return await _interleave_in_app(app, pilot, repeats, both, bare_sequential)

        walls, bares = _run_app(panes, sampling, data_dir, turns)
        by_split[_split_name(base_threads, chat_threads)] = {
            "wall_s": median(walls),
            "bare_sequential_s": median(bares),
            "ratio": ratio(median(walls), median(bares)),
            "ttft_s": {r: median([t[r] for t in ttfts]) for r in ("base", "chat")},
        }
    bare.close()
    best = min(by_split, key=lambda k: by_split[k]["ratio"])
    default = _split_name(None, None)
    chosen = by_split.get(default, by_split[best])
    extra = {}
    if uneven_repeats:
        uneven = uneven_answers(uneven_repeats, max_tokens, data_dir, splits)
        extra = {
            "chat_ends_early": uneven,
            "best_split_chat_ends_early": min(uneven, key=lambda k: uneven[k]["wall_s"]),
        }
    return _result(
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
    walls = {_split_name(*split): [] for split in splits}
    tokens = {}

    async def one_turn(app, pilot):
        for session in app.sessions.values():
            await asyncio.wrap_future(session.warming)  # the chat prefix is read before a person has typed
        wall = await _send_and_wait(app, pilot, SHORT_CHAT_PROMPT)
        return wall, {r: s.turns[-1].metrics.tokens for r, s in app.sessions.items()}

    for i in range(repeats):
        for base_threads, chat_threads in splits if i % 2 == 0 else list(reversed(splits)):
            panes = [
                PaneConfig("base", ModelSpec(source=DEFAULT_BASE, n_threads=base_threads), "raw"),
                PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT, n_threads=chat_threads), "chat"),
            ]
            name = _split_name(base_threads, chat_threads)
            wall, tokens[name] = _run_app(panes, sampling, data_dir, one_turn)
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
    return _result(
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
            await _wait(
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
            await _wait(pilot, lambda: not app.busy)
        return out

    busy = _run_app(panes, sampling, data_dir, lambda app, pilot: latencies(app, pilot, True))
    idle = _run_app(panes, sampling, data_dir, lambda app, pilot: latencies(app, pilot, False))
    p95_busy, p95_idle = percentile(busy, 95) * 1000, percentile(idle, 95) * 1000
    return _result(
        "5. keypress-to-document latency p95 while both stream (idle app as bare)",
        p95_busy,
        p95_idle,
        ratio(p95_busy, p95_idle),
        "p95 < 50 ms",
        p95_busy < 50,
        "ms",
        p50_ms={"streaming": percentile(busy, 50) * 1000, "idle": percentile(idle, 50) * 1000},
    )


# -- 6. start-up -----------------------------------------------------------------------------
_CHILD_PRELUDE = """
import json, sys, time
t0 = float(sys.argv[1])

def peak_rss_kb():
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's peak across fork+exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

_APP_STARTUP = (
    _CHILD_PRELUDE
    + """
import asyncio
from tui.cli.main import build_parser
from tui.cli.launch import build_app
async def main():
    app = build_app(build_parser().parse_args([]))  # what `duet` with no arguments runs
    async with app.run_test(size=(120, 40)) as pilot:
        while not all(p.info for p in app.panes):
            await pilot.pause(0.005)
        ready = time.time() - t0
    print(json.dumps({"ready_s": ready, "rss_kb": peak_rss_kb()}))
asyncio.run(main())
"""
)

_BARE_STARTUP = (
    _CHILD_PRELUDE
    + """
from concurrent.futures import ThreadPoolExecutor
from models.files.embedded import embedded_path
from models.engines.llama.runtime import llama_cpp
paths = [embedded_path("gemma-3-270m"), embedded_path("smollm2-135m-instruct")]
def load(p):
    return llama_cpp().Llama(model_path=str(p), n_ctx=2048, n_threads=1, verbose=False)
with ThreadPoolExecutor(2) as pool:
    models = list(pool.map(load, paths))
print(json.dumps({"ready_s": time.time() - t0, "rss_kb": peak_rss_kb()}))
"""
)


def _child(script: str, data_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUET_DATA_DIR": data_dir, "HF_HUB_OFFLINE": "1"}
    t0 = time.time()
    out = subprocess.run(
        [sys.executable, "-c", script, repr(t0)], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def startup(repeats: int, data_dir: str) -> dict:
    duet_runs, bare_runs = interleave(
        repeats, lambda: _child(_APP_STARTUP, data_dir), lambda: _child(_BARE_STARTUP, data_dir)
    )
    d = median([r["ready_s"] for r in duet_runs])
    b = median([r["ready_s"] for r in bare_runs])
    gguf_bytes = sum(embedded_path(n).stat().st_size for n in ("gemma-3-270m", "smollm2-135m-instruct"))
    rss = median([r["rss_kb"] * 1024 for r in duet_runs])
    return _result(
        "6. start-up to both models loaded and the app ready",
        d,
        b,
        ratio(d, b),
        "< 1.5 s",
        d < 1.5,
        "s",
        peak_rss_bytes=rss,
        gguf_bytes=gguf_bytes,
        rss_over_gguf=rss / gguf_bytes,
        bare_peak_rss_bytes=median([r["rss_kb"] * 1024 for r in bare_runs]),
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
            await _send_and_wait(app, pilot, "Hello")
            out.append({r: s.turns[-1].metrics.ttft_s for r, s in app.sessions.items()})
            prompts.update({r: s.turns[-1].rendered.text for r, s in app.sessions.items()})
        return out

    duet = _run_app(panes, sampling, data_dir, turns)
    threads = default_threads_per_model()
    bare = {}
    for role, name in (("base", "gemma-3-270m"), ("chat", "smollm2-135m-instruct")):
        llama = bare_llama(embedded_path(name), threads)
        bare[role] = median([bare_stream(llama, prompts[role], sampling)["ttft_s"] for _ in range(repeats)])
        llama.close()
    d = {r: median([t[r] for t in duet]) for r in ("base", "chat")}
    worst = max(d.values())
    return _result(
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
    ]
    results = []
    for step in steps:
        started = time.perf_counter()
        result = step()
        result["elapsed_s"] = round(time.perf_counter() - started, 1)
        results.append(result)
        print(f"  done: {result['figure']} ({result['elapsed_s']} s)", file=sys.stderr, flush=True)
    return results
