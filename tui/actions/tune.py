"""The app's side of fine-tuning: F10 (and the palette) opens the Tune screen on the panes' models,
and its ``o`` opens the before/after pair: the source model on the left, the fine-tune on the
right, both in chat mode, with the lens after every turn on (models/pair.py ``tuned_pair``).
"""

from __future__ import annotations

from textual.app import App

from models.errors import DuetError
from models.pair import TUNED_MODE, tuned_pair
from models.session import PaneSession
from tui.widgets.pane import ChatPane

TUNE_HELP = "fine-tune a pane's model on your examples or the lesson set, then compare it with itself"


class TuneActions(App):
    """Mixed into DuetApp, which provides the sessions, the panes and the rest used here."""

    sessions: dict[str, PaneSession]
    lens_after_every_turn: bool = False

    def action_tune(self) -> None:
        if len(self.screen_stack) > 1:
            return
        # Imported here: the screen and the planner behind it are only needed once it opens.
        from tui.screens.tune import PaneChoice, TuneScreen

        choices = [
            PaneChoice(p.role, p.session.source, tuple(a.source for a in p.session.spec.adapters)) for p in self.panes
        ]
        self.push_screen(TuneScreen(choices, self.active_pane.role), self._tuned)

    def _tuned(self, name: str | None) -> None:
        if name is not None:
            self.open_tuned_pair(name)
        self._focus_prompt()

    def open_tuned_pair(self, name: str) -> bool:
        """Source | tuned in the base and chat panes, both in chat mode, the lens on; False (and the
        user told why) when it cannot be opened."""
        try:
            pair = tuned_pair(name)
        except DuetError as err:
            self.notify(str(err), severity="error")
            return False
        panes = {p.role: p for p in self.panes}
        if "base" not in panes or "chat" not in panes:
            self.notify("The before/after pair needs a base and a chat pane.", severity="warning")
            return False
        if any(panes[role].busy or panes[role].scoring for role in pair.sources):
            self.notify("Still answering or scoring: Esc stops every pane first.", severity="warning")
            return False
        for role, source in pair.sources.items():
            pane = panes[role]
            spec = pane.session.spec.model_copy(update={"source": source, "chat_format": None, "adapters": ()})
            pane.session.switch_model(spec)
            pane.begin_loading()
            self._set_mode(pane, TUNED_MODE)
            self._when_loaded(pane)
        self.lens_after_every_turn = True
        self.notify(f"before | after: tuned:{pair.name}, {pair.summary} · the lens scores every answer", timeout=8)
        return True

    # DuetApp's
    @property
    def panes(self) -> list[ChatPane]:
        raise NotImplementedError

    @property
    def active_pane(self) -> ChatPane:
        raise NotImplementedError

    def _focus_prompt(self) -> None:
        raise NotImplementedError

    def _set_mode(self, pane: ChatPane, mode: str) -> None:
        raise NotImplementedError

    def _when_loaded(self, pane: ChatPane) -> None:
        raise NotImplementedError
