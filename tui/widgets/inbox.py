"""How model events cross from a pane's worker thread to the UI without making the worker wait.

Textual's `App.call_from_thread` blocks the calling thread until the UI has run the callback, which
would make token generation wait for repaints; posting a message does not.
"""

from __future__ import annotations

import threading

from textual.message import Message
from textual.widget import Widget

from models.events import Event, TextDelta


class InboxReady(Message):
    """Events are waiting in ``inbox``: take them all at once (handled as ``on_inbox_ready``)."""

    def __init__(self, inbox: EventInbox) -> None:
        super().__init__()
        self.inbox = inbox


class EventInbox:
    """Worker thread -> widget: events queue here and the widget is woken by one message at a time.

    Consecutive text deltas merge while the widget has not picked them up, so however fast a model
    streams, the UI renders one batch per frame instead of one update per token.
    """

    def __init__(self, widget: Widget, generation: int) -> None:
        self._widget = widget
        self.generation = generation  # which turn of the widget these events belong to
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._woken = False

    def __call__(self, event: Event) -> None:  # called on the pane's worker thread
        with self._lock:
            last = self._events[-1] if self._events else None
            if isinstance(event, TextDelta) and isinstance(last, TextDelta):
                self._events[-1] = TextDelta(last.text + event.text, event.tokens, event.ttft_s, event.tokens_per_s)
            else:
                self._events.append(event)
            if self._woken:
                return
            self._woken = True
        self._widget.post_message(InboxReady(self))  # thread-safe, and it does not wait

    def take(self) -> list[Event]:
        with self._lock:
            events, self._events, self._woken = self._events, [], False
            return events
