"""F3: the exact text each pane sent (or would send) to its model, with its token count."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from models.engines.base import RenderedPrompt
from models.errors import DuetError
from models.session import PaneSession
from tui.screens.modal_css import MODAL_CSS
from tui.text.safe_text import neutralize


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


async def inspect_pane(session: PaneSession, draft: str, timeout_s: float) -> InspectorEntry:
    """What one pane sent last, or would send for the draft in the prompt box."""
    last = session.last_turn
    if last is not None and last.rendered is not None:
        r = last.rendered
        note = f"{r.context_used} earlier exchange(s) included" if r.context_used else ""
        if r.dropped_turns:
            note += f"; {r.dropped_turns} dropped to fit the context"
        return InspectorEntry(session.role, f"last turn · mode {r.mode} · {_token_count(r)} tokens", r.text, note)
    if draft.strip() and session.ready:
        try:  # rendered on the pane's worker; the UI thread only awaits it
            future = asyncio.wrap_future(session.render_preview(draft))
            r = await asyncio.wait_for(future, timeout_s)
        except DuetError as err:
            return InspectorEntry(session.role, f"mode {session.mode}", "", str(err))
        except asyncio.TimeoutError:
            reason = f"rendering the draft took over {timeout_s:g} s"
            return InspectorEntry(session.role, f"mode {session.mode}", "", reason)
        return InspectorEntry(session.role, f"draft · mode {r.mode} · {_token_count(r)} tokens", r.text, "not sent yet")
    reason = last.error if last is not None and last.error else (session.load_error or "nothing sent yet")
    return InspectorEntry(session.role, f"mode {session.mode}", "", reason)


def _token_count(rendered: RenderedPrompt) -> str:
    """A server that cannot tokenize gets an estimate, shown as such (~N)."""
    return f"~{rendered.token_count}" if rendered.token_count_estimated else str(rendered.token_count)
