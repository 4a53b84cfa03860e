"""The prompt box: Enter sends, ctrl+j adds a newline; nothing typed here is ever a command (a
message may start with a digit: presets are on alt+1..9, app bindings).

A paste that arrives as separate keystrokes is text, never a message per line (key_burst.py);
the app hands the box every key first (`intercept`) so that such a paste does not go through
Textual's routing one key at a time. Any paste is capped at MAX_PROMPT_CHARS. An Enter right
behind fast one-line input (tmux send-keys, a typing tool) still sends it.
"""

from __future__ import annotations

import time

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from tui.widgets.key_burst import BURST_RUN, DECIDE_S, END_GAP_S, MAX_PROMPT_CHARS, QUIET_S, KeyBurst, key_text


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 10; }
    """

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)
        self._burst = KeyBurst()
        self._pending: tuple[int, str] | None = None  # a deferred Enter: (keys seen, key)
        self._cut_said_at = -10.0

    # -- keys as the app hands them over ------------------------------------------------------
    def intercept(self, event: events.Key) -> bool:
        """Handle ``event`` before Textual routes it; True when it was consumed here."""
        burst = self._burst
        gap = burst.observe(event)
        text = key_text(event)
        if text is None:  # a key that is not text (an arrow, Esc, ctrl+q) ends any paste
            self._settle()
            return False
        if burst.active:
            if gap < END_GAP_S:
                burst.add(text)  # an Enter held back at the end of one line is text after all
                return True
            self._settle()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            if gap < DECIDE_S:  # the Enter was the start of a paste
                return self._start_paste(pending[1], text)
            self._act(pending[1])
        if burst.run >= BURST_RUN:
            return self._start_paste(text)
        if text == "\t" or self.read_only:
            return False  # Textual's: tab moves the focus
        if event.key == "enter" and not burst.just_ended_in_lines(event):
            self._pending = pending = (burst.keys_seen, "\n")
            # Through the app's queue, so that it comes after every key that arrived in time.
            self.set_timer(DECIDE_S, lambda: self.app.call_later(self._decide, pending))
            return True
        self._type(text)  # here rather than by Textual: in order with a paste's text
        return True

    def _start_paste(self, *texts: str) -> bool:
        self._burst.start(self._room())
        for text in texts:
            self._burst.add(text)
        self._watch_quiet(self._burst.keys_seen)
        return True

    def _type(self, text: str) -> None:
        if len(text) <= self._room():
            result = self.replace(text, *self.selection, maintain_selection_offset=False)
            self.move_cursor(result.end_location)

    def _decide(self, pending: tuple[int, str]) -> None:
        """DECIDE_S after an Enter, behind every key that had arrived by then."""
        if self._pending is pending:
            self._pending = None
            self._act(pending[1])

    def _act(self, key: str) -> None:
        if key == "\n" and self.text.strip():
            self.post_message(self.Submitted(self.text))

    def _watch_quiet(self, seen: int) -> None:
        self.set_timer(QUIET_S, lambda: self.app.call_later(self._quiet, seen))

    def _quiet(self, seen: int) -> None:
        burst = self._burst
        if not burst.active:
            return
        if burst.keys_seen != seen:  # keys kept coming
            self._watch_quiet(burst.keys_seen)
            return
        self._settle()

    def _settle(self) -> None:
        """Insert a finished paste, as one edit."""
        if not self._burst.active:
            return
        text, dropped, enter = self._burst.take()
        self.insert(text)
        if dropped:
            self._say_cut(dropped)
        elif enter:  # the burst was one line and an Enter ended it: typed fast, then sent
            self._act("\n")

    def _room(self) -> int:
        return max(0, MAX_PROMPT_CHARS - len(self.text))

    def _say_cut(self, dropped: int) -> None:
        now = time.monotonic()
        if now - self._cut_said_at < 3:  # one paste may end and restart where the keys paused
            return
        self._cut_said_at = now
        self.app.notify(
            f"The pasted text was cut to {MAX_PROMPT_CHARS:,} characters, the most the prompt box holds "
            "(the rest was left out).",
            severity="warning",
            timeout=8,
        )

    # -- Textual's own handling ---------------------------------------------------------------
    async def _on_paste(self, event: events.Paste) -> None:
        room = self._room()
        if len(event.text) <= room:
            await super()._on_paste(event)
            return
        event.prevent_default()
        event.stop()
        self.insert(event.text[:room])
        self._say_cut(len(event.text) - room)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            if self.text.strip():
                self.post_message(self.Submitted(self.text))
            return
        if event.key == "ctrl+j":
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        if event.is_printable and len(self.text) >= MAX_PROMPT_CHARS:
            event.prevent_default()
            event.stop()
            return
        await super()._on_key(event)
