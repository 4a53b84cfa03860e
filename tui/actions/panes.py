"""The app's keys for reading the active pane from the prompt box: scrolling it, plain text or
Markdown, and which answer ctrl+y copies (and what copying really did).

These keys act on the main screen only (`check_action` in DuetApp): on a modal screen PageUp and
the rest belong to that screen's own list or text.
"""

from __future__ import annotations

import os

from textual import events
from textual.app import App

from tui.widgets.answer import PLAIN
from tui.widgets.key_burst import key_text
from tui.widgets.pane import ChatPane
from tui.widgets.prompt_input import PromptInput

TMUX_HINT = (
    "In tmux the clipboard only gets it with `set -g set-clipboard on` in ~/.tmux.conf; "
    "or select the text with the mouse (shift+drag in tmux) and copy it there."
)
# The actions that read or move the active pane: main screen only.
PANE_READING_ACTIONS = frozenset({"page", "jump", "toggle_view", "select_answer"})


class PaneActions(App):
    """Mixed into DuetApp, which provides the panes."""

    _tmux_hint_shown = False
    _keys_before_paint: list[events.Key]  # DuetApp's: typed into the box on mount

    @property
    def active_pane(self) -> ChatPane:  # DuetApp's
        raise NotImplementedError

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in PANE_READING_ACTIONS and len(self.screen_stack) > 1:
            return False  # on a modal screen PageUp and the rest are that screen's own
        return True

    def _early_key(self, event: events.Key) -> bool:
        """Text typed on the main screen while the prompt box lacks the focus (before the first
        paint, which comes a second or more after the command; after a click elsewhere): typed
        into the box, not dropped."""
        if event.key == "enter" or key_text(event) is None:
            return False
        found = self.screen.query(PromptInput) if self.screen.is_attached else None
        if not found:
            self._keys_before_paint.append(event)  # the box is not there yet: on_mount types them
            return True
        prompt = found.first()
        prompt.focus()
        return prompt.intercept(event)

    def action_page(self, direction: int) -> None:
        """PageUp / PageDown: a page of the active pane, whatever has the focus."""
        self.active_pane.conversation.page(direction)

    def action_jump(self, to_end: bool) -> None:
        """ctrl+home / ctrl+end: the active pane's first turn or its end (following again)."""
        self.active_pane.conversation.jump(to_end)

    async def action_toggle_view(self) -> None:
        pane = self.active_pane
        view = await pane.toggle_view()
        what = "plain text, exactly as the model wrote it" if view == PLAIN else "Markdown (every newline kept)"
        self.notify(f"{pane.role} pane: {what}", timeout=3)

    def action_select_answer(self, step: int) -> None:
        """alt+up / alt+down: the answer ctrl+y copies, in the active pane."""
        pane = self.active_pane
        selected = pane.select_answer(step)
        if selected is None:
            self.notify(f"{pane.role} pane: ctrl+y copies the last answer", timeout=2)
        else:
            number = pane.answers.index(selected) + 1
            self.notify(
                f"{pane.role} pane: answer {number} of {len(pane.answers)} selected (ctrl+y copies it)", timeout=3
            )

    def action_copy_answer(self) -> None:
        pane = self.active_pane
        answer = pane.selected.text if pane.selected is not None else pane.session.last_answer()
        if not answer:
            self.notify("No answer to copy in this pane yet.")
            return
        which = "selected" if pane.selected is not None else "last"
        self.copy_to_clipboard(answer)
        # OSC 52 is a request to the terminal, which never says whether it took it.
        self.notify(
            f"Sent the {pane.role} pane's {which} answer ({len(answer):,} characters) to the terminal's "
            "clipboard (OSC 52; the terminal does not confirm it).",
            timeout=5,
        )
        if os.environ.get("TMUX") and not self._tmux_hint_shown:
            self._tmux_hint_shown = True
            self.notify(TMUX_HINT, severity="warning", timeout=10)
