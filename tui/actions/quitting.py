"""ctrl+q within two seconds, whatever a pane's worker is doing, and what Esc says during a load.

Quitting stops every pane (as Esc does), waits a moment for the stopped turns to be saved, and
exits; the app's unmount closes the sessions within CLOSE_TIMEOUT_S. A worker still inside a
model load, which llama.cpp cannot interrupt, is left behind: `duet` then ends the process with
os._exit once Textual has restored the terminal (tui/cli/main.py), instead of Python waiting
for that thread at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable

from textual.app import App

from models.session import PaneSession

SAVE_GROUP = "save"  # the workers that save a finished turn to the history
QUIT_SAVE_S = 0.7  # a stopped turn ends within 0.5 s of Esc; then it is saved


async def stop_save_and_exit(app: App, sessions: Iterable[PaneSession], busy: Callable[[], bool]) -> None:
    """Stop, save, exit; ``busy``: whether a pane still shows an answer in progress (its last
    events are drawn before the screen goes, or they would arrive at unmounted widgets)."""
    deadline = time.monotonic() + QUIT_SAVE_S
    for session in sessions:
        session.cancel()
    saving = [worker.wait() for worker in app.workers if worker.group == SAVE_GROUP and not worker.is_finished]
    if saving:
        with contextlib.suppress(Exception):  # a save that fails or takes too long is not waited for
            await asyncio.wait_for(asyncio.gather(*saving, return_exceptions=True), QUIT_SAVE_S)
    while busy() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    app.exit()


def loading_note(sessions: Iterable[PaneSession]) -> str | None:
    """What Esc says while a pane is loading: a load cannot be stopped."""
    loading = [s.role for s in sessions if s.loading is not None and not s.loading.done()]
    if not loading:
        return None
    panes = " and ".join(loading)
    return (
        f"The {panes} pane is still loading its model: llama.cpp cannot stop a load, so it finishes in "
        "the background (ctrl+q quits without waiting for it)."
    )
