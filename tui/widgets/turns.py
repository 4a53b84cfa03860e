"""The blocks one turn of a pane is made of: the user's prompt, the streaming answer, notes.

Model text is untrusted: it reaches these widgets already neutralized (tui/safe_text.py) and is
rendered as Markdown or plain Text, never as Rich markup.
"""

from __future__ import annotations

from functools import lru_cache

from rich.text import Text
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownParagraph  # private: see ARCHITECTURE.md

from tui.safe_text import neutralize


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


class FrozenAnswer(Static):
    """The finished early part of a long answer, as one widget (see AnswerTurn)."""

    DEFAULT_CSS = """
    FrozenAnswer { margin: 0; padding: 0 1; }
    """

    def __init__(self, source: str) -> None:
        from rich.markdown import Markdown as RichMarkdown

        super().__init__(RichMarkdown(source, hyperlinks=False))  # Markdown, never Rich markup
        self.source = source


@lru_cache(maxsize=1)
def _markdown_parser():
    """One parser for every answer: Markdown builds a new one per append otherwise (~1 ms each)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like")


class LiveParagraph(MarkdownParagraph):
    """A paragraph that asks for a layout only when it gains or loses a line.

    Most batches of streamed text only lengthen the last line, and a layout re-arranges the whole
    screen: on two busy cores that was most of the UI thread's time while both panes streamed.
    """

    # Textual lays the screen out a second time whenever a widget's virtual size changes, which for
    # these never-scrolling widgets is the layout that just ran: every new line cost two.
    virtual_size = Reactive(Size(0, 0), layout=False, repaint=False)

    def set_content(self, content) -> None:
        self._content = content
        width, height = self.content_region.width, self.content_region.height
        same_height = width > 0 and content.get_height(self.styles, width) == height
        self.update(content, layout=not same_height)


class AnswerTurn(Markdown):
    """A streaming answer. Textual lays out every Markdown block on each growth of the last one, so
    a long answer would cost more per token as it grows; whole paragraphs beyond FREEZE_CHARS are
    moved into a single FrozenAnswer above, keeping the live Markdown (and the cost) small."""

    DEFAULT_CSS = """
    AnswerTurn { margin: 0; padding: 0 1; }
    AnswerTurn.-error { color: $error; }
    """
    FREEZE_CHARS = 4000
    virtual_size = Reactive(Size(0, 0), layout=False, repaint=False)  # see LiveParagraph
    BLOCKS = {**Markdown.BLOCKS, "paragraph_open": LiveParagraph}

    def __init__(self) -> None:
        super().__init__("", open_links=False, parser_factory=_markdown_parser)
        self.text = ""
        self.frozen: list[FrozenAnswer] = []
        self._live = ""  # the part of `text` this Markdown widget shows

    async def stream_fragment(self, fragment: str) -> None:
        self.text += fragment
        self._live += fragment
        if len(self._live) > self.FREEZE_CHARS and await self._freeze():
            return
        # Awaited in place (no MarkdownStream): the pane already batches text per frame, and the
        # block updates must land in the same screen refresh as the pane's scroll.
        await self.append(fragment)

    async def _freeze(self) -> bool:
        cut = self._live.rfind("\n\n") + 2
        head = self._live[:cut]
        if cut < 2 or head.count("```") % 2:  # only at a paragraph break outside a code block
            return False
        parent = self.parent
        if not isinstance(parent, Widget):  # not mounted in a pane (yet): nothing to freeze into
            return False
        frozen = FrozenAnswer(head)
        self.frozen.append(frozen)
        await parent.mount(frozen, before=self)
        self._live = self._live[cut:]
        await self.update(self._live)
        return True

    async def finish(self, text: str) -> None:
        self.text = text
        if not self.frozen:
            self._live = text
        # One full render after streaming: avoids the blank-code-block artefact of partial updates.
        await self.update(self._live)


class TurnNote(Static):
    DEFAULT_CSS = """
    TurnNote { color: $text-muted; padding: 0 1; }
    TurnNote.-error { color: $error; }
    """

    def __init__(self, message: str, error: bool = False) -> None:
        super().__init__(Text(neutralize(message)), classes="-error" if error else "")
