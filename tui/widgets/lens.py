"""The token-shift lens on one answer: every token styled by how the other model ranked it.

Unshifted tokens (the scoring model's own first choice) are plain; marginal ones (its 2nd or 3rd
choice) are underlined; shifted ones (below its top 3) are bold and underlined, so the classes are
told apart without colour too; colours come from the theme. Left/right (or a click) move along the
tokens and show the scoring model's top alternatives for the one under the cursor; up/down jump to
the previous or next shifted token; Esc closes the lens.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.message import Message
from textual.widgets import Static

from models.lens.shift import CLASSES, ShiftResult, TokenScore
from tui.safe_text import neutralize
from tui.widgets.amplify_strip import mount_amplify_strip, remove_amplify_strip

HINT = "←/→ token · ↑/↓ shifted token · click a token · Esc closes"


class LensView(Static, can_focus=True):
    COMPONENT_CLASSES = {"lens--unshifted", "lens--marginal", "lens--shifted", "lens--cursor", "lens--dim"}
    DEFAULT_CSS = """
    LensView { height: auto; margin: 0; padding: 0 1; }
    LensView:focus { background: $boost; }
    LensView > .lens--unshifted { }
    LensView > .lens--marginal { color: $warning; text-style: underline; }
    LensView > .lens--shifted { color: $error; text-style: bold underline; }
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

    def on_mount(self) -> None:
        self._draw()
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

    # -- drawing -------------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"lens--{name}", partial=True)

    def _draw(self) -> None:
        result, dim = self.result, self._style("dim")
        text = Text()
        text.append(neutralize(result.summary_line()) + "\n", style=Style(bold=True))
        for name in CLASSES:
            text.append(f"{name}", style=self._style(name))
            text.append("  ")
        text.append(HINT + "\n", style=dim)
        for note in (result.caveat, result.note):
            if note:
                text.append(f"{neutralize(note)}\n", style=dim)
        text.append("\n")
        for index, token in enumerate(result.tokens):
            style = self._style(token.shift_class) + Style(meta={"token": index})
            shown = neutralize(token.text)
            if index == self.cursor:
                style += self._style("cursor")
                shown = shown.replace("\n", "⏎\n") or "∅"
            text.append(shown, style=style)
        if result.tokens:
            text.append("\n\n")
            text.append(detail(result.tokens[self.cursor], self.cursor, len(result.tokens)), style=dim)
        self.update(text)


def detail(token: TokenScore, index: int, count: int) -> str:
    """The line under the tokens: the one under the cursor and the scoring model's alternatives."""
    tie = " · near-tie" if token.near_tie else ""
    head = f"token {index + 1}/{count} {neutralize(repr(token.text))} · rank {token.rank} · p {token.p:.3f} · {token.shift_class}{tie}"
    alternatives = " · ".join(f"{neutralize(repr(text))} {p:.1%}" for text, p in token.top)
    return f"{head}\nthe scoring model's top choices: {alternatives}" if alternatives else head
