"""Above the prompt box before the first message: how to start, and the presets one key away."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from models.presets import Preset
from tui.safe_text import neutralize


class StartHint(Static):
    DEFAULT_CSS = """
    StartHint { height: auto; padding: 0 1; color: $text-muted; }
    StartHint.-hidden { display: none; }
    """

    def show_for(self, presets: list[Preset], caveat: str | None) -> None:
        text = Text()
        text.append("Type a message and press Enter", style="bold")
        text.append(" to send it to every pane, or press a digit for one of the lesson's prompts: ")
        for number, preset in enumerate(presets[:9], start=1):
            if number > 1:
                text.append(" · ")
            text.append(str(number), style="bold")
            text.append(f" {neutralize(preset.name)}")
        text.append(" · ")
        text.append("F1", style="bold")
        text.append(" every key")
        if caveat:
            text.append(f"\n{caveat}", style="italic")
        self.update(text)
