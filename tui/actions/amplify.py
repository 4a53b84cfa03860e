"""The app's side of the amplified pane (models/amplify/): the palette's "Amplified pane" adds one,
and ctrl+o / ctrl+n step its factor a up and down through -1, 0, 0.5, 1, 2, 4, 8 between answers.

The tuned model is the chat pane's, the base the same file without its LoRA adapters, else the
base pane's model (models/amplify/pairing.py). A new factor is set on the pane's worker
(PaneSession.set_amplification), after any answer in progress; nothing is reloaded or re-warmed.
The keys act on the active pane when it is the amplified one, else on the amplified pane.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App

from models.amplify.panes import AMPLIFIED_ROLE, amplified_config
from models.amplify.steps import meaning, stepped
from models.errors import DuetError
from models.pair import PaneConfig
from models.session import PaneSession
from models.settings import AMPLIFY_MAX, AMPLIFY_MIN, SamplingSettings
from tui.widgets.pane import ChatPane
from tui.widgets.pane_row import PaneRow

AMPLIFY_TITLE = "Amplified pane"
AMPLIFY_HELP = (
    "decode from tuned + a·(tuned - base): what the chat pane's fine-tune changed, exaggerated (ctrl+o / ctrl+n)"
)
NO_PANE = "There is no amplified pane: the palette's 'Amplified pane' adds one (or start duet with --amplify A)."


class AmplifyActions(App):
    """Mixed into DuetApp, which provides the sessions, the panes and the rest used here."""

    sessions: dict[str, PaneSession]
    pane_configs: list[PaneConfig]
    _pane_widgets: dict[str, ChatPane]
    sampling: SamplingSettings
    active_index: int
    _session_factory: Callable[..., PaneSession]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._factor_asked: float | None = None  # keys faster than the worker add up from here

    def _amplified_pane(self) -> ChatPane | None:
        active = self.active_pane
        if active.session.spec.amplify is not None:
            return active
        return next((p for p in self.panes if p.session.spec.amplify is not None), None)

    def action_amplify_stronger(self) -> None:
        self._step_amplify(+1)

    def action_amplify_weaker(self) -> None:
        self._step_amplify(-1)

    def _step_amplify(self, direction: int) -> None:
        pane = self._amplified_pane()
        amplify = pane.session.spec.amplify if pane is not None else None
        if pane is None or amplify is None:
            self.notify(NO_PANE, severity="warning")
            return
        current = self._factor_asked if self._factor_asked is not None else amplify.factor
        factor = stepped(current, direction)
        if factor == current:
            end = f"{AMPLIFY_MAX:g}" if direction > 0 else f"{AMPLIFY_MIN:g} (the base model)"
            self.notify(f"The amplified pane is at ×{end} already.", timeout=3)
            return
        self._factor_asked = factor
        future = pane.session.set_amplification(factor)
        self.run_worker(self._amplify_set(pane, factor, asyncio.wrap_future(future)))

    async def _amplify_set(self, pane: ChatPane, factor: float, change) -> None:
        try:
            await change
        except DuetError as err:
            self.notify(f"{pane.role} pane: {err}", severity="error", timeout=10)
            return
        finally:
            if self._factor_asked == factor:  # the last change asked for is done
                self._factor_asked = None
        pane.refresh_header()
        self.notify(f"amplified pane: ×{factor:g}, {meaning(factor)} (the next answer uses it)", timeout=4)

    def action_amplified_pane(self) -> None:
        self.run_worker(self.open_amplified_pane(), group="amplify", exclusive=True)

    async def open_amplified_pane(self) -> bool:
        """Add the amplified pane at a = 1 after the others; False (the user told why) when it cannot."""
        if self._refused_while_busy():
            return False
        if AMPLIFIED_ROLE in self.sessions:
            self.notify("The amplified pane is open: ctrl+o / ctrl+n change its factor.", timeout=4)
            return False
        try:
            config = amplified_config(self.pane_configs, 1.0)
        except DuetError as err:
            self.notify(str(err), severity="warning", timeout=8)
            return False
        session = self._session_factory(config.role, config.spec, config.mode, self.sampling)
        session.load()  # at once: the header says "loading" from its first frame
        pane = ChatPane(session, id=f"pane-{config.role}")
        self.sessions[config.role] = session
        self._pane_widgets[config.role] = pane
        self.pane_configs = [*self.pane_configs, config]
        row = self.query_one(PaneRow)
        await row.mount(pane)
        row.arrange_for(self.size.width)
        self._mark_active()
        self._when_loaded(pane)
        self.notify(f"{AMPLIFY_TITLE}: {AMPLIFY_HELP}", timeout=5)
        return True

    # DuetApp's
    @property
    def panes(self) -> list[ChatPane]:
        raise NotImplementedError

    @property
    def active_pane(self) -> ChatPane:
        raise NotImplementedError

    def _refused_while_busy(self) -> bool:
        raise NotImplementedError

    def _mark_active(self) -> None:
        raise NotImplementedError

    def _when_loaded(self, pane: ChatPane) -> None:
        raise NotImplementedError
