"""The app's side of the token-shift lens: F8 on the active pane, and the lens after every turn.

Scoring runs on the *scoring* pane's worker (models/lens/run.py picks which pane scores which);
the UI thread only awaits the future. While a pane scores, it counts as busy: Esc stops it
(PaneSession.cancel), and a new message waits until it is done.
"""

from __future__ import annotations

import asyncio

from textual.app import App

from models.errors import DuetError
from models.lens.counts import count_note
from models.lens.pairing import scorer_role
from models.lens.request import ScoreCancelled
from models.lens.run import score_pane
from models.session import PaneSession
from tui.widgets.lens import LensView
from tui.widgets.pane import ChatPane


class LensActions(App):
    """Mixed into DuetApp, which provides the sessions and the panes."""

    sessions: dict[str, PaneSession]
    lens_after_every_turn: bool = False

    @property
    def panes(self) -> list[ChatPane]:  # DuetApp's
        raise NotImplementedError

    @property
    def active_pane(self) -> ChatPane:  # DuetApp's
        raise NotImplementedError

    def _focus_prompt(self) -> None:  # DuetApp's
        raise NotImplementedError

    def scoring(self) -> bool:
        return any(p.scoring for p in self.panes)

    async def action_lens(self) -> None:
        """F8: the lens on the active pane's last answer, or close it when it is open."""
        pane = self.active_pane
        if await pane.hide_lens():
            self._focus_prompt()
            return
        if any(p.busy for p in self.panes) or self.scoring():
            self.notify("Still answering or scoring: Esc stops every pane first.", severity="warning")
            return
        # A worker, not an await here: an action that waits holds up every key behind it (Esc too).
        self.run_worker(self.show_lens(pane, focus=True), group="lens")

    async def show_lens(self, pane: ChatPane, focus: bool) -> None:
        """Score ``pane``'s last answer with its scoring pane's model and show it in ``pane``."""
        scorer = scorer_role(pane.role, list(self.sessions))
        turn = self.sessions[pane.role].last_turn
        try:
            future = score_pane(self.sessions, pane.role)
        except DuetError as err:
            self.notify(str(err), severity="warning")
            return
        scoring = self._pane_of(scorer)
        status = scoring.begin_scoring(f"the {pane.role} pane's answer") if scoring is not None else None
        try:
            result = await asyncio.wrap_future(future)
        except ScoreCancelled:
            self.notify("Scoring stopped.")
            return
        except DuetError as err:
            self.notify(f"{pane.role} pane: {err}", severity="error", timeout=8)
            return
        finally:
            if scoring is not None and status is not None:
                scoring.end_scoring(status)
        lens = await pane.show_lens(result, focus=focus)
        if turn is not None:  # the status line's count beside the lens's, reconciled in one line
            lens.explain_count(count_note(result, turn.metrics.tokens, turn.token_ids))

    async def lens_after_turn(self) -> None:
        """With the setting on: every pane's new answer gets its lens, without taking the focus."""
        if not self.lens_after_every_turn:
            return
        await asyncio.gather(*(self.show_lens(p, focus=False) for p in self.panes if p.session.last_turn))

    def action_toggle_lens_after_turn(self) -> None:
        self.lens_after_every_turn = not self.lens_after_every_turn
        state = "on" if self.lens_after_every_turn else "off"
        self.notify(f"Lens after every turn: {state}")

    def on_lens_view_closed(self, message: LensView.Closed) -> None:
        self.run_worker(self._close_lens_of(message.lens))

    async def _close_lens_of(self, lens: LensView) -> None:
        for pane in self.panes:
            if pane.lens is lens:
                await pane.hide_lens()
        self._focus_prompt()

    def _pane_of(self, role: str | None) -> ChatPane | None:
        return next((p for p in self.panes if p.role == role), None)
