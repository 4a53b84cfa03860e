"""Driving the real app headless for the app figures: start it, send turns, wait for them."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from models.pair import PaneConfig
from models.settings import SamplingSettings
from models.store.history import HistoryStore


def make_app(panes: list[PaneConfig], sampling: SamplingSettings, data_dir: str):
    from tui.app import DuetApp

    return DuetApp(panes, sampling, history=HistoryStore(Path(data_dir) / "history.db"))


async def wait_for(pilot, condition, timeout: float = 300) -> None:
    # A plain sleep, not pilot.pause(): that forces a full screen refresh every call, work the
    # running app would never do, and on two busy cores it showed up as Duet's overhead.
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.01)


def loaded(app) -> bool:
    return all(p.info is not None or p.load_error for p in app.panes)


async def send_and_wait(app, pilot, text: str) -> float:
    counts = {r: len(s.turns) for r, s in app.sessions.items()}
    started = time.perf_counter()
    await app.send(text)
    await wait_for(pilot, lambda: not app.busy and all(len(s.turns) > counts[r] for r, s in app.sessions.items()))
    return time.perf_counter() - started


async def fresh_turn(app, pilot, text: str) -> float:
    """One turn from an empty conversation (a cold prompt, as bare_stream's reset gives)."""
    for pane in app.panes:
        app.sessions[pane.role].clear()
        await pane.clear()
    return await send_and_wait(app, pilot, text)


async def interleave_in_app(app, pilot, repeats: int, duet_turn, bare_run) -> tuple[list, list]:
    """Like stats.interleave, inside one running app: a warm-up turn first (not counted), then
    app turns and bare runs alternate; the bare side runs while the app sits idle."""
    await fresh_turn(app, pilot, "Hello")
    duet, bare = [], []
    for i in range(repeats):
        if i % 2 == 0:
            duet.append(await duet_turn())
            bare.append(bare_run())
        else:
            bare.append(bare_run())
            duet.append(await duet_turn())
    return duet, bare


def run_app(panes, sampling, data_dir, body):
    async def main():
        app = make_app(panes, sampling, data_dir)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: loaded(app))
            return await body(app, pilot)

    return asyncio.run(main())
