"""Model output is untrusted: make it safe to put on a terminal."""

from __future__ import annotations

import re

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
