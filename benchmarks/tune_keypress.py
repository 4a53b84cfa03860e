"""Figure 16: keypress-to-document latency p95 in the app while a fine-tune trains (the idle app as
bare), in the style of figure 5.

The fine-tune is the Tune screen's: the lesson set on the embedded SmolLM2, every block, planned
by models.tuning.plan and run by models.tuning.run_tune on a worker thread (the training itself in
its child process, on every core), each progress event posted to the app as the screen posts it.
Keys are typed into the prompt box of the main screen once the first training step has been
reported, as figure 5 types them while both panes stream: a Key event posted the way the terminal
driver posts one, timed until the prompt box holds the new character; typing goes on until at
least one more step has ended. The run is stopped (Esc's cancel event) as soon as the keys are
measured, so nothing is saved.

python -m benchmarks.tune_keypress [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time

from benchmarks.app_driver import run_app, wait_for
from benchmarks.stats import figure_result, percentile, ratio
from models.errors import Cancelled, DuetError
from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT
from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings

TARGET_MS = 50.0
MAX_KEYS = 1000  # at a typing pace, about a minute: far longer than a training step


def _keys(app, count: int):
    """Type ``count`` keys into the prompt box at a typing pace; each one's latency in seconds."""
    from textual import events

    from tui.widgets.prompt_input import PromptInput

    async def typed() -> list[float]:
        prompt = app.query_one(PromptInput)
        out = []
        for _ in range(count):
            expected = len(prompt.text) + 1
            started = time.perf_counter()
            app.post_message(events.Key("x", "x"))
            while len(prompt.text) < expected:
                await asyncio.sleep(0.0005)
            out.append(time.perf_counter() - started)
            await asyncio.sleep(0.05)
        return out

    return typed()


def _start_training(app, name: str) -> tuple[threading.Thread, threading.Event, dict]:
    """The Tune screen's run: plan and run_tune on a worker thread, progress posted to the app."""
    from textual.message import Message

    from models.tuning import TuneSettings, plan, run_tune

    class Progress(Message):  # what TuneScreen.Progress carries; the main screen has no handler
        def __init__(self, progress) -> None:
            super().__init__()
            self.progress = progress

    cancel = threading.Event()
    state: dict = {"phase": None, "steps": 0, "error": None}

    def on_progress(progress) -> None:
        state["phase"], state["steps"] = progress.phase, progress.step
        app.post_message(Progress(progress))

    def run() -> None:
        try:
            run_tune(plan(TuneSettings(name=name, lesson=True)), on_progress, cancel)
        except Cancelled:
            pass
        except DuetError as err:
            state["error"] = str(err)

    thread = threading.Thread(target=run, name="duet-tune-bench", daemon=True)
    thread.start()
    return thread, cancel, state


def tune_keypress(keys: int = 60, data_dir: str | None = None) -> dict:
    data_dir = data_dir or tempfile.mkdtemp(prefix="duet-bench-tune-")
    panes = [
        PaneConfig("base", ModelSpec(source=DEFAULT_BASE), "raw"),
        PaneConfig("chat", ModelSpec(source=DEFAULT_CHAT), "chat"),
    ]
    sampling = SamplingSettings(max_tokens=16)
    steps_during: dict = {}

    async def while_training(app, pilot) -> list[float]:
        thread, cancel, state = _start_training(app, f"bench-keys-{os.getpid()}")
        try:
            await wait_for(pilot, lambda: state["steps"] >= 1 or state["error"] or not thread.is_alive(), 900)
            if state["error"] or state["steps"] < 1:
                raise RuntimeError(f"the fine-tune did not start training: {state['error'] or 'it ended'}")
            first = state["steps"]
            out = await _keys(app, keys)
            # Typing goes on until a step has ended meanwhile (its event parsed and posted), so the
            # step boundaries are in the figure too, not only the child computing.
            while state["steps"] == first and len(out) < MAX_KEYS and thread.is_alive():
                out += await _keys(app, 10)
            if not thread.is_alive() or state["phase"] != "train":
                raise RuntimeError("the fine-tune stopped training before the keys were measured")
            steps_during["steps"] = state["steps"] - first
            return out
        finally:
            cancel.set()
            await asyncio.to_thread(thread.join, 300)

    saved = os.environ.get("DUET_DATA_DIR")
    os.environ["DUET_DATA_DIR"] = data_dir  # the fine-tune's work folder: never the user's model store
    try:
        busy = run_app(panes, sampling, data_dir, while_training)
        idle = run_app(panes, sampling, data_dir, lambda app, pilot: _keys(app, keys))
    finally:
        if saved is None:
            os.environ.pop("DUET_DATA_DIR", None)
        else:
            os.environ["DUET_DATA_DIR"] = saved
    p95_busy, p95_idle = percentile(busy, 95) * 1000, percentile(idle, 95) * 1000
    return figure_result(
        "16. keypress-to-document latency p95 while a fine-tune trains (idle app as bare)",
        p95_busy,
        p95_idle,
        ratio(p95_busy, p95_idle),
        f"p95 <= {TARGET_MS:g} ms",
        p95_busy <= TARGET_MS,
        "ms",
        p50_ms={"training": percentile(busy, 50) * 1000, "idle": percentile(idle, 50) * 1000},
        keys=len(busy),
        training_steps_while_typing=steps_during.get("steps"),
        samples={"duet": busy, "bare": idle},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tune_keypress", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 keys instead of 60")
    args = parser.parse_args(argv)
    result = tune_keypress(20 if args.quick else 60)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(main())
