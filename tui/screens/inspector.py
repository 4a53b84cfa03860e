"""F3: the exact text each pane sent (or would send) to its model, with its token count."""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.safe_text import neutralize
from tui.screens.modal_css import MODAL_CSS


class InspectorEntry(NamedTuple):
    """One pane's part of the inspector."""

    role: str
    heading: str  # what is shown: last turn or draft, mode, token count
    text: str  # the prompt text exactly as sent
    note: str  # context included or dropped, or why there is nothing to show


class InspectorScreen(ModalScreen):
    """The exact text each pane sent (or would send) to its model, with the token count."""

    BINDINGS = [Binding("escape,f3,q", "dismiss", "Close")]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="InspectorScreen")
        + """
    InspectorScreen .prompt-text { background: $boost; padding: 0 1; margin: 0 0 1 0; }
    """
    )

    def __init__(self, entries: list[InspectorEntry]) -> None:
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Prompt inspector: exactly what reached each model", classes="title")
            with VerticalScroll():
                for role, heading, text, note in self.entries:
                    yield Static(Text(f"{role.upper()} · {heading}", style="bold"))
                    if note:
                        yield Static(Text(neutralize(note)), classes="hint")
                    # Shown verbatim: control characters made visible, newlines kept.
                    yield Static(Text(neutralize(text)), classes="prompt-text")
            yield Static("Esc closes", classes="hint")
