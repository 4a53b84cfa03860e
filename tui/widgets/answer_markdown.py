"""The Markdown view of an answer (tui/widgets/answer.py): Rich's and Textual's Markdown with every
newline a line break, and a growing paragraph that asks for a layout only when it gains a line.

A module of its own so that its imports (Rich's and Textual's Markdown, markdown-it, Pygments: 0.1 s)
wait until an answer is shown in the Markdown view, or until every model has loaded
(answer.prepare_markdown), instead of running while the models load at start-up.
"""

from __future__ import annotations

from functools import lru_cache

from rich.markdown import Markdown as RichMarkdown
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Markdown
from textual.widgets._markdown import MarkdownParagraph  # private: see ARCHITECTURE.md


def _hard_breaks(state) -> None:
    """A markdown-it core rule: every soft line break (a single newline) becomes a hard one."""
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


@lru_cache(maxsize=1)
def _markdown_parser():
    """One parser for every answer: Markdown builds a new one per append otherwise (~1 ms each)."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("duet_hard_breaks", _hard_breaks)
    return parser


class HardBreakMarkdown(RichMarkdown):
    """Rich's Markdown (one renderable for a frozen block) with every newline a line break."""

    def __init__(self, source: str) -> None:
        super().__init__(source, hyperlinks=False)
        for token in self.parsed:
            for child in token.children or ():
                if child.type == "softbreak":
                    child.type = "hardbreak"


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


class LiveMarkdown(Markdown):
    """The growing part of an answer in the Markdown view."""

    DEFAULT_CSS = """
    LiveMarkdown { margin: 0; padding: 0; }
    """
    virtual_size = Reactive(Size(0, 0), layout=False, repaint=False)  # see LiveParagraph
    BLOCKS = {**Markdown.BLOCKS, "paragraph_open": LiveParagraph}

    def __init__(self) -> None:
        super().__init__("", open_links=False, parser_factory=_markdown_parser)
