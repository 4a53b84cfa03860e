"""Modal screens: help, prompt inspector, sampling settings."""

from __future__ import annotations

from pydantic import ValidationError
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from models.settings import SamplingSettings

from .safe_text import neutralize

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 90%; max-width: 140; height: 90%; border: thick $accent; background: $surface; padding: 0 1;
}}
{name} .title {{ text-style: bold; padding: 0 0 1 0; }}
{name} .hint {{ color: $text-muted; }}
"""


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
        table.add_column(Text("binding id (remap in config.toml [keymap])"), style="dim")
        for keys, description, binding_id in self.rows:
            table.add_row(Text(keys), Text(description), Text(binding_id))
        with Vertical():
            yield Static("Duet keys", classes="title")
            with VerticalScroll():
                yield Static(table)
                yield Static(
                    Text(
                        "\nEnter sends to both panes · ctrl+j inserts a newline · 1-9 in an empty prompt fire "
                        "presets · ctrl+p opens the command palette (every action, themes, presets).",
                    ),
                    classes="hint",
                )
            yield Static("Esc closes", classes="hint")


class InspectorScreen(ModalScreen):
    """The exact text each pane sent (or would send) to its model, with the token count."""

    BINDINGS = [Binding("escape,f3,q", "dismiss", "Close")]
    DEFAULT_CSS = MODAL_CSS.format(name="InspectorScreen") + """
    InspectorScreen .prompt-text { background: $boost; padding: 0 1; margin: 0 0 1 0; }
    """

    def __init__(self, entries: list[tuple[str, str, str, str]]) -> None:
        """entries: (role, heading, prompt text, note)"""
        super().__init__()
        self.entries = entries

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Prompt inspector: exactly what reached each model", classes="title")
            with VerticalScroll():
                for role, heading, text, note in self.entries:
                    yield Static(Text(f"{role.upper()} · {heading}", style="bold"))
                    if note:
                        yield Static(Text(neutralize(note)), classes="hint")
                    # Shown verbatim: control characters made visible, newlines kept.
                    yield Static(Text(neutralize(text)), classes="prompt-text")
            yield Static("Esc closes", classes="hint")


SAMPLING_FIELDS = [
    ("temperature", "temperature (0 = greedy)"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("repeat_penalty", "repeat penalty"),
    ("max_tokens", "max new tokens"),
    ("seed", "seed"),
]


class SettingsScreen(ModalScreen[tuple[str, SamplingSettings] | None]):
    """Change sampling settings for both panes (the fair default) or for one."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = MODAL_CSS.format(name="SettingsScreen") + """
    SettingsScreen Horizontal { height: auto; }
    SettingsScreen Label { width: 26; padding: 1 0 0 0; }
    SettingsScreen Input { width: 24; }
    SettingsScreen #settings-error { color: $error; height: auto; }
    """

    def __init__(self, current: dict[str, SamplingSettings], target: str = "both") -> None:
        super().__init__()
        self.current = current
        self.target = target

    def compose(self) -> ComposeResult:
        shown = self.current["both"] if self.target == "both" else self.current[self.target]
        with Vertical():
            yield Static("Sampling settings", classes="title")
            options = [("both panes", "both")] + [(f"{r} pane only", r) for r in self.current if r != "both"]
            yield Select(options, value=self.target, allow_blank=False, id="target")
            with VerticalScroll():
                for field, label in SAMPLING_FIELDS:
                    with Horizontal():
                        yield Label(label)
                        yield Input(str(getattr(shown, field)), id=f"field-{field}")
                with Horizontal():
                    yield Label("stop strings (comma sep.)")
                    yield Input(", ".join(shown.stop), id="field-stop")
            yield Static("", id="settings-error")
            with Horizontal():
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def on_select_changed(self, event: Select.Changed) -> None:
        shown = self.current[str(event.value)]
        for field, _ in SAMPLING_FIELDS:
            self.query_one(f"#field-{field}", Input).value = str(getattr(shown, field))
        self.query_one("#field-stop", Input).value = ", ".join(shown.stop)

    def on_input_submitted(self) -> None:
        self._apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def _apply(self) -> None:
        values: dict = {field: self.query_one(f"#field-{field}", Input).value.strip() for field, _ in SAMPLING_FIELDS}
        stops = self.query_one("#field-stop", Input).value
        values["stop"] = tuple(s.strip() for s in stops.split(",") if s.strip())
        try:
            settings = SamplingSettings(**values)
        except ValidationError as err:
            first = err.errors()[0]
            self.query_one("#settings-error", Static).update(
                Text(f"{first['loc'][0]}: {first['msg']}")
            )
            return
        self.dismiss((str(self.query_one("#target", Select).value), settings))
