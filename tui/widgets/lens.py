"""The token-shift lens on one answer: every token styled by how the other model ranked it.

Unshifted tokens (the scoring model's own first choice) are plain; marginal ones (its 2nd or 3rd
choice) are underlined in the warning colour; shifted ones (below its top 3) are the most salient,
bold on a filled error-coloured background, so a glance finds them first and the classes are told
apart without colour too (issue 23: a bright orange marginal used to outshine a dim red shifted).
A legend line under the summary says the rank rule and which model scored. Left/right (or a
click) move along the tokens and show the scoring model's top alternatives for the one under the
cursor, and the pane scrolls to keep that line on screen; up/down jump to the previous or next
shifted token; Esc closes the lens. When the lens counts other tokens than the status line, a line
says why (models/lens/counts.py).
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from models.lens.shift import CLASSES, ShiftResult, TokenScore
from tui.text.safe_text import neutralize
from tui.widgets.amplify_strip import mount_amplify_strip, remove_amplify_strip

HINT = "←/→ token · ↑/↓ shifted token · click a token · Esc closes"
RANK_RULE = {"unshifted": "rank 1", "marginal": "rank 2-3", "shifted": "rank 4+"}
DETAIL_LINES = 2  # the cursor's token and the scoring model's top choices, last in the view


class LensView(Static, can_focus=True):
    COMPONENT_CLASSES = {"lens--unshifted", "lens--marginal", "lens--shifted", "lens--cursor", "lens--dim"}
    DEFAULT_CSS = """
    LensView { height: auto; margin: 0; padding: 0 1; }
    LensView:focus { background: $boost; }
    LensView > .lens--unshifted { }
    LensView > .lens--marginal { color: $text-warning; text-style: underline; }
    LensView > .lens--shifted { color: $text; background: $error 70%; text-style: bold underline; }
    LensView > .lens--cursor { text-style: reverse; }
    LensView > .lens--dim { color: $text-muted; }
    """
    BINDINGS = [
        Binding("right", "move(1)", "next token", show=False),
        Binding("left", "move(-1)", "previous token", show=False),
        Binding("down", "jump(1)", "next shifted token", show=False),
        Binding("up", "jump(-1)", "previous shifted token", show=False),
        Binding("home", "go(0)", "first token", show=False),
        Binding("end", "go(-1)", "last token", show=False),
        Binding("escape,f8", "close", "close the lens", show=False),
    ]

    class Closed(Message):
        """The user closed the lens (Esc or F8)."""

        def __init__(self, lens: LensView) -> None:
            super().__init__()
            self.lens = lens

    def __init__(self, result: ShiftResult) -> None:
        super().__init__()
        self.result = result
        self.cursor = 0
        self._detail_at = (0, 0)  # the cursor's line in the view, and how many lines with the detail under it
        self.count_note: str | None = None  # why the token count differs from the status line's

    def explain_count(self, note: str | None) -> None:
        """Show ``note`` (models/lens/counts.py) under the legend."""
        self.count_note = note
        self._draw()
        self.call_after_refresh(self.show_detail)

    def on_mount(self) -> None:
        self._draw()
        self.call_after_refresh(self.show_detail)
        mount_amplify_strip(self)  # an amplified answer: what it pushed, under the lens

    def on_unmount(self) -> None:
        remove_amplify_strip(self)

    # -- keys and mouse ------------------------------------------------------------------------
    def action_move(self, step: int) -> None:
        self._select(self.cursor + step)

    def action_go(self, index: int) -> None:
        self._select(index if index >= 0 else len(self.result.tokens) - 1)

    def action_jump(self, step: int) -> None:
        tokens = self.result.tokens
        index = self.cursor + step
        while 0 <= index < len(tokens):
            if tokens[index].shift_class == "shifted":
                self._select(index)
                return
            index += step

    def action_close(self) -> None:
        self.post_message(self.Closed(self))

    def on_click(self, event: Click) -> None:
        index = event.style.meta.get("token") if event.style else None
        if isinstance(index, int):
            self._select(index)

    def _select(self, index: int) -> None:
        if self.result.tokens:
            self.cursor = max(0, min(index, len(self.result.tokens) - 1))
            self._draw()
            self.call_after_refresh(self.show_detail)

    def on_resize(self) -> None:
        self._draw()  # the detail lines follow the cursor's wrapped line, which moves with the width

    def scroll_visible(self, *args, **kwargs) -> None:
        """Showing the lens shows its cursor's line and alternatives (and its top, when both fit)."""
        self.call_after_refresh(self.show_detail)

    def show_detail(self) -> None:
        """Scroll the pane so the cursor's line and the alternatives under it are on screen."""
        container, region = self.parent, self.virtual_region
        if not isinstance(container, Widget) or not region.height:
            return
        first, count = self._detail_at
        lines = Region(region.x, region.y + first, region.width, count)
        if first + count <= container.scrollable_content_region.height:  # the legend fits above it
            lines = Region(region.x, region.y, region.width, first + count)
        container.scroll_to_region(lines, animate=False, immediate=True)

    # -- drawing -------------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"lens--{name}", partial=True)

    def _draw(self) -> None:
        """Header, then the tokens with the cursor's detail lines right under the line it is on, so
        the alternatives are read next to the token (and ``show_detail`` can scroll to both)."""
        width = self.content_size.width
        head = self._wrapped(self._header(), width)
        lines = self._wrapped(self._tokens(), width)
        after = next((i + 1 for i in reversed(range(len(lines))) if _holds(lines[i], self.cursor)), len(lines))
        shown = (
            detail(self.result.tokens[self.cursor], self.cursor, len(self.result.tokens)) if self.result.tokens else ""
        )
        below = self._wrapped(Text(shown, style=self._style("dim")), width) if shown else []
        parts = [*head, *lines[:after], *below, *lines[after:]]
        self._detail_at = (len(head) + max(0, after - 1), 1 + len(below))
        self.update(Text("\n").join(parts))

    def _header(self) -> Text:
        result, dim = self.result, self._style("dim")
        text = Text()
        text.append(neutralize(result.summary_line()) + "\n", style=Style(bold=True))
        text.append_text(self.legend())
        text.append(HINT + "\n", style=dim)
        for note in (result.relation, result.caveat, result.note, self.count_note):
            if note:
                text.append(f"{neutralize(note)}\n", style=dim)
        return text

    def _tokens(self) -> Text:
        """The answer's tokens styled by class, each span marked with its index (clicks, the cursor)."""
        text = Text()
        for index, token in enumerate(self.result.tokens):
            style = self._style(token.shift_class) + Style(meta={"token": index})
            shown = neutralize(token.text)
            if index == self.cursor:
                style += self._style("cursor")
                shown = shown.replace("\n", "⏎\n") or "∅"
            text.append(shown, style=style)
        return text

    def _wrapped(self, text: Text, width: int) -> list[Text]:
        """``text`` cut into the lines the view shows (split at newlines only before the first layout)."""
        if width <= 0:
            return list(text.split("\n", allow_blank=True))
        return list(text.wrap(self.app.console, width))

    def legend(self) -> Text:
        """E.g. ``rank 1 unshifted · rank 2-3 marginal · rank 4+ shifted · ranked by gemma-3-270m (raw)``:
        each token's rank among the scoring model's choices at that point, in the scorer's mode."""
        line = Text()
        for index, name in enumerate(CLASSES):
            if index:
                line.append(" · ", style=self._style("dim"))
            line.append(f"{RANK_RULE[name]} ", style=self._style("dim"))
            line.append(name, style=self._style(name))
        scorer = neutralize(self.result.scored_by)
        line.append(f" · ranked by {scorer} ({self.result.context_mode})\n", style=self._style("dim"))
        return line


def _holds(line: Text, index: int) -> bool:
    """Whether a wrapped line shows part of token ``index``."""
    return any(isinstance(span.style, Style) and span.style.meta.get("token") == index for span in line.spans)


def detail(token: TokenScore, index: int, count: int) -> str:
    """The line under the tokens: the one under the cursor and the scoring model's alternatives."""
    tie = " · near-tie" if token.near_tie else ""
    head = f"token {index + 1}/{count} {neutralize(repr(token.text))} · rank {token.rank} · p {token.p:.3f} · {token.shift_class}{tie}"
    alternatives = " · ".join(f"{neutralize(repr(text))} {p:.1%}" for text, p in token.top)
    return f"{head}\nthe scoring model's top choices: {alternatives}" if alternatives else head
