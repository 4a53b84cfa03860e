"""The app's side of presets: alt+1..9 (and F4, the palette) fire one, each on a fresh conversation,
and whatever a preset changed in a pane is put back when the next preset or message does not ask
for it.

Presets share nothing: preset 3 must not answer inside preset 2's conversation, and preset 6's
`inst` mode must not stay for preset 1, or the README's reference answers would not come back.
So a preset starts a new conversation (the previous one stays in the history; F5 or
`presets_new_conversation = false` in config.toml turn that off), and a mode or LoRA adapters a
preset sets are recorded with what the pane had before, marked "(preset)" in the header, and
restored before the next preset or typed message that does not set them. A change the user makes
(F2, F7, ctrl+t/ctrl+g) makes the current state the user's own: nothing is restored over it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from models.presets import Preset
from models.session import PaneSession
from models.settings import AdapterSpec
from tui.actions.lesson import LessonActions
from tui.keys.bindings import PRESET_KEYS
from tui.widgets.pane import ChatPane


class PresetActions(LessonActions):
    """Mixed into DuetApp, which provides the panes, sending and the rest used here (a lesson
    preset opens the lesson layout first)."""

    presets: list[Preset]
    sessions: dict[str, PaneSession]
    presets_new_conversation: bool = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Per pane role, what a preset changed and the value it had before: {"mode": ..., "adapters": ...}
        self._before_preset: dict[str, dict[str, object]] = {}

    def action_preset(self, number: int) -> None:
        """alt+<number>: that preset (F4 lists them)."""
        if number <= len(self.presets):
            self._run_preset(self.presets[number - 1])
        else:
            self.notify(f"no preset {number}; F4 lists them")

    def _run_preset(self, preset: Preset) -> None:
        self.run_worker(self.fire_preset(preset), exclusive=False)

    async def fire_preset(self, preset: Preset) -> None:
        if self._refused_while_busy():
            return
        fresh = self.presets_new_conversation and any(s.turns for s in self.sessions.values())
        if fresh:
            await self.start_new_conversation()
        if preset.lesson and not await self.open_lesson_layout():
            return
        self.apply_preset_state(preset)
        self.notify(f"preset: {preset.name}" + (" (new conversation)" if fresh else ""), timeout=2)
        await self.send(preset.text, preset)

    def apply_preset_state(self, preset: Preset | None) -> None:
        """Each pane's mode and adapters as ``preset`` asks (None: a typed message), the ones an
        earlier preset changed put back where this one does not set them."""
        for pane in self.panes:
            role, session = pane.role, pane.session
            before = self._before_preset.setdefault(role, {})
            mode = preset.mode_for(role) if preset else None
            if mode:
                before.setdefault("mode", session.mode)
                session.set_mode(mode)
            elif "mode" in before:
                session.set_mode(str(before.pop("mode")))
            adapters = preset.adapters_for(role) if preset else None
            if adapters is not None:
                before.setdefault("adapters", session.spec.adapters)
                if adapters != session.spec.adapters:
                    self.set_pane_adapters(role, adapters, by_preset=True)  # queued before the answer
            elif "adapters" in before:
                restored: tuple[AdapterSpec, ...] = before.pop("adapters")  # type: ignore[assignment]
                if restored != session.spec.adapters:
                    self.set_pane_adapters(role, restored, by_preset=True)
            pane.preset_set = set(before)
            pane.refresh_header()

    def user_changed(self, role: str, what: str) -> None:
        """The user set the pane's ``what`` ("mode" or "adapters") themselves: it stays."""
        self._before_preset.get(role, {}).pop(what, None)
        pane = self.pane(role)
        pane.preset_set.discard(what)
        pane.refresh_header()

    def action_presets(self) -> None:
        self.search_commands(
            [
                (f"alt+{i} {p.name}" if i <= PRESET_KEYS else p.name, partial(self._run_preset, p), preset_help(p))
                for i, p in enumerate(self.presets, start=1)
            ],
            placeholder="Search presets…",
        )

    # DuetApp's
    @property
    def panes(self) -> list[ChatPane]:
        raise NotImplementedError

    def pane(self, role: str) -> ChatPane:
        raise NotImplementedError

    def _refused_while_busy(self) -> bool:
        raise NotImplementedError

    async def start_new_conversation(self) -> None:
        raise NotImplementedError

    async def send(self, text: str, preset: Preset | None = None, replace_last: bool = False) -> bool:
        raise NotImplementedError

    set_pane_adapters: Callable[..., None]  # AdapterActions'


def preset_help(preset: Preset) -> str:
    first_line = preset.text.strip().splitlines()[0]
    modes = ", ".join(f"{r} {m}" for r, m in (("base", preset.base_mode), ("chat", preset.chat_mode)) if m)
    modes = "lesson layout" + (f", {modes}" if modes else "") if preset.lesson else modes
    return first_line[:70] + (f"  [{modes}]" if modes else "")
