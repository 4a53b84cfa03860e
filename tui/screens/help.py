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

# Keys that are not app bindings (the prompt box and Textual handle them), listed first in F1.
PROMPT_KEYS = [
    ("enter", "send the prompt to every pane", ""),
    ("ctrl+j", "a new line in the prompt (shift+enter does not reach many terminals)", ""),
    (
        "alt+1 … alt+9",
        "fire that preset on a new conversation (F4 lists them; F5 can keep the conversation)",
        "preset_N",
    ),
    ("ctrl+p", "command palette: every action, every preset, themes", ""),
]
# Keys of the token-shift lens while it has the focus (tui/widgets/lens.py), listed after the app's.
LENS_KEYS = [
    ("left / right", "in the lens: the previous / next token, with the scoring model's top-5 for it", ""),
    ("up / down", "in the lens: the previous / next shifted token", ""),
    ("home / end, click", "in the lens: the first / last token, the token under the mouse", ""),
    ("esc / f8", "in the lens: close it and return to the prompt", ""),
]
# What F1 says for a binding, where the footer's one word is not enough.
HELP_TEXT = {
    "stop_all": "stop every pane (the partial answers are kept)",
    "stop_active": "stop the active pane only",
    "regenerate": "answer the last prompt again, in its place",
    "new_conversation": "new conversation (the saved one stays in the history)",
    "switch_pane": "make the next pane active (mode, copy, stop pane and models act on it)",
    "cycle_mode": "next prompt mode for the active pane: raw, inst, aligned (a base model aligned by a prompt), chat",
    "inspect": "prompt inspector: exactly what each model received, with token counts",
    "presets": "search and fire a preset",
    "settings": "sampling settings for every pane or one",
    "history": "saved conversations: reopen, export, delete",
    "models": "model catalog: open a model in a pane, download one",
    "copy_answer": "copy the active pane's selected answer (alt+up/down), else its last one, by OSC 52",
    "toggle_view": "the active pane as plain text (verbatim, the default but in chat mode) or as Markdown",
    "page_up": "scroll the active pane a page up (it stops following the answer)",
    "page_down": "scroll the active pane a page down (at the end it follows again)",
    "scroll_top": "the active pane's first turn",
    "scroll_end": "the active pane's end: it follows the answer again",
    "select_previous": "select the answer before (ctrl+y copies it)",
    "select_next": "select the answer after (past the last: ctrl+y copies the last answer)",
    "lens": "token-shift lens on the active pane's last answer: how the other model ranked each token (again: close)",
    "adapter_stronger": "the active pane's LoRA adapters 0.25 stronger (up to 1.5), live: the next answer uses it",
    "adapter_weaker": "the active pane's LoRA adapters 0.25 weaker (0: exactly the model's own answers)",
    "tune": "fine-tune a pane's model on your examples or the lesson set; then o opens source | tuned",
    "help": "this screen",
    "quit": "quit",
}


HELP_NOTES = (
    "\nThe active pane has the highlighted border. A pane follows its answer to the end unless you scroll up "
    "(mouse wheel, PageUp); ctrl+end or the end of the pane follows again.\n"
    "Select text with the mouse: drag over it, then ctrl+c copies it (Duet sends it by OSC 52). Where the "
    "terminal or tmux keeps the mouse, hold shift while dragging for the terminal's own selection. In tmux, "
    "copying reaches the clipboard with `set -g set-clipboard on` in ~/.tmux.conf.\n"
    'Remap a key in config.toml: [keymap] with id = "keys", e.g. cycle_mode = "f2,ctrl+b" '
    "(preset_N for alt+N). presets_new_conversation = false keeps presets in the current conversation."
)


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
                yield Static(Text(HELP_NOTES), classes="hint")
            yield Static("Esc closes", classes="hint")
