"""A pane's scrolling column of turns, which follows a growing answer unless its reader scrolled up.

Whether to follow is the reader's decision, so it is kept as a flag that only the reader's own
scrolling changes, not re-read from the scroll position before every batch of text. Reading it
from the position was the cause of panes that stopped following (about 5 turns in 15): the
scroll to the end that a new turn or a batch asks for lands only after the next layout, and a
batch handled before that layout found the log "not at the end" and let the answer run off the
bottom for the rest of the turn, as if the reader had scrolled up.
"""

from __future__ import annotations

from textual.containers import VerticalScroll


class ConversationLog(VerticalScroll):
    """The turns of one pane; ``following``: keep the end on screen as answers grow."""

    following = True
    # Never the focus: keys belong to the prompt box (PageUp and the rest reach the log as app keys),
    # and Textual's auto focus would otherwise give the first log the keys typed before the first paint.
    can_focus = False

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value >= self.max_scroll_y:
            self.following = True  # at the end (the reader came back, or the content shrank to it)
        elif new_value < old_value:
            self.following = False  # moved up, away from the end: only a reader (wheel, keys) does that

    def follow(self) -> None:
        """Follow again from here (a new message always shows its answer)."""
        self.following = True
        self.scroll_end(animate=False)

    def keep_end_in_view(self) -> None:
        """Where it follows, the end stays on screen, in the same layout pass that grows the content.

        Anchored only while the content overflows the log: Textual 8.2.8 anchors content shorter
        than the log to its bottom edge (Textualize/textual#6652). Below that, a scroll to the end
        after the next layout does the same job."""
        if not self.following:
            self.anchor(False)
        elif self.max_scroll_y > 0:
            self.anchor()  # again each time: a scroll the reader did not make may have released it
        else:
            self.anchor(False)
            self.scroll_end(animate=False)

    def page(self, direction: int) -> None:
        """A page up (-1) or down (+1): what PageUp and PageDown do from the prompt box."""
        if direction < 0:
            self.scroll_page_up(animate=False)
        else:
            self.scroll_page_down(animate=False)

    def jump(self, to_end: bool) -> None:
        """The top or the end of the conversation (ctrl+home / ctrl+end)."""
        if to_end:
            self.follow()
        else:
            self.scroll_home(animate=False)
            self.following = self.max_scroll_y == 0
