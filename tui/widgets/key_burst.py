"""Text that arrives as keystrokes faster than anyone types: a paste without bracketed paste.

Some terminals and ssh set-ups deliver a paste as one key event per character. Handled key by
key, 200,000 characters freeze the app for an hour (measured: 20,000 took 42 s, each insert
re-laying out the whole box), every newline sends a message and a leading digit fires a preset.

A person's keys are tens of milliseconds apart (key repeat: 33 ms); a paste's are microseconds
apart, with pauses of a few milliseconds where the terminal reader and the app take turns with
the GIL. So a paste starts with BURST_RUN keys in a row under BURST_GAP_S apart, and goes on
while keys keep coming (each under END_GAP_S behind the last). Enter waits DECIDE_S before it
acts: a key within that time means it was the start of a paste, and it becomes text; so does it
for COOL_DOWN_S after a paste of several lines. A paste's keys are collected (the app hands them
over before Textual routes them: 200,000 in about two seconds) and inserted as one edit once the
keys stop, like a bracketed paste, capped at MAX_PROMPT_CHARS.

An Enter that ends a burst of one line (text typed by tmux send-keys or a typing tool, then
Enter) sends it, as it would have if typed slowly: only an Enter with more keys behind it, or
inside a burst of several lines, is text. A bracketed paste never gets here (Textual's Paste).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual import events

BURST_GAP_S = 0.005
BURST_RUN = 8
END_GAP_S = 0.1
DECIDE_S = 0.03  # Enter sends 30 ms later than it did: well under a frame of a 30 Hz terminal
QUIET_S = 0.1  # a paste is over when no key came for this long
COOL_DOWN_S = 0.25
# 100,000 characters (~25,000 tokens, more than the embedded models' contexts) keep the box
# responsive: each key then costs 20 ms more than in an empty box, at 200,000 it costs 80 ms.
MAX_PROMPT_CHARS = 100_000


MODIFIED = ("alt+", "ctrl+", "super+", "meta+", "hyper+")


def key_text(event: events.Key) -> str | None:
    """What a key adds to the text when it is part of a paste; None for keys that are not text."""
    if event.key in ("enter", "ctrl+j"):
        return "\n"
    if event.key.startswith(MODIFIED):  # alt+2 is printable to Textual, but a key binding (a preset)
        return None
    if event.key == "tab":
        return "\t"
    if event.is_printable and event.character:
        return event.character
    return None


@dataclass
class KeyBurst:
    """The timing side: which keys belong to a paste, and the paste's text so far."""

    last: float = -1.0
    run: int = 0  # keys in a row under BURST_GAP_S apart
    active: bool = False
    ended_at: float = -10.0  # the time of the last key of the last paste
    keys_seen: int = 0
    buffer: list[str] = field(default_factory=list)
    size: int = 0
    dropped: int = 0
    room: int = MAX_PROMPT_CHARS  # what the box can still take, fixed when the paste starts
    enter_held: bool = False  # an Enter at the end of one line, held until the next key says what it is
    lines: bool = False  # this burst holds a newline: every Enter in it is text
    ended_in_lines: bool = False  # the last burst held a newline

    def observe(self, event: events.Key) -> float:
        """Count this key; the time since the previous one."""
        gap = event.time - self.last
        self.last = event.time
        self.keys_seen += 1
        self.run = self.run + 1 if 0 <= gap < BURST_GAP_S else 0
        return gap

    def just_ended_in_lines(self, event: events.Key) -> bool:
        """Right after a paste of several lines (an Enter then is the rest of it)."""
        return self.ended_in_lines and event.time - self.ended_at < COOL_DOWN_S

    def start(self, room: int) -> None:
        self.active, self.room = True, room

    def add(self, text: str) -> None:
        if self.enter_held:  # more keys came: the held Enter was a line break of the paste
            self.enter_held, self.lines = False, True
            self._keep("\n")
        if text == "\n" and not self.lines and not self.dropped:
            self.enter_held = True
            return
        self.lines = self.lines or "\n" in text
        self._keep(text)

    def _keep(self, text: str) -> None:
        if self.size + len(text) > self.room:
            keep = max(0, self.room - self.size)
            self.dropped += len(text) - keep
            text = text[:keep]
        if text:
            self.buffer.append(text)
            self.size += len(text)

    def take(self) -> tuple[str, int, bool]:
        """The collected text, how many characters did not fit, and whether an Enter ended a
        one-line burst (to be sent); the paste is over."""
        text, dropped, enter = "".join(self.buffer), self.dropped, self.enter_held
        self.buffer, self.size, self.dropped, self.active, self.run = [], 0, 0, False, 0
        self.ended_at, self.ended_in_lines = self.last, self.lines
        self.enter_held = self.lines = False
        return text, dropped, enter
