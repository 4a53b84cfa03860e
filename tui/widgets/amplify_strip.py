"""What an amplified answer pushed, under its lens: a per-token KL(tuned ‖ base) strip and the
tokens the fine-tune raised most (models/amplify/trace.py); and the amplified pane's header piece.

The strip is mounted by the lens view (tui/widgets/lens.py) right after itself, when the lens's
pane is an amplified one whose last answer carries a trace, and removed with it. One glyph per
answer token, from ▁ (the two models agree) to █ (the answer's largest KL), then the tokens with
the largest KL and the most raised ones. Token texts are model text: neutralized, never markup.
"""

from __future__ import annotations

import weakref

from rich.style import Style
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from models.amplify.pairing import base_name
from models.amplify.steps import label, warning
from models.amplify.trace import AmplifyTrace
from models.session import PaneSession
from models.settings import ModelSpec
from tui.text.safe_text import neutralize
from tui.widgets.pane_header import ADAPTERS, Piece

GLYPHS = "▁▂▃▄▅▆▇█"
TOP_KL = 5  # the answer's tokens listed by their KL
AMPLIFY = ADAPTERS + 5  # the factor says what this pane is: it stays longer than the adapters
AMPLIFY_WARNING = ADAPTERS + 2
AMPLIFY_BASE = ADAPTERS - 1
_STRIPS: weakref.WeakKeyDictionary[Widget, AmplifyStrip] = weakref.WeakKeyDictionary()  # by the lens they belong to


def amplify_pieces(spec: ModelSpec) -> list[Piece]:
    """The header's ``amplified ×2 over NAME`` (and its warning above ×4); [] for other panes. In
    a narrow pane "over NAME" goes first, then the warning's words, and "amplified ×2" stays."""
    if spec.amplify is None:
        return []
    factor = spec.amplify.factor
    named = label(factor, base_name(spec))
    head, _, over = named.partition(" over ")
    pieces = [Piece(head, "bold", AMPLIFY), Piece(neutralize(f"over {over}"), "", AMPLIFY_BASE, lead=" ")]
    caution = warning(factor)
    if caution:
        pieces.append(Piece(f"⚠ {caution.split(': ', 1)[-1]}", "bold reverse", AMPLIFY_WARNING))
    return pieces


def strip_text(trace: AmplifyTrace) -> Text:
    """The strip as text: summary, one glyph per token, the most pushed and most raised tokens."""
    text = Text()
    text.append(neutralize(trace.summary_line()) + "\n", style=Style(bold=True))
    top = trace.max_kl or 1.0
    for token in trace.tokens:
        level = min(len(GLYPHS) - 1, int(token.kl / top * (len(GLYPHS) - 1) + 0.5))
        text.append(GLYPHS[level])
    text.append("\n")
    ranked = sorted(enumerate(trace.tokens), key=lambda item: -item[1].kl)[:TOP_KL]
    if ranked:
        listed = " · ".join(f"{i + 1}:{neutralize(repr(t.text))} {t.kl:.2f}" for i, t in ranked)
        text.append(f"largest KL (token: nats): {listed}\n", style=Style(dim=True))
    if trace.raised:
        raised = " · ".join(f"{neutralize(repr(t))} +{v:.2f}" for t, v in trace.raised)
        text.append(f"the fine-tune raises most (log p tuned - base): {raised}", style=Style(dim=True))
    return text


class AmplifyStrip(Static):
    DEFAULT_CSS = """
    AmplifyStrip { height: auto; margin: 1 0 0 0; padding: 0 1; border-top: dashed $panel-lighten-2; }
    """

    def __init__(self, trace: AmplifyTrace) -> None:
        super().__init__(strip_text(trace))
        self.trace = trace


def _session_of(widget: Widget) -> PaneSession | None:
    """The session of the pane ``widget`` is in (the pane holds it as ``session``)."""
    for node in widget.ancestors:
        session = getattr(node, "session", None)
        if isinstance(session, PaneSession):
            return session
    return None


def mount_amplify_strip(lens: Widget) -> AmplifyStrip | None:
    """Called by the lens when it is mounted: the strip after it, for an amplified answer."""
    session = _session_of(lens)
    turn = session.last_turn if session is not None else None
    parent = lens.parent
    if turn is None or turn.amplified is None or not isinstance(parent, Widget):
        return None
    strip = AmplifyStrip(turn.amplified)
    _STRIPS[lens] = strip
    parent.mount(strip, after=lens)
    return strip


def remove_amplify_strip(lens: Widget) -> None:
    """Called by the lens when it goes: its strip goes too."""
    strip = _STRIPS.pop(lens, None)
    if strip is not None and strip.is_attached:
        strip.remove()
