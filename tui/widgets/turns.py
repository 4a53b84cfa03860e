"""The blocks one turn of a pane is made of: the user's prompt, the streaming answer, notes.

Model text is untrusted: it reaches these widgets already neutralized (tui/text/safe_text.py) and is
rendered as Markdown or plain Text, never as Rich markup. The answer itself is tui/widgets/answer.py.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.text.safe_text import neutralize
from tui.widgets.answer import AnswerTurn, FrozenAnswer

__all__ = ["AnswerTurn", "FrozenAnswer", "PaneIntro", "TurnNote", "UserTurn", "collapse"]


class UserTurn(Static):
    """The prompt as the user sent it. A long one (a pasted document) shows its first lines and how
    much more there is, so the answer stays on screen; the inspector (F3) shows all of it."""

    DEFAULT_CSS = """
    UserTurn { margin: 1 0 0 0; padding: 0 1; background: $boost; color: $text; }
    """
    MAX_LINES = 6
    MAX_CHARS = 600  # one huge line is a wall too

    def __init__(self, prompt: str) -> None:
        shown, hidden_lines = collapse(prompt, self.MAX_LINES, self.MAX_CHARS)
        text = Text("› " + neutralize(shown))
        if hidden_lines:
            text.append(
                f"\n… {hidden_lines} more line{'s' if hidden_lines != 1 else ''} (F3 shows the whole prompt)",
                style="dim",
            )
        elif shown != prompt.rstrip("\n"):  # a trailing newline is nothing to point at
            more = len(prompt.rstrip("\n")) - len(shown)
            text.append(f"… {more:,} more character{'s' if more != 1 else ''} (F3 shows the whole prompt)", style="dim")
        super().__init__(text)


def collapse(text: str, max_lines: int, max_chars: int) -> tuple[str, int]:
    """The start of ``text`` worth echoing (at most ``max_lines`` lines and ``max_chars`` characters)
    and how many whole lines were left out."""
    lines = text.rstrip("\n").split("\n")  # a trailing newline is not a line of its own
    shown = "\n".join(lines[:max_lines])
    hidden = max(0, len(lines) - max_lines)
    if len(shown) > max_chars:
        shown = shown[:max_chars]
        hidden = len(lines) - (shown.count("\n") + 1)
    return shown, hidden


class PaneIntro(Static):
    """Before the first message: what this pane holds and how it is prompted."""

    DEFAULT_CSS = """
    PaneIntro { margin: 1 0 0 0; padding: 0 1; color: $text-muted; }
    """


class TurnNote(Static):
    DEFAULT_CSS = """
    TurnNote { color: $text-muted; padding: 0 1; }
    TurnNote.-error { color: $error; }
    """

    def __init__(self, message: str, error: bool = False) -> None:
        super().__init__(Text(neutralize(message)), classes="-error" if error else "")
