"""F5: sampling settings for every pane (the fair default) or for one, and whether a preset starts
a new conversation (config.toml's presets_new_conversation is the default)."""

from __future__ import annotations

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from models.errors import first_field_error
from models.settings import SamplingSettings
from tui.screens.modal_css import MODAL_CSS

SAMPLING_FIELDS = [
    ("temperature", "temperature (0 = greedy)"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("repeat_penalty", "repeat penalty"),
    ("max_tokens", "max new tokens"),
    ("seed", "seed"),
]


class SettingsScreen(ModalScreen[tuple[str, SamplingSettings, bool] | None]):
    """Change sampling settings for both panes (the fair default) or for one; dismissed with
    (target, settings, whether presets start a new conversation), or None."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = (
        MODAL_CSS.format(name="SettingsScreen")
        + """
    SettingsScreen Horizontal { height: auto; }
    SettingsScreen Label { width: 26; padding: 1 0 0 0; }
    SettingsScreen Input { width: 24; }
    SettingsScreen #settings-error { color: $error; height: auto; }
    """
    )

    def __init__(self, current: dict[str, SamplingSettings], target: str = "both", presets_fresh: bool = True) -> None:
        super().__init__()
        self.current = current
        self.target = target
        self.presets_fresh = presets_fresh

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
                yield Checkbox(
                    "each preset starts a new conversation (the last one stays in the history)",
                    self.presets_fresh,
                    id="presets-fresh",
                )
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
            field, message = first_field_error(err)
            self.query_one("#settings-error", Static).update(Text(f"{field}: {message}"))
            return
        fresh = self.query_one("#presets-fresh", Checkbox).value
        self.dismiss((str(self.query_one("#target", Select).value), settings, fresh))
