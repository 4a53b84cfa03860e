"""Untrusted text made safe for the screen: the one place that does it.

Model output, preset names, file paths, model names from GGUF metadata, history titles and error
messages that quote any of them are untrusted. Two things can go wrong with such text on a
terminal, and each has one function here:

- ``neutralize``: control characters (escape sequences, carriage returns, bells) would reach the
  terminal; they are replaced with visible stand-ins. Every output path uses it (CLI, reports).
- ``markup_safe``: a Textual widget given a ``str`` parses it as content markup, so a preset named
  ``[@click=app.quit]`` became a link that quits and ``[link=https://x.y]a[/link]`` raised
  MarkupError and crashed the app. Every ``[`` is escaped (Textual's own ``escape`` misses
  ``[B]``, ``[$var]`` and ``[ b ]``). ``plain`` gives a Content, which is never parsed at all.

Widgets that take a ``rich.text.Text`` or ``Content`` built from neutralized text are safe as
they are; a ``str`` given to Static, Label, Option, Select, a toast or the command palette goes
through ``markup_safe`` (toasts and the palette do so in tui/text/safe_app.py, for every caller).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.content import Content

# C0 controls except tab and newline, DEL, and the C1 range (0x9b is a one-byte CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _picture(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ESC shows as ␛
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"


def neutralize(text: str) -> str:
    """Replace control characters (escape sequences, carriage returns, bells...) with visible stand-ins."""
    return _CONTROL.sub(_picture, text)


def markup_safe(text: str) -> str:
    """``text`` as Textual content markup that shows exactly ``text`` (neutralized): no style, no link."""
    return neutralize(text).replace("[", "\\[")


def plain(text: str) -> Content:
    """``text`` (neutralized) as Textual Content, which no widget parses as markup."""
    from textual.content import Content

    return Content(neutralize(text))
