"""Saving a finished turn to the history from the app, off the UI's event loop.

SQLite waits up to 10 s for a database another process holds (its busy timeout); run on the
event loop, that froze the whole screen (no key echo, no repaint) before "database is locked".
The records are built on the UI thread (they read the sessions), the transaction runs in a
thread, and one lock keeps saves in the order their turns were sent.
"""

from __future__ import annotations

import asyncio
import weakref

from models.store.history import HistoryStore
from models.store.records import pane_meta, pane_record

_LOCKS: weakref.WeakKeyDictionary[HistoryStore, asyncio.Lock] = weakref.WeakKeyDictionary()


async def save_turn(
    history: HistoryStore,
    conversation_id: int | None,
    prompt: str,
    sessions,
    turns,
    *,
    label: str | None,
    replace_last: bool,
) -> int:
    """Save one prompt's turns (one per session) in one transaction, starting an "app"
    conversation when ``conversation_id`` is None or gone; the conversation's id. DuetError
    when the history cannot be written."""
    records = [pane_record(s, t, extended=True) for s, t in zip(sessions, turns)]
    start = {"panes": [pane_meta(s) for s in sessions], "kind": "app"}
    async with _LOCKS.setdefault(history, asyncio.Lock()):
        saved, _seq = await asyncio.to_thread(
            history.save_turn,
            conversation_id,
            prompt,
            records,
            new_conversation=start,
            label=label,
            replace_last=replace_last,
        )
    return saved
