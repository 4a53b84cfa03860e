"""Every key of the app's main screen, in the order the footer shows them.

The footer (tui/screens/main.py) lists the shown ones in this order and cuts what does not fit at
the right, so F1 comes first and then what a reader needs most; F1 lists them all (tui/screens/help.py
says what each does, by id, and config.toml remaps them by id).
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

PRESET_KEYS = 9  # alt+1 .. alt+9

# ctrl+ bindings take priority: the prompt box (a TextArea) would otherwise swallow ctrl+w/x/y.
# The footer shows them in this order (MainScreen.active_bindings) and cuts what does not fit
# at the right: F1 comes first, then what a reader needs most.
APP_BINDINGS: list[BindingType] = [
    Binding("f1", "help", "Help", id="help", priority=True),
    Binding("escape", "stop_all", "Stop", id="stop_all"),
    Binding("f4", "presets", "Presets", id="presets", key_display="f4/alt+1-9"),
    Binding("f9", "toggle_view", "Plain/Md", id="toggle_view", priority=True),
    Binding("ctrl+y", "copy_answer", "Copy", id="copy_answer", priority=True),
    # Reading the active pane from the prompt box (main screen only: check_action).
    Binding("pageup", "page(-1)", "Scroll", id="page_up", priority=True, key_display="pgup/dn"),
    Binding("pagedown", "page(1)", "Page down", show=False, id="page_down", priority=True),
    Binding("ctrl+home", "jump(False)", "Top/end", id="scroll_top", priority=True, key_display="^home/end"),
    Binding("ctrl+end", "jump(True)", "End", show=False, id="scroll_end", priority=True),
    Binding("f2", "cycle_mode", "Mode", id="cycle_mode"),
    Binding("f3", "inspect", "Inspect", id="inspect"),
    # The prompt box (TextArea) binds f6/f7 to selection; these win while on the main screen.
    Binding("f6", "history", "History", id="history", priority=True),
    Binding("f7", "models", "Models", id="models", priority=True),
    Binding("f5", "settings", "Settings", id="settings"),
    Binding("f8", "lens", "Lens", id="lens", priority=True),
    Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate", priority=True),
    Binding("ctrl+l", "new_conversation", "New chat", id="new_conversation", priority=True),
    Binding("ctrl+x", "stop_active", "Stop pane", show=False, id="stop_active", priority=True),
    Binding("ctrl+w", "switch_pane", "Switch pane", show=False, id="switch_pane", priority=True),
    Binding("ctrl+t", "adapter_stronger", "Adapter +", show=False, id="adapter_stronger", priority=True),
    Binding("ctrl+g", "adapter_weaker", "Adapter -", show=False, id="adapter_weaker", priority=True),
    Binding("f10", "tune", "Fine-tune", id="tune", priority=True, show=False),
    Binding("ctrl+o", "amplify_stronger", "Amplify +", show=False, id="amplify_stronger", priority=True),
    Binding("ctrl+n", "amplify_weaker", "Amplify -", show=False, id="amplify_weaker", priority=True),
    Binding("alt+up", "select_answer(-1)", "Select answer", show=False, id="select_previous", priority=True),
    Binding("alt+down", "select_answer(1)", "Next answer", show=False, id="select_next", priority=True),
    Binding("f12", "toggle_lesson", "Lesson layout / two panes", show=False, id="lesson_layout"),
    # Presets on alt+digit: nothing typed into the prompt box is ever taken as a command.
    *(
        Binding(f"alt+{n}", f"preset({n})", f"Preset {n}", show=False, id=f"preset_{n}", priority=True)
        for n in range(1, PRESET_KEYS + 1)
    ),
    Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
]
