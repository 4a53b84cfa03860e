"""Above the prompt box before the first message: how to start, and the presets one key away.

One line of hints, packed item by item (an item is never split over two lines: the preset names
that do not fit make way for "F4 all"), and the family caveat on a line of its own, cut with an
ellipsis where the terminal is narrow: at 80x24 the two take two of the 24 rows.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from models.presets import Preset
from tui.text.safe_text import neutralize

SEPARATOR = " · "
Item = list[tuple[str, str]]  # (text, style) pieces of one hint


def _item(key: str, what: str) -> Item:
    return [(key, "bold"), (f" {what}" if what else "", "")]


def _length(item: Item) -> int:
    return sum(len(text) for text, _ in item)


def hint_items(presets: list[Preset], short: bool = False) -> tuple[list[Item], list[Item], Item]:
    """The fixed lead, the preset items and the tail of the hint line."""
    lead = [_item("Enter", "sends" if short else "sends to every pane"), _item("alt+1…9", "presets")]
    numbered = [_item(f"{n}", neutralize(p.name)) for n, p in enumerate(presets[:9], start=1)]
    return lead, numbered, _item("F1", "keys")


def pack(presets: list[Preset], width: int) -> list[Item]:
    """As many preset names as fit on one line of ``width`` with the lead and the tail."""
    more = _item("F4", "all")
    for short in (False, True):  # the long lead while it leaves room for three presets
        lead, numbered, tail = hint_items(presets, short)
        least = min(3, len(numbered)) if not short else 0
        for shown in range(len(numbered), least - 1, -1):
            items = lead + numbered[:shown] + ([more] if shown < len(numbered) else []) + [tail]
            total = sum(_length(i) for i in items) + len(SEPARATOR) * (len(items) - 1)
            if total <= width:
                return items
    return lead + [more, tail]


class StartHint(Static):
    DEFAULT_CSS = """
    StartHint { height: auto; padding: 0 1; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    StartHint.-hidden { display: none; }
    """

    _presets: list[Preset] = []
    _caveat: str | None = None

    def show_for(self, presets: list[Preset], caveat: str | None) -> None:
        self._presets, self._caveat = list(presets), caveat
        self._render_hint()

    def on_resize(self) -> None:
        self._render_hint()

    def _render_hint(self) -> None:
        width = self.content_region.width or self.app.size.width - 2
        text = Text(no_wrap=True, overflow="ellipsis")
        for index, item in enumerate(pack(self._presets, width)):
            if index:
                text.append(": " if index == 2 and item[0][0].isdigit() else SEPARATOR)
            for piece, style in item:
                text.append(piece, style=style)
        if self._caveat:
            text.append("\n")
            text.append(self._caveat, style="italic")
        self.update(text, layout=True)
