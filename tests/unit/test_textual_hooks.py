"""The private Textual hooks Duet relies on, each checked by name so an upgrade that changes one
fails here, loudly, instead of making long answers slow or the panes blank (see ARCHITECTURE.md).

pyproject.toml pins textual to the tested major version; this test is what an upgrade within it
(or a bump of the pin) must pass first.
"""

import inspect

from textual.app import App
from textual.content import Content
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Markdown

from tui.widgets.answer_markdown import LiveParagraph
from tui.widgets.turns import AnswerTurn


def test_markdown_paragraph_block_and_its_set_content_hook():
    from textual.widgets import _markdown  # private module: MarkdownParagraph lives only there

    paragraph = getattr(_markdown, "MarkdownParagraph", None)
    assert paragraph is not None, (
        "textual.widgets._markdown.MarkdownParagraph is gone (tui/widgets/answer_markdown.py LiveParagraph)"
    )
    assert Markdown.BLOCKS.get("paragraph_open") is paragraph, (
        "Markdown.BLOCKS['paragraph_open'] no longer maps to MarkdownParagraph (AnswerTurn.BLOCKS overrides it)"
    )
    assert list(inspect.signature(paragraph.set_content).parameters) == ["self", "content"], (
        "MarkdownParagraph.set_content(content) changed (LiveParagraph overrides it to skip layouts)"
    )
    assert "self.set_content(" in inspect.getsource(paragraph.build_from_token), (
        "MarkdownBlock.build_from_token no longer goes through set_content: LiveParagraph's override would be dead"
    )
    assert "self._content" in inspect.getsource(paragraph.set_content), (
        "MarkdownBlock keeps its content elsewhere than _content (LiveParagraph sets it)"
    )


def test_virtual_size_is_a_reactive_that_can_be_overridden_without_layout():
    declared = Widget.__dict__.get("virtual_size")
    assert isinstance(declared, Reactive), (
        "Widget.virtual_size is no longer a Reactive (LiveParagraph, AnswerTurn override it)"
    )
    assert isinstance(LiveParagraph.__dict__["virtual_size"], Reactive)
    assert LiveParagraph.__dict__["virtual_size"]._layout is False, "Reactive(layout=...) is stored elsewhere now"


def test_content_height_markdown_parser_factory_and_anchor():
    assert list(inspect.signature(Content.get_height).parameters)[:3] == ["self", "rules", "width"], (
        "Content.get_height(rules, width) changed (LiveParagraph compares heights with it)"
    )
    assert "parser_factory" in inspect.signature(Markdown.__init__).parameters, "Markdown(parser_factory=...) is gone"
    assert list(inspect.signature(Widget.anchor).parameters)[:2] == ["self", "anchor"], (
        "Widget.anchor(anchor) changed (ChatPane follows a growing answer with it)"
    )


async def test_a_streamed_paragraph_is_built_as_a_live_paragraph():
    """The hooks above, working together: appended text lands in LiveParagraph, with its content."""

    class OneAnswer(App):
        def compose(self):
            yield AnswerTurn()

    app = OneAnswer()
    async with app.run_test(size=(60, 10)) as pilot:
        answer = app.query_one(AnswerTurn)
        await answer.stream_fragment("Hello there, ")
        await answer.stream_fragment("general Kenobi.")
        await pilot.pause()
        paragraphs = list(answer.query(LiveParagraph))
        assert paragraphs, "streamed Markdown is no longer built from AnswerTurn.BLOCKS"
        assert "Kenobi" in paragraphs[-1]._content.plain


def test_textuals_escape_digit_table_is_where_alt_digits_expects_it():
    """tui/keys/alt_digits.py removes ESC + digit from this private table so alt+1..9 reach the app."""
    from textual import _ansi_sequences
    from textual._xterm_parser import XTermParser

    from tui.keys.alt_digits import ESC_DIGITS, read_esc_digit_as_alt

    table = getattr(_ansi_sequences, "ANSI_SEQUENCES_KEYS", None)
    assert isinstance(table, dict), "textual._ansi_sequences.ANSI_SEQUENCES_KEYS is gone (tui/keys/alt_digits.py)"
    read_esc_digit_as_alt()
    assert not set(ESC_DIGITS) & set(table)
    import time

    from textual import constants

    parser = XTermParser()
    keys = [getattr(e, "key", None) for e in parser.feed("\x1b2")]
    time.sleep(constants.ESCAPE_DELAY + 0.05)  # ESC alone waits this long for what follows it
    keys += [getattr(e, "key", None) for e in parser.tick()]
    assert "alt+2" in keys, keys


def test_the_footer_rebuilds_through_the_hook_key_footer_overrides():
    from textual.widgets import Footer

    from tui.widgets.footer import KeyFooter

    source = inspect.getsource(Footer.bindings_changed)
    assert "self._bindings_ready = True" in source and "self.recompose" in source, (
        "Footer.bindings_changed no longer sets _bindings_ready and recomposes (tui/widgets/footer.py KeyFooter)"
    )
    assert "self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)" in inspect.getsource(
        Footer.on_mount
    ), "Footer no longer subscribes bindings_changed on mount (KeyFooter's override would be dead)"
    assert KeyFooter.bindings_changed is not Footer.bindings_changed
