"""One answer in a pane, shown as plain text (every character as the model wrote it) or as Markdown
(every newline kept as a line break), and switchable between the two.

A base model writes documents, not Markdown: in a raw-mode pane `# text` is not a heading and
`* text` is not a bullet, and a line break is a line break. So a pane shows plain text by default
except in chat mode, where Markdown is what the model was trained to write; even there every single
newline is a hard break (Markdown would join such lines into one paragraph), so the lines on screen
are the lines of the lens view, the exports and the reports.

Model text reaches these widgets already neutralized (tui/text/safe_text.py) and is shown as Content
(literal text) or Markdown, never parsed as Rich or Textual markup.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.content import Content
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Static

if TYPE_CHECKING:
    from tui.widgets.answer_markdown import LiveMarkdown

PLAIN = "plain"
MARKDOWN = "markdown"
VIEWS = (PLAIN, MARKDOWN)


def default_view(mode: str) -> str:
    """How a pane in prompt ``mode`` shows its answers until the user toggles it: only a chat
    template asks a model for Markdown; everything else is the model's document, verbatim."""
    return MARKDOWN if mode == "chat" else PLAIN


def prepare_markdown() -> None:
    """Import the Markdown view (tui/widgets/answer_markdown.py: Rich's and Textual's Markdown,
    markdown-it, Pygments: 0.1 s of imports) on a thread of its own once every model has loaded,
    so it neither slows the loads at start-up nor holds up the first answer's first paint."""
    if "tui.widgets.answer_markdown" in sys.modules:  # an app opened before, in this process
        return

    def run() -> None:
        from models.session import LOADS_IN_FLIGHT

        LOADS_IN_FLIGHT.wait_until_none(timeout=120)
        import tui.widgets.answer_markdown  # noqa: F401

    threading.Thread(target=run, name="duet-import-markdown", daemon=True).start()


def plain_content(text: str) -> Content:
    """Literal text: Content never reads markup in a string given this way."""
    return Content(text)


class FrozenAnswer(Static):
    """The finished early part of a long answer, as one widget (see AnswerTurn)."""

    DEFAULT_CSS = """
    FrozenAnswer { margin: 0; padding: 0; }
    """

    def __init__(self, source: str, view: str) -> None:
        # A plain block ends at a newline, which is the break between it and the next block.
        if view == MARKDOWN:
            from tui.widgets.answer_markdown import HardBreakMarkdown

            super().__init__(HardBreakMarkdown(source))
        else:
            super().__init__(plain_content(source.removesuffix("\n")))
        self.source = source


class LivePlain(Static):
    """The growing part of an answer in the plain view: one Content, laid out only when its
    height changes (as LiveParagraph), so a batch that lengthens the last line costs a repaint."""

    DEFAULT_CSS = """
    LivePlain { margin: 0; padding: 0; }
    """
    virtual_size = Reactive(Size(0, 0), layout=False, repaint=False)  # see answer_markdown.LiveParagraph

    def show(self, text: str) -> None:
        content = plain_content(text)
        width, height = self.content_region.width, self.content_region.height
        # The styles are what Textual's own widgets pass here (MarkdownParagraph, LiveParagraph).
        same_height = width > 0 and content.get_height(self.styles, width) == height  # type: ignore[arg-type]
        self.update(content, layout=not same_height)


class AnswerTurn(Widget):
    """A streaming answer. Whole blocks beyond FREEZE_CHARS are moved into FrozenAnswer widgets
    above the live part, so the cost of an append stays small however long the answer grows
    (Textual lays out every Markdown block on each growth of the last one)."""

    DEFAULT_CSS = """
    AnswerTurn { height: auto; layout: vertical; margin: 0; padding: 0 1; }
    AnswerTurn.-error { color: $error; }
    AnswerTurn.-selected { background: $boost; }
    """
    FREEZE_CHARS = 4000
    virtual_size = Reactive(Size(0, 0), layout=False, repaint=False)  # see answer_markdown.LiveParagraph

    def __init__(self, view: str = MARKDOWN) -> None:
        super().__init__()
        self.view = view
        self.text = ""
        self.frozen: list[FrozenAnswer] = []
        self._live = ""  # the part of `text` the live widget shows
        self._body: LiveMarkdown | LivePlain = self._new_body()

    def _new_body(self) -> LiveMarkdown | LivePlain:
        if self.view != MARKDOWN:
            return LivePlain()
        from tui.widgets.answer_markdown import LiveMarkdown

        return LiveMarkdown()

    def compose(self) -> ComposeResult:
        yield self._body

    @property
    def source(self) -> str:
        """The text the live part shows (the whole answer unless blocks were frozen)."""
        return self._live

    async def stream_fragment(self, fragment: str) -> None:
        self.text += fragment
        self._live += fragment
        if len(self._live) > self.FREEZE_CHARS and await self._freeze():
            return
        body = self._body
        if isinstance(body, LivePlain):
            body.show(self._live)
        else:
            # Awaited in place (no MarkdownStream): the pane already batches text per frame, and the
            # block updates must land in the same screen refresh as the pane's scroll.
            await body.append(fragment)

    def _cut(self) -> int:
        """Where the live text may be split: after a paragraph (Markdown, outside a code block)
        or after a line (plain); 0 where it may not."""
        if self.view == PLAIN:
            return self._live.rfind("\n") + 1
        cut = self._live.rfind("\n\n") + 2
        return cut if cut >= 2 and not self._live[:cut].count("```") % 2 else 0

    async def _freeze(self) -> bool:
        cut = self._cut()
        if cut <= 0 or not self.is_attached:  # nothing to split off, or not mounted yet
            return False
        frozen = FrozenAnswer(self._live[:cut], self.view)
        self.frozen.append(frozen)
        await self.mount(frozen, before=self._body)
        self._live = self._live[cut:]
        await self._show_live()
        return True

    async def _show_live(self) -> None:
        body = self._body
        if isinstance(body, LivePlain):
            body.show(self._live)
        else:
            await body.update(self._live)

    async def finish(self, text: str) -> None:
        self.text = text
        if not self.frozen:
            self._live = text
        # One full render after streaming: avoids the blank-code-block artefact of partial updates.
        await self._show_live()

    async def set_view(self, view: str) -> None:
        """Show the whole answer again in ``view`` (plain or Markdown)."""
        if view == self.view:
            return
        self.view = view
        await self.remove_children()
        self.frozen, self._live = [], self.text
        self._body = self._new_body()
        await self.mount(self._body)
        await self._show_live()
