"""The app's side of LoRA adapters: ctrl+t / ctrl+g fade the active pane's adapters in and out, and
presets or the model screen set a pane's adapters, all without reloading its model.

The change runs on the pane's worker (PaneSession.set_adapters), after any answer in progress, so
the next answer uses it; the UI thread only awaits the future, then redraws the pane's header.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.app import App

from models.adapters import LIVE_MAX, adapters_label, stepped
from models.errors import DuetError
from models.session import PaneSession
from models.settings import AdapterSpec
from tui.widgets.pane import ChatPane


class AdapterActions(App):
    """Mixed into DuetApp, which provides the sessions and the panes."""

    sessions: dict[str, PaneSession]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Per pane, the adapters asked for last while changes are still on their way to the worker:
        # keys pressed faster than the worker applies them add up from there, not from the spec.
        self._adapters_asked: dict[str, tuple[int, tuple[AdapterSpec, ...]]] = {}  # (serial, adapters)
        self._adapter_changes = 0

    def pane(self, role: str) -> ChatPane:  # DuetApp's
        raise NotImplementedError

    @property
    def active_pane(self) -> ChatPane:  # DuetApp's
        raise NotImplementedError

    def _when_loaded(self, pane: ChatPane) -> None:  # DuetApp's
        raise NotImplementedError

    user_changed: Callable[[str, str], None]  # PresetActions': the user set the pane's adapters themselves

    def action_adapter_stronger(self) -> None:
        self._step_adapters(+1)

    def action_adapter_weaker(self) -> None:
        self._step_adapters(-1)

    def _step_adapters(self, steps: int) -> None:
        session = self.active_pane.session
        current = self._adapters_asked.get(session.role, (0, session.spec.adapters))[1]
        if not current:
            self.notify(
                f"The {session.role} pane has no LoRA adapter: start duet with --{session.role}-lora FILE.gguf, "
                "or add one on the model screen (F7, then a).",
                severity="warning",
            )
            return
        changed = stepped(current, steps)
        if changed == current:
            limit = f"{LIVE_MAX:g}" if steps > 0 else "0 (the model's own answers)"
            self.notify(f"The {session.role} pane's adapter is at {limit} already.", timeout=3)
            return
        self.set_pane_adapters(session.role, changed)

    def set_pane_adapters(self, role: str, adapters: tuple[AdapterSpec, ...], by_preset: bool = False) -> None:
        """Give the pane these adapters (files loaded as needed), in the background; unless a preset
        asks (tui/actions/presets.py), they are the user's own and no preset puts others back."""
        session, pane = self.sessions[role], self.pane(role)
        if not by_preset:
            self.user_changed(role, "adapters")
        if not session.ready and session.load_error:  # its load failed (a bad adapter, say): load again
            session.switch_model(session.spec.model_copy(update={"adapters": adapters}))
            pane.begin_loading()
            self._when_loaded(pane)
            return
        self._adapter_changes += 1
        self._adapters_asked[role] = (self._adapter_changes, adapters)
        future = session.set_adapters(adapters)
        self.run_worker(self._adapters_set(pane, self._adapter_changes, asyncio.wrap_future(future)))

    async def _adapters_set(self, pane: ChatPane, serial: int, change) -> None:
        try:
            elapsed = await change
        except DuetError as err:
            self.notify(f"{pane.role} pane: {err}", severity="error", timeout=10)
            return
        finally:
            if self._adapters_asked.get(pane.role, (0,))[0] == serial:  # the last change asked for is done
                del self._adapters_asked[pane.role]
        pane.refresh_header()
        label = adapters_label(pane.session.spec.adapters) or "no adapter"
        self.notify(
            f"{pane.role} pane: {label} (applied in {elapsed * 1000:.0f} ms; the next answer uses it)", timeout=4
        )
