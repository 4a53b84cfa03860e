"""F1: every key of the app and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.screens.modal_css import MODAL_CSS


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]
    DEFAULT_CSS = MODAL_CSS.format(name="HelpScreen")

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("keys")
        table.add_column("action")
        table.add_column("id", style="dim")
        for keys, description, binding_id in self.rows:
            table.add_row(Text(keys), Text(description), Text(binding_id))
        with Vertical():
            yield Static("Duet keys", classes="title")
            with VerticalScroll():
                yield Static(table)
                yield Static(
                    Text(
                        "\nThe active pane has the highlighted border. Remap a key in config.toml: "
                        '[keymap] with id = "keys", e.g. cycle_mode = "f2,ctrl+t".'
                    ),
                    classes="hint",
                )
            yield Static("Esc closes", classes="hint")
