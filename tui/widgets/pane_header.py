"""The one-line header of a pane, fitted to the pane's width.

What is dropped first when a pane is narrow is decided here, once: every piece has a priority,
and the lowest-priority pieces go until the line fits; the model's name is then shortened with an
ellipsis. The role and the prompt mode always stay: they say which side this is and what the
model was sent. From first dropped to last kept:

    details (size, quantization)  <  model name (shortened, down to MIN_NAME characters)
    <  placement (CPU / GPU layers / server)  <  LoRA adapters and their scales
    <  "Duet fine-tune" (a tuned:NAME model)  <  role, mode (never dropped)

Pieces added later (a lens summary) take a priority in this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from models.files.sources import TUNED_PREFIX

TUNED_LABEL = "Duet fine-tune"

# Higher stays longer. NEVER pieces are kept whatever the width.
NEVER = 100
TUNED = 50  # a before/after pair is only read right when the tuned side says so
ADAPTERS = 45  # which side runs the fine-tune, and how strongly, matters more than where it runs
PLACEMENT = 40
MODEL = 30  # shrinks (to MIN_NAME) before anything above it is dropped
DETAILS = 10
MIN_NAME = 8
SEPARATOR = "  "


@dataclass(frozen=True)
class Piece:
    text: str
    style: str
    priority: int
    shrinkable: bool = False  # may be shortened with an ellipsis instead of dropped
    lead: str = SEPARATOR  # what separates it from the piece before


def fit(pieces: list[Piece], width: int) -> Text:
    """The pieces in their order, without the lowest-priority ones that do not fit in ``width``."""
    kept = list(pieces)

    def length(items: list[Piece]) -> int:
        return sum(len(p.text) for p in items) + sum(len(p.lead) for p in items[1:])

    while length(kept) > width:
        droppable = [p for p in kept if p.priority < NEVER and not p.shrinkable]
        if not droppable:
            break
        lowest = min(droppable, key=lambda p: p.priority)
        if lowest.priority > MODEL:  # the name may shrink (to MIN_NAME) before this one goes
            room = sum(max(0, len(p.text) - MIN_NAME) for p in kept if p.shrinkable)
            if length(kept) - room <= width:
                break
        kept.remove(lowest)
    overflow = length(kept) - width
    if overflow > 0:
        kept = [_shortened(p, overflow) if p.shrinkable else p for p in kept]
    line = Text(no_wrap=True, overflow="ellipsis")
    for index, piece in enumerate(kept):
        if index:
            line.append(piece.lead, style=piece.style)
        line.append(piece.text, style=piece.style)
    return line


def _shortened(piece: Piece, by: int) -> Piece:
    if by <= 0:
        return piece
    keep = max(1, len(piece.text) - by - 1)
    return Piece(piece.text[:keep] + "…", piece.style, piece.priority, piece.shrinkable, piece.lead)


def tuned_piece(source: str) -> Piece | None:
    """The header's "Duet fine-tune" for a tuned:NAME model (what it was tuned from is in the
    pane's intro and the lens, from its lineage); None for any other model."""
    if not source.strip().startswith(TUNED_PREFIX):
        return None
    return Piece(TUNED_LABEL, "bold italic", TUNED)
