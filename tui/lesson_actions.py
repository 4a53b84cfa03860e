"""The app's side of the lesson layout (models/lesson.py): prompting vs fine-tuning on one message.

The command palette's "Lesson layout" (and a preset with ``lesson = true``, such as the built-in
dog-lesson) turns the panes into base raw | base aligned by a prompt | chat: the aligned pane is
added next to the base pane, on the base pane's model file, and starts loading at once; a message
sent before it is ready waits for it on that pane's worker, as any first message does.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from models.lesson import LESSON_MODES, LESSON_ROLE, lesson_config
from models.pair import PaneConfig
from models.session import PaneSession
from models.settings import SamplingSettings
from tui.widgets.pane import ChatPane
from tui.widgets.pane_row import PaneRow

LESSON_TITLE = "Lesson layout"
LESSON_HELP = "base raw | base aligned by a prompt alone | chat fine-tune: prompting vs fine-tuning"


class LessonActions(App):
    """Mixed into DuetApp, which provides the sessions, the panes and the rest used here."""

    sessions: dict[str, PaneSession]
    pane_configs: list[PaneConfig]
    _pane_widgets: dict[str, ChatPane]
    sampling: SamplingSettings
    active_index: int
    _session_factory: Callable[..., PaneSession]  # DuetApp's: (role, spec, mode, sampling) -> a session

    def action_lesson_layout(self) -> None:
        self.run_worker(self.open_lesson_layout(), group="lesson", exclusive=True)

    async def open_lesson_layout(self) -> bool:
        """Base raw | base aligned | chat; False (and the user told why) when it cannot be opened."""
        if self._refused_while_busy():
            return False
        if "base" not in self.sessions:
            self.notify("The lesson layout needs a base pane.", severity="warning")
            return False
        for role, mode in LESSON_MODES.items():
            if role in self.sessions and role != LESSON_ROLE and self.sessions[role].mode != mode:
                self._set_mode(self._pane_widgets[role], mode)
        if LESSON_ROLE not in self.sessions:
            await self._add_lesson_pane()
        self.notify(f"{LESSON_TITLE}: {LESSON_HELP}", timeout=4)
        return True

    async def _add_lesson_pane(self) -> None:
        config = lesson_config(self.sessions["base"].spec)
        session = self._session_factory(config.role, config.spec, config.mode, self.sampling)
        session.load()  # at once: the header says "loading" from its first frame
        pane = ChatPane(session, id=f"pane-{config.role}")
        roles = [c.role for c in self.pane_configs]
        at = roles.index("base") + 1
        following = self._pane_widgets[roles[at]] if at < len(roles) else None
        self.sessions[config.role] = session
        self._pane_widgets[config.role] = pane
        self.pane_configs = [*self.pane_configs[:at], config, *self.pane_configs[at:]]
        if self.active_index >= at:
            self.active_index += 1  # the same pane stays active
        row = self.query_one(PaneRow)
        await row.mount(pane, before=following)
        row.arrange_for(self.size.width)
        self._mark_active()
        self._when_loaded(pane)

    # DuetApp's
    def _refused_while_busy(self) -> bool:
        raise NotImplementedError

    def _set_mode(self, pane: ChatPane, mode: str) -> None:
        raise NotImplementedError

    def _mark_active(self) -> None:
        raise NotImplementedError

    def _when_loaded(self, pane: ChatPane) -> None:
        raise NotImplementedError
