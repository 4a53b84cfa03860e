"""The amplification factor a as the keys move it, and how a header shows it.

The keys step through fixed values rather than adding a constant: what matters is the order of
magnitude (2 is visibly more of the fine-tune, 8 is a caricature), and -1 / 0 are the two
models themselves, which a user should land on exactly.
"""

from __future__ import annotations

from models.settings import AMPLIFY_MAX, AMPLIFY_MIN

STEPS = (-1.0, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0)
# Above this the combined logits are far outside anything either model produces: the text often
# degenerates (repeated tokens, a language switch), which the header says rather than hides.
BREAKS_DOWN_ABOVE = 4.0


def stepped(factor: float, direction: int) -> float:
    """The next step above (direction > 0) or below ``factor``; a factor between two steps (from the
    command line) moves to the nearest step in that direction. At an end it stays."""
    if direction > 0:
        return next((s for s in STEPS if s > factor + 1e-9), min(max(factor, AMPLIFY_MIN), AMPLIFY_MAX))
    return next((s for s in reversed(STEPS) if s < factor - 1e-9), max(min(factor, AMPLIFY_MAX), AMPLIFY_MIN))


def meaning(factor: float) -> str:
    """What this factor answers as, in words."""
    if factor == 0:
        return "the tuned model itself"
    if factor == -1:
        return "the base model itself"
    if factor < 0:
        return "between the base and the tuned model"
    return "what fine-tuning changed, exaggerated"


def label(factor: float, base: str) -> str:
    """``amplified ×2 over NAME``: the header's piece."""
    return f"amplified ×{factor:g} over {base}"


def warning(factor: float) -> str | None:
    """The header's warning for a factor above BREAKS_DOWN_ABOVE, else None."""
    return f"×{factor:g}: text may break down" if factor > BREAKS_DOWN_ABOVE else None
