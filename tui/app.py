"""The Duet app: one prompt, two (or more) panes answering side by side."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from functools import partial

from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from models.errors import DuetError
from models.files.describe import pair_caveat
from models.pair import PaneConfig
from models.presets import Preset, builtin_presets, load_presets
from models.prompts import MODES, next_mode
from models.session import CLOSE_TIMEOUT_S, PaneSession, close_sessions
from models.settings import SamplingSettings
from models.store.history import HistoryStore
from tui.actions.adapters import AdapterActions
from tui.actions.amplify import AMPLIFY_HELP, AMPLIFY_TITLE, AmplifyActions
from tui.actions.lens import LensActions
from tui.actions.lesson import LessonActions
from tui.actions.panes import PaneActions
from tui.actions.presets import PresetActions, preset_help
from tui.actions.quitting import SAVE_GROUP, loading_note, stop_save_and_exit
from tui.actions.saving import save_turn
from tui.actions.tune import TuneActions
from tui.config import DuetConfig, binding_ids, checked_keymap, load_config, presets_path, use_aligned_prompt
from tui.keys.alt_digits import read_esc_digit_as_alt
from tui.keys.bindings import APP_BINDINGS
from tui.screens.help import HELP_TEXT, LENS_KEYS, PROMPT_KEYS, HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.inspector import InspectorScreen, inspect_pane
from tui.screens.main import MainScreen
from tui.screens.settings import SettingsScreen
from tui.text.safe_app import SafeTextApp
from tui.widgets.answer import prepare_markdown
from tui.widgets.footer import KeyFooter
from tui.widgets.pane import ChatPane
from tui.widgets.pane_row import PaneRow
from tui.widgets.prompt_input import PromptInput
from tui.widgets.start_hint import StartHint

PALETTE_SKIPS = ("preset_", "page_", "scroll_", "select_", "lesson_")  # lesson_: lesson_command()
read_esc_digit_as_alt()  # presets are alt+1..9: ESC + digit must reach the app as that key
SAVE_WAIT_S = 5.0  # the longest a new conversation waits for the last turn's save
BUSY_MESSAGE = "Still answering: Esc stops every pane first."
PREVIEW_TIMEOUT_S = 10.0  # the inspector's wait for a draft's rendering, off the UI thread


# SafeTextApp first: every toast and palette shows its text as given, never as markup (tui/text/safe_app.py).
class DuetApp(
    SafeTextApp, PresetActions, PaneActions, LensActions, AdapterActions, LessonActions, TuneActions, AmplifyActions
):
    TITLE = "Duet"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = APP_BINDINGS  # tui/keys/bindings.py: every key of the main screen, in footer order

    def __init__(
        self,
        panes: list[PaneConfig],
        sampling: SamplingSettings | None = None,
        config: DuetConfig | None = None,
        session_factory=PaneSession,
        history: HistoryStore | None = None,
        resume: int | None = None,
        started: dict[str, PaneSession] | None = None,
    ) -> None:
        """``started``: sessions already loading (models.pair.open_sessions), keyed by pane role."""
        super().__init__()
        self.pane_configs = panes
        self._pane_widgets: dict[str, ChatPane] = {}
        self.sampling = sampling or SamplingSettings()
        # One session per pane, the owner of its state; the ones not started yet load on mount.
        started = dict(started or {})
        self._session_factory = session_factory  # the lesson layout opens a pane with it too
        self._to_load = [c.role for c in panes if c.role not in started]
        self.sessions: dict[str, PaneSession] = {
            c.role: started.get(c.role) or session_factory(c.role, c.spec, c.mode, self.sampling) for c in panes
        }
        self._config_error: str | None = None
        try:
            self.config = config or load_config()
        except DuetError as err:
            self.config, self._config_error = DuetConfig(), str(err)
        self.config.keymap, keymap_error = checked_keymap(self.config.keymap, binding_ids())
        self._config_error = self._config_error or keymap_error
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        self.lens_after_every_turn = self.config.lens_after_every_turn
        self.presets_new_conversation = self.config.presets_new_conversation
        self.presets: list[Preset] = builtin_presets()
        self.last_prompt: str | None = None  # what Ctrl+R sends again, with last_preset's sampling
        self.last_preset: Preset | None = None
        self.active_index = len(panes) - 1
        self.history = history
        self._history_opening = history is None  # opened off the loop after mount (_open_history)
        self.conversation_id: int | None = None
        self._resume = resume
        self._keys_before_paint: list[events.Key] = []

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with PaneRow(id="panes"):
            for config in self.pane_configs:
                pane = ChatPane(self.sessions[config.role], id=f"pane-{config.role}")
                self._pane_widgets[config.role] = pane
                yield pane
        yield StartHint(id="start-hint")
        yield PromptInput(id="prompt")
        yield KeyFooter()

    def on_mount(self) -> None:
        if self.config.theme:
            if self.config.theme in self.available_themes:
                self.theme = self.config.theme
            else:
                self.notify(f"config.toml: unknown theme '{self.config.theme}'", severity="warning")
        if self._config_error:
            self.notify(self._config_error, severity="error", timeout=10)
        if aligned_error := use_aligned_prompt():  # a broken aligned.toml: the built-in prompt is used
            self.notify(aligned_error, severity="error", timeout=10)
        self._load_user_presets()
        prepare_markdown()
        self._show_start_hint(True)
        self._mark_active()
        prompt = self.query_one(PromptInput)
        prompt.focus()
        for key in self._keys_before_paint:
            if not prompt.intercept(key) and key.character:
                prompt.insert(key.character)
        self._keys_before_paint.clear()
        for role, session in self.sessions.items():
            if role in self._to_load:
                session.load()
            self._when_loaded(self.pane(role))
        self.run_worker(self._open_history())

    async def _open_history(self) -> None:
        if self.history is None:
            try:  # opening checks and migrates the file: SQLite work, off the UI's loop
                self.history = await asyncio.to_thread(HistoryStore)
            except DuetError as err:
                self.notify(f"{err} (conversations will not be saved)", severity="error", timeout=10)
                return
            finally:
                self._history_opening = False
        if self.history.read_only:  # listed and reopened from, never written: said once, here
            self.notify(self.history.read_only_note, severity="warning", timeout=10)
        if self.history.set_aside:
            self.notify(
                f"the history database was damaged and set aside as {self.history.set_aside}",
                severity="warning",
                timeout=10,
            )
        if self._resume is not None:
            self.run_worker(self.reopen(self._resume))

    def _show_start_hint(self, shown: bool) -> None:
        """Before the first message (and after ctrl+l): how to start. Each pane shows its own intro."""
        hint = self.query_one(StartHint)
        hint.set_class(not shown, "-hidden")
        if shown:
            infos = {s.role: s.info for s in self.sessions.values()}
            hint.show_for(self.presets, pair_caveat(infos.get("base"), infos.get("chat")))

    def on_chat_pane_loaded(self, message: ChatPane.Loaded) -> None:
        if not self.query_one(StartHint).has_class("-hidden"):
            self._show_start_hint(True)  # the pair caveat needs both models' metadata

    @staticmethod
    def _when_loaded(pane: ChatPane) -> None:
        """Tell the pane when its session's current load ends (the callback runs on the worker)."""
        loading = pane.session.loading
        if loading is not None:
            loading.add_done_callback(lambda _future: pane.post_message(ChatPane.Loaded()))

    def _load_user_presets(self) -> None:
        path = presets_path()
        if not path.exists():
            return
        try:
            self.presets = builtin_presets() + load_presets(path)
        except DuetError as err:
            self.notify(f"{err} (built-in presets still work)", severity="error", timeout=10)

    # -- panes --------------------------------------------------------------------------------
    def pane(self, role: str) -> ChatPane:
        return self._pane_widgets[role]

    @property
    def panes(self) -> list[ChatPane]:
        # Kept from compose: a DOM query would walk every block of every answer, on every key.
        return [self._pane_widgets[config.role] for config in self.pane_configs]

    @property
    def active_pane(self) -> ChatPane:
        return self.panes[self.active_index]

    def _mark_active(self) -> None:
        for index, pane in enumerate(self.panes):
            pane.set_class(index == self.active_index, "-active")

    @property
    def busy(self) -> bool:
        return any(p.busy or p.scoring for p in self.panes)

    def _focus_prompt(self) -> None:
        self.query_one(PromptInput).focus()

    def _refused_while_busy(self) -> bool:
        """True (and the user told why) when a new turn must wait for the current one."""
        if self.busy:
            self.notify(BUSY_MESSAGE, severity="warning")
        return self.busy

    # -- sending ------------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    async def _submitted(self, message: PromptInput.Submitted) -> None:
        if await self.send(message.text):
            self.query_one(PromptInput).clear()

    async def send(self, text: str, preset: Preset | None = None, replace_last: bool = False) -> bool:
        """Send to every pane; replace_last: this answers the last turn again (regenerate), and
        the saved conversation keeps the new answers in its place."""
        if self._refused_while_busy():
            return False
        if preset is None:
            self.apply_preset_state(None)  # what a preset changed goes back for a typed message
        self.last_prompt, self.last_preset = text, preset
        self._show_start_hint(False)
        # Every pane's turn is on screen first; then all sessions start together, with no await
        # between them, so they claim their share of the cores at the same moment.
        generations = [await pane.begin_turn(text) for pane in self.panes]
        futures = [
            pane.session.send(text, pane.inbox(generation), preset.apply(pane.session.sampling) if preset else None)
            for pane, generation in zip(self.panes, generations)
        ]
        self.run_worker(self._save_when_done(text, futures, preset, replace_last), group=SAVE_GROUP)
        return True

    async def _save_when_done(self, prompt: str, futures, preset: Preset | None, replace_last: bool) -> None:
        """Save the turn once every pane has finished (stopped and failed answers included)."""
        turns = [await asyncio.wrap_future(f) for f in futures]
        self.run_worker(self.lens_after_turn())
        while self._history_opening:  # a turn that ends before the history is open is kept for it
            await asyncio.sleep(0.02)
        if self.history is None or self.history.read_only:
            return
        sessions, wanted = [self.sessions[p.role] for p in self.panes], self.conversation_id
        try:  # in a thread: a locked database must not freeze the screen (tui/actions/saving.py)
            saved = await save_turn(
                self.history, wanted, prompt, sessions, turns,
                label=preset.name if preset else None, replace_last=replace_last,
            )  # fmt: skip
        except DuetError as err:
            self.notify(f"could not save this turn: {err}", severity="error")
            return
        if self.conversation_id == wanted:  # ctrl+l or a reopen while it saved chose another conversation
            self.conversation_id = saved

    # -- actions ------------------------------------------------------------------------------
    def action_stop_all(self) -> None:
        for session in self.sessions.values():
            session.cancel()
        if note := loading_note(self.sessions.values()):
            self.notify(note, timeout=6)

    async def action_quit(self) -> None:
        """Stop every pane, save the stopped turns, exit: within 2 s (tui/actions/quitting.py)."""
        await stop_save_and_exit(self, self.sessions.values(), lambda: any(p.busy for p in self.panes))

    def action_stop_active(self) -> None:
        self.sessions[self.active_pane.role].cancel()

    async def action_regenerate(self) -> None:
        if self.last_prompt is None:
            self.notify("Nothing to regenerate yet.")
            return
        if self._refused_while_busy():
            return
        for pane in self.panes:
            session = pane.session
            last = session.last_turn
            if last is not None and last.prompt == self.last_prompt:
                session.pop_last_turn()
            await pane.remove_last_turn()
        await self.send(self.last_prompt, self.last_preset, replace_last=True)

    async def action_new_conversation(self) -> None:
        await self.start_new_conversation()
        self.notify("New conversation", timeout=2)

    async def start_new_conversation(self) -> None:
        """Every pane empty, the next turn saved as a new conversation (the old one stays saved)."""
        self.action_stop_all()
        # A turn still being saved belongs to the old conversation: let it land there first (a
        # preset pressed as the last answer ends would otherwise be saved into the old one).
        saving = [w.wait() for w in self.workers if w.group == SAVE_GROUP and not w.is_finished]
        if saving:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*saving, return_exceptions=True), SAVE_WAIT_S)
        for pane in self.panes:
            self.sessions[pane.role].clear()
            await pane.clear()
        self.last_prompt, self.last_preset = None, None
        self.conversation_id = None
        self._show_start_hint(True)

    def action_history(self) -> None:
        if len(self.screen_stack) > 1:
            return
        if self.history is None and self._history_opening:  # F6 in the first moment: open it when ready
            self.set_timer(0.05, self.action_history)
            return
        if self.history is None:
            self.notify("History is not available (see the earlier error).", severity="warning")
            return

        def chosen(conversation_id: int | None) -> None:
            if conversation_id is not None:
                self.run_worker(self.reopen(conversation_id))

        self.push_screen(HistoryScreen(self.history), chosen)

    def action_models(self) -> None:
        if len(self.screen_stack) > 1:
            return
        # Imported here: the screen brings the hub's modules (35 ms), which only it needs.
        from tui.screens.models import ModelsChoice, ModelsScreen

        def chosen(result: ModelsChoice | None) -> None:
            if result is not None:
                role, choice = result  # a model source, or the pane's new adapters (key a)
                if isinstance(choice, str):
                    self.switch_model(role, choice)
                else:
                    self.set_pane_adapters(role, choice)

        specs = {p.role: p.session.spec for p in self.panes}
        self.push_screen(ModelsScreen([p.role for p in self.panes], self.active_pane.role, specs), chosen)

    def switch_model(self, role: str, source: str) -> None:
        """Load another model into one pane, in the background; the other panes stay usable."""
        from models.files.catalog import pane_defaults

        pane, session = self.pane(role), self.sessions[role]
        if pane.busy:
            self.notify(f"The {role} pane is answering: Esc stops it first.", severity="warning")
            return
        mode, chat_format = pane_defaults(source)
        session.switch_model(session.spec.model_copy(update={"source": source, "chat_format": chat_format}))
        pane.begin_loading()
        if mode:
            self._set_mode(pane, mode)
        self._when_loaded(pane)

    async def reopen(self, conversation_id: int) -> None:
        """Show a saved conversation in the panes and continue it (chat mode gets its history)."""
        if self._refused_while_busy():
            return
        if self.history is None:
            self.notify("History is not available (see the earlier error).", severity="warning")
            return
        try:
            restored = await asyncio.to_thread(self.history.restore_turns, conversation_id)
        except DuetError as err:
            self.notify(str(err), severity="error")
            return
        for pane in self.panes:
            turns = restored.get(pane.role, [])
            pane.session.restore(turns)
            await pane.clear()
            for turn in turns:
                await pane.show_saved_turn(turn.prompt, turn.text, turn.error, turn.metrics)
            if turns:
                self._restore_pane_state(pane, turns[-1])
                pane.scroll_to_latest()
        self.conversation_id = conversation_id
        self._show_start_hint(not any(restored.values()))
        # Ctrl+R answers the last saved prompt again; its preset's sampling is not restored.
        self.last_prompt = next((turns[-1].prompt for turns in restored.values() if turns), None)
        self.last_preset = None
        self.notify(f"Reopened conversation #{conversation_id}", timeout=3)

    def _restore_pane_state(self, pane: ChatPane, last) -> None:
        """The mode and LoRA adapters the pane's last saved answer was made with, in its header."""
        if last.mode in MODES and last.mode != pane.mode:
            self._set_mode(pane, last.mode)
        if tuple(last.adapters) != pane.session.spec.adapters:
            self.set_pane_adapters(pane.role, tuple(last.adapters))
        pane.refresh_header()

    def action_switch_pane(self) -> None:
        self.active_index = (self.active_index + 1) % len(self.panes)
        self._mark_active()

    def action_cycle_mode(self) -> None:
        pane = self.active_pane
        self._set_mode(pane, next_mode(pane.mode))
        self.notify(f"{pane.role} pane: {MODES[pane.mode].description}", timeout=4)

    def _set_mode(self, pane: ChatPane, mode: str) -> None:
        """The user's (or a new model's) mode for the pane: no preset puts another one back."""
        pane.session.set_mode(mode)
        self.user_changed(pane.role, "mode")

    def action_inspect(self) -> None:
        # A worker: rendering a draft runs on each pane's thread, and waiting for it inside the
        # action would hold up every key behind it, Esc and quit included.
        self.run_worker(self._inspect(self.query_one(PromptInput).text), group="inspect", exclusive=True)

    async def _inspect(self, draft: str) -> None:
        entries = await asyncio.gather(*(inspect_pane(p.session, draft, PREVIEW_TIMEOUT_S) for p in self.panes))
        self.push_screen(InspectorScreen(list(entries)))

    def action_settings(self) -> None:
        current = {"both": self.sampling} | {r: s.sampling for r, s in self.sessions.items()}
        self.push_screen(SettingsScreen(current, presets_fresh=self.presets_new_conversation), self._apply_settings)

    def _apply_settings(self, result) -> None:
        if not result:
            return
        target, settings, self.presets_new_conversation = result
        if target == "both":
            self.sampling = settings
            for session in self.sessions.values():
                session.sampling = settings
        else:
            self.sessions[target].sampling = settings
        fresh = "a new conversation" if self.presets_new_conversation else "the current conversation"
        where = "both panes" if target == "both" else target + " pane"
        self.notify(f"sampling settings applied to {where}; presets answer in {fresh}")

    def action_help(self) -> None:
        rows = list(PROMPT_KEYS)  # the presets' alt+N are one row there
        for binding in self._own_bindings():
            if (binding.id or "").startswith("preset_"):
                continue
            keys = self._keys_for(binding)
            rows.append((keys, HELP_TEXT.get(binding.id or "", binding.description), binding.id or ""))
        self.push_screen(HelpScreen(rows + LENS_KEYS))

    def _own_bindings(self) -> list[Binding]:
        """The app's key bindings above (all declared as Binding objects, none as tuples)."""
        return [binding for binding in self.BINDINGS if isinstance(binding, Binding)]

    def _keys_for(self, binding: Binding) -> str:
        return self.config.keymap.get(binding.id, binding.key) if binding.id else binding.key

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in self._own_bindings():
            if binding.action in ("quit",) or (binding.id or "").startswith(PALETTE_SKIPS):
                continue  # the presets are listed below by name; scrolling is no palette command
            yield SystemCommand(
                binding.description, f"{self._keys_for(binding)}", partial(self.run_action, binding.action)
            )
        yield self.lesson_command()  # "Lesson layout", or "Two panes" while it is open
        yield SystemCommand(AMPLIFY_TITLE, AMPLIFY_HELP, self.action_amplified_pane)
        state = "on" if self.lens_after_every_turn else "off"
        yield SystemCommand(
            "Lens after every turn",
            f"now {state}: score every answer as soon as it is done",
            self.action_toggle_lens_after_turn,
        )
        for preset in self.presets:
            yield SystemCommand(f"Preset: {preset.name}", preset_help(preset), partial(self._run_preset, preset))

    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    async def on_event(self, event: events.Event) -> None:
        # Every key reaches the prompt box first: a paste typed as keystrokes is collected there
        # rather than routed through Textual one key at a time (tui/widgets/key_burst.py).
        if isinstance(event, events.Key) and not event.is_forwarded:
            focused = self.focused
            if not isinstance(focused, PromptInput) and len(self.screen_stack) <= 1 and self._early_key(event):
                return
            if isinstance(focused, PromptInput) and focused.intercept(event):
                return
        await super().on_event(event)

    async def on_unmount(self) -> None:
        close_sessions(self.sessions.values(), CLOSE_TIMEOUT_S)  # a load still running is abandoned
        if self.history is not None:
            self.history.close()
