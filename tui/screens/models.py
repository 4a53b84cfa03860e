"""The model screen: the catalog with installed state and sizes; switch a pane's model, pull one,
or give a pane LoRA adapters (a: ADAPTER[@SCALE] ..., without reloading its model)."""

from __future__ import annotations

import shlex
import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, ProgressBar, Select, Static
from textual.widgets.option_list import Option

from models import hub
from models.adapters import parse_adapter
from models.errors import DuetError
from models.settings import AdapterSpec, ModelSpec
from tui.screens.modal_css import MODAL_CSS
from tui.text.safe_text import neutralize


def entry_source(entry: hub.CatalogEntry) -> str:
    """The spec a pane opens this entry with (embedded models by their embedded: name)."""
    return entry.model.origin if entry.model.embedded is not None else entry.name


def entry_label(entry: hub.CatalogEntry) -> Text:
    gated = "  gated" if entry.model.gated else ""
    return Text(
        f"{entry.name:<24} {entry.shown(entry.size):>10}  RAM {entry.shown(entry.ram_bytes):>10}  "
        f"{entry.state:<15}{gated}"
    )


# (pane role, a model source to switch to) or (pane role, the pane's adapters from now on)
ModelsChoice = tuple[str, str | tuple[AdapterSpec, ...]]


class ModelsScreen(ModalScreen[ModelsChoice | None]):
    """Dismisses with a ModelsChoice, or None."""

    BINDINGS = [
        Binding("escape", "close", "Close / cancel pull"),
        Binding("p", "pull", "Pull"),
        Binding("a", "adapters", "Adapters"),
    ]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="ModelsScreen")
        + """
    ModelsScreen OptionList { height: 1fr; }
    ModelsScreen ProgressBar { margin: 1 0 0 0; }
    ModelsScreen #models-message { height: auto; }
    ModelsScreen #adapters { display: none; }
    ModelsScreen #adapters.-shown { display: block; }
    """
    )

    def __init__(self, roles: list[str], active_role: str, specs: dict[str, ModelSpec] | None = None) -> None:
        """``specs``: what each pane runs now (the adapter field starts from its adapters, and the
        screen suggests a first pull while an embedded model is open)."""
        super().__init__()
        self.roles = roles
        self.active_role = active_role
        self.specs = specs or {}
        self.entries: dict[str, hub.CatalogEntry] = {}
        self._cancel: threading.Event | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Models: Enter opens the model in the chosen pane (pulls it first if needed) · "
                "p pulls · a sets the pane's LoRA adapters · Esc closes or cancels a pull",
                classes="title",
            )
            yield Select([(f"{r} pane", r) for r in self.roles], value=self.active_role, allow_blank=False, id="target")
            yield OptionList(id="catalog")
            yield ProgressBar(total=None, show_eta=True, id="pull-progress")
            yield Input(
                placeholder="ADAPTER[@SCALE] ... (paths or hf: specs; empty: none), Enter applies", id="adapters"
            )
            yield Static("", id="models-message", classes="hint")

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self._reload()
        self.query_one(OptionList).focus()
        suggestion = hub.first_pull_suggestion([s.source for s in self.specs.values()], list(self.entries.values()))
        if suggestion:
            self._say(suggestion)
            self.query_one(OptionList).highlighted = list(self.entries).index(f"{hub.FIRST_PAIR}/base")

    def _reload(self) -> None:
        options = self.query_one(OptionList)
        highlighted = options.highlighted
        options.clear_options()
        self.entries = {e.name: e for e in hub.catalog_entries()}
        for entry in self.entries.values():
            options.add_option(Option(entry_label(entry), id=entry.name))
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted

    def _say(self, message: str) -> None:
        self.query_one("#models-message", Static).update(Text(neutralize(message)))

    def _selected(self) -> hub.CatalogEntry | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        return self._entry(options.get_option_at_index(options.highlighted).id)

    def _entry(self, option_id: str | None) -> hub.CatalogEntry | None:
        return self.entries.get(option_id) if option_id is not None else None

    @property
    def target_role(self) -> str:
        return str(self.query_one("#target", Select).value)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        entry = self._entry(event.option.id)
        if entry is None:
            return
        if entry.state in ("built-in", "installed"):
            self.dismiss((self.target_role, entry_source(entry)))
        else:
            self._start_pull(entry, open_after=True)

    def action_pull(self) -> None:
        entry = self._selected()
        if entry is not None:
            self._start_pull(entry, open_after=False)

    def action_adapters(self) -> None:
        """Edit the chosen pane's adapters: Enter applies them, Esc leaves them as they are."""
        field = self.query_one("#adapters", Input)
        spec = self.specs.get(self.target_role)
        field.value = " ".join(shlex.quote(f"{a.source}@{a.scale:g}") for a in spec.adapters) if spec else ""
        field.add_class("-shown")
        field.focus()
        self._say(f"LoRA adapters for the {self.target_role} pane: ADAPTER[@SCALE], separated by spaces")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            adapters = tuple(parse_adapter(text) for text in shlex.split(event.value))
        except (DuetError, ValueError) as err:  # ValueError: an unclosed quote
            self._say(str(err))
            return
        self.dismiss((self.target_role, adapters))

    def action_close(self) -> None:
        field = self.query_one("#adapters", Input)
        if field.has_class("-shown"):
            field.remove_class("-shown")
            self.query_one(OptionList).focus()
            self._say("")
            return
        if self._cancel is not None:
            self._cancel.set()
            self._say("cancelling; the partial download is kept and the next pull resumes it")
        else:
            self.dismiss(None)

    def _start_pull(self, entry: hub.CatalogEntry, open_after: bool) -> None:
        if self._cancel is not None:
            self._say("a download is already running; Esc cancels it")
            return
        if entry.model.embedded is not None:
            self._say(f"{entry.name} ships inside Duet's packages; nothing to download")
            return
        self._cancel = threading.Event()
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self._say(f"pulling {entry.name}…")
        self._pull(entry, self._cancel, open_after)

    @work(thread=True, exclusive=True)
    def _pull(self, entry: hub.CatalogEntry, cancel: threading.Event, open_after: bool) -> None:
        def progress(p: hub.PullProgress) -> None:
            self.app.call_from_thread(self._show_progress, p)

        try:
            hub.pull(entry.name, on_progress=progress, cancel=cancel, force_online=True)
            error = None
        except DuetError as err:
            error = str(err)
        self.app.call_from_thread(self._pulled, entry, error, open_after)

    def _show_progress(self, p: hub.PullProgress) -> None:
        bar = self.query_one(ProgressBar)
        if p.total_bytes:
            bar.update(total=p.total_bytes, progress=p.done_bytes)
        speed = f" · {hub.format_bytes(p.speed_bps)}/s" if p.speed_bps else ""
        eta = f" · ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
        self._say(
            f"{p.phase} {p.file} ({p.index}/{p.count}): {hub.format_bytes(p.done_bytes)} of "
            f"{hub.format_bytes(p.total_bytes)}{speed}{eta}"
        )

    def _pulled(self, entry: hub.CatalogEntry, error: str | None, open_after: bool) -> None:
        self._cancel = None
        self.query_one(ProgressBar).display = False
        self._reload()
        self.query_one(OptionList).focus()
        if error:
            self._say(error)
        elif open_after:
            self.dismiss((self.target_role, entry_source(entry)))
        else:
            self._say(f"{entry.name} is downloaded; Enter opens it")
