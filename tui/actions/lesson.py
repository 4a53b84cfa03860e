"""The app's side of the lesson layout (models/lesson.py): prompting vs fine-tuning on one message.

The command palette's "Lesson layout" (and a preset with ``lesson = true``, such as the built-in
dog-lesson, or `duet --lesson`) turns the panes into base raw | base aligned by a prompt | chat: the
aligned pane is added next to the base pane, on the base pane's model file, and starts loading at
once; a message sent before it is ready waits for it on that pane's worker, as any first message
does. While it is open, a line above the panes states the lesson's takeaway. The palette's "Two
panes" (or f12, which toggles the layout) closes the aligned pane and its model again; the
conversation goes on in the other two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App, SystemCommand
from textual.widget import Widget
from textual.widgets import Static

from models.lesson import LESSON_MODES, LESSON_ROLE, LESSON_TAKEAWAY, lesson_config
from models.pair import PaneConfig
from models.session import CLOSE_TIMEOUT_S, PaneSession
from models.settings import SamplingSettings
from tui.widgets.pane import ChatPane
from tui.widgets.pane_row import PaneRow

LESSON_TITLE = "Lesson layout"
LESSON_HELP = "base raw | base aligned by a prompt alone | chat fine-tune: prompting vs fine-tuning"
TWO_PANES_TITLE = "Two panes"
TWO_PANES_HELP = "close the lesson layout's aligned pane: base | chat again"
LESSON_KEY = "f12"  # the binding's key in tui/app.py: opens the lesson layout, or closes it


class LessonTakeaway(Static):
    """The line above the panes while the lesson layout is open."""

    DEFAULT_CSS = """
    LessonTakeaway { height: auto; padding: 0 1; color: $text-muted; background: $boost; }
    """


class LessonActions(App):
    """Mixed into DuetApp, which provides the sessions, the panes and the rest used here."""

    sessions: dict[str, PaneSession]
    pane_configs: list[PaneConfig]
    _pane_widgets: dict[str, ChatPane]
    sampling: SamplingSettings
    active_index: int
    _session_factory: Callable[..., PaneSession]  # DuetApp's: (role, spec, mode, sampling) -> a session

    def on_mount(self) -> None:  # Textual calls each class's on_mount: DuetApp's too
        if LESSON_ROLE in self.sessions:  # duet --lesson
            self.call_after_refresh(self._show_takeaway)

    def lesson_command(self) -> SystemCommand:
        """The palette's way in or out: "Lesson layout", or "Two panes" while it is open."""
        if LESSON_ROLE in self.sessions:
            return SystemCommand(TWO_PANES_TITLE, f"{TWO_PANES_HELP} ({LESSON_KEY})", self.action_two_panes)
        return SystemCommand(LESSON_TITLE, f"{LESSON_HELP} ({LESSON_KEY})", self.action_lesson_layout)

    def action_lesson_layout(self) -> None:
        self.run_worker(self.open_lesson_layout(), group="lesson", exclusive=True)

    def action_two_panes(self) -> None:
        self.run_worker(self.close_lesson_layout(), group="lesson", exclusive=True)

    def action_toggle_lesson(self) -> None:
        """f12: the lesson layout, or back to two panes from it."""
        if LESSON_ROLE in self.sessions:
            self.action_two_panes()
        else:
            self.action_lesson_layout()

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
        await self._show_takeaway()
        self.notify(f"{LESSON_TITLE}: {LESSON_HELP} ({LESSON_KEY}: two panes again)", timeout=4)
        return True

    async def close_lesson_layout(self) -> bool:
        """Back to the panes without the aligned one; False (and the user told why) when not open."""
        if LESSON_ROLE not in self.sessions:
            self.notify("The lesson layout is not open.", severity="warning")
            return False
        if self._refused_while_busy():
            return False
        roles = [c.role for c in self.pane_configs]
        at = roles.index(LESSON_ROLE)
        pane, session = self._pane_widgets.pop(LESSON_ROLE), self.sessions.pop(LESSON_ROLE)
        self.pane_configs = [c for c in self.pane_configs if c.role != LESSON_ROLE]
        if self.active_index > at or self.active_index >= len(self.pane_configs):
            self.active_index = max(0, self.active_index - 1)  # the same pane stays active
        await pane.remove()
        self.query_one(PaneRow).arrange_for(self.size.width)
        self._mark_active()
        for takeaway in self.query(LessonTakeaway):
            await takeaway.remove()
        # The model is released on the pane's worker, off the UI thread (a load still running is abandoned)
        await asyncio.to_thread(session.close, CLOSE_TIMEOUT_S)
        self.notify(f"{TWO_PANES_TITLE}: the aligned pane is closed ({LESSON_KEY}: the lesson layout again)")
        return True

    async def _show_takeaway(self) -> None:
        if self.query(LessonTakeaway):
            return
        row = self.query_one(PaneRow)
        if isinstance(row.parent, Widget):
            await row.parent.mount(LessonTakeaway(LESSON_TAKEAWAY, id="lesson-takeaway"), before=row)

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
