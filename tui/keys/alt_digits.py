"""alt+1 .. alt+9 as the terminal sends them: ESC then the digit.

Textual reads ESC followed by a digit as the character WezTerm on macOS types for Option+digit
(ESC 2 becomes "™", ESC 3 "£"), so on xterm, tmux and most Linux terminals alt+2 arrived as a
typed "™" and could never be a key binding, and binding "™" instead would fire a preset where
a British keyboard types "£". Without those entries of Textual's sequence table, its parser
reads ESC + digit as it reads ESC + any other key: alt+digit.
"""

from __future__ import annotations

from textual import _ansi_sequences  # private: see ARCHITECTURE.md

ESC_DIGITS = tuple(f"\x1b{digit}" for digit in "0123456789")


def read_esc_digit_as_alt() -> None:
    """Forget Textual's ESC + digit characters (idempotent; every app in the process shares them)."""
    table = _ansi_sequences.ANSI_SEQUENCES_KEYS  # typed as a Mapping: a plain dict in Textual 8
    if isinstance(table, dict):  # tests/unit/test_textual_hooks.py fails where it is not
        for sequence in ESC_DIGITS:
            table.pop(sequence, None)
