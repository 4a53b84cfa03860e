"""One side of the comparison: header, conversation, live status line."""

from __future__ import annotations

import asyncio
import threading
from functools import lru_cache
from time import monotonic

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.geometry import Size
from textual.reactive import Reactive, reactive
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownParagraph
from rich.text import Text

from models.events import Finished, Notice, TextDelta
from models.info import ModelInfo

from .safe_text import neutralize


STATUS_INTERVAL_S = 0.1
# Streamed text reaches the screen at most this often. The UI thread shares the cores with the
# models: rendering every token (100+ a second across two panes) took over half a core, and each
# frame still costs the UI 4-10 ms (Textual repaints the box around everything that changed).
FLUSH_INTERVAL_S = 1 / 15


def metrics_text(ttft_s: float, tokens: int, tokens_per_s: float) -> str:
    return f"TTFT {ttft_s * 1000:.0f} ms · {tokens} tok · {tokens_per_s:.1f} tok/s"


class UserTurn(Static):
    DEFAULT_CSS = """
    UserTurn { margin: 1 0 0 0; padding: 0 1; background: $boost; color: $text; }
    """

    def __init__(self, prompt: str) -> None:
        super().__init__(Text("› " + neutralize(prompt)))


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
        frozen = FrozenAnswer(head)
        self.frozen.append(frozen)
        await self.parent.mount(frozen, before=self)
        self._live = self._live[cut:]
        await self.update(self._live)
        return True

    async def finish(self, text: str) -> None:
        self.text = text
        if not self.frozen:
            self._live = text
        # One full render after streaming: avoids the blank-code-block artefact of partial updates.
        await self.update(self._live)


class EventInbox:
    """Worker thread -> pane: events queue here and the pane is woken by one message at a time.

    Consecutive text deltas merge while the pane has not picked them up, so however fast a model
    streams, the UI renders one batch per frame instead of one update per token.
    """

    def __init__(self, pane: "ChatPane", generation: int) -> None:
        self._pane = pane
        self.generation = generation
        self._lock = threading.Lock()
        self._events: list = []
        self._woken = False

    def __call__(self, event) -> None:  # called on the pane's worker thread
        with self._lock:
            last = self._events[-1] if self._events else None
            if isinstance(event, TextDelta) and isinstance(last, TextDelta):
                self._events[-1] = TextDelta(last.text + event.text, event.tokens, event.ttft_s, event.tokens_per_s)
            else:
                self._events.append(event)
            if self._woken:
                return
            self._woken = True
        self._pane.post_message(ChatPane.InboxReady(self))

    def take(self) -> list:
        with self._lock:
            events, self._events, self._woken = self._events, [], False
            return events


class TurnNote(Static):
    DEFAULT_CSS = """
    TurnNote { color: $text-muted; padding: 0 1; }
    TurnNote.-error { color: $error; }
    """

    def __init__(self, message: str, error: bool = False) -> None:
        super().__init__(Text(neutralize(message)), classes="-error" if error else "")


class ChatPane(Vertical):
    """Shows one pane's conversation. The app feeds it model events; it never touches an engine."""

    DEFAULT_CSS = """
    ChatPane { width: 1fr; height: 1fr; border: round $panel-lighten-2; }
    ChatPane.-active { border: round $accent; }
    ChatPane > .pane-header { height: auto; padding: 0 1; background: $panel; }
    ChatPane > .pane-log { height: 1fr; }
    ChatPane > .pane-status { height: 1; padding: 0 1; color: $text-muted; }
    ChatPane > .pane-status.-error { color: $error; }
    ChatPane > .pane-status.-busy { color: $success; }
    """

    class ModelEvent(Message):
        """A model event, posted from the pane's worker thread (post_message is thread-safe)."""

        def __init__(self, generation: int, event) -> None:
            super().__init__()
            self.generation = generation
            self.event = event

    class InboxReady(Message):
        """Events are waiting in ``inbox`` (see EventInbox)."""

        def __init__(self, inbox: EventInbox) -> None:
            super().__init__()
            self.inbox = inbox

    class Loaded(Message):
        def __init__(self, info: ModelInfo | None, error: str | None) -> None:
            super().__init__()
            self.info, self.error = info, error

    busy: reactive[bool] = reactive(False)

    def __init__(self, role: str, source: str, mode: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.role = role
        self.source = source
        self.mode = mode
        self.info: ModelInfo | None = None
        self.load_error: str | None = None
        self.generation = 0  # bumps on clear/regenerate so late events of old turns are ignored
        self._answer: AnswerTurn | None = None
        self._turn_widgets: list[list] = []
        self._status_at = 0.0

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-header")
        yield VerticalScroll(classes="pane-log")
        yield Static(Text("loading model…"), classes="pane-status")

    def on_mount(self) -> None:
        self.refresh_header()

    # -- header and status ---------------------------------------------------------------------
    def refresh_header(self) -> None:
        header = Text()
        header.append(self.role.upper(), style="bold")
        header.append("  ")
        if self.info:
            header.append(neutralize(self.info.label))
            details = " · ".join(p for p in (self.info.size_label, self.info.quantization) if p)
            if details:
                header.append(f" · {neutralize(details)}", style="dim")
        else:
            header.append(neutralize(self.source), style="dim")
        header.append("  mode ", style="dim")
        header.append(self.mode, style="bold")
        if self.info:
            header.append(f"  {self.info.placement}", style="dim")
        self.query_one(".pane-header", Static).update(header)

    def set_status(self, message: str, kind: str = "") -> None:
        status = self.query_one(".pane-status", Static)
        classes = f"pane-status {kind}".strip()
        if set(classes.split()) != set(status.classes):
            status.set_classes(classes)
        # One row whatever it says: no layout pass, which would re-arrange the whole screen.
        status.update(Text(neutralize(message), no_wrap=True, overflow="ellipsis"), layout=False)

    def begin_loading(self, source: str) -> None:
        self.source, self.info, self.load_error = source, None, None
        self.refresh_header()
        self.set_status(f"loading {source}…")

    def on_chat_pane_loaded(self, message: Loaded) -> None:
        self.info, self.load_error = message.info, message.error
        if message.error:
            self.set_status(f"✗ {message.error}", "-error")
        else:
            self.set_status(f"ready · {self.info.placement}")
        self.refresh_header()

    # -- turns --------------------------------------------------------------------------------
    @property
    def log(self) -> VerticalScroll:  # type: ignore[override]
        return self.query_one(".pane-log", VerticalScroll)

    async def begin_turn(self, prompt: str) -> int:
        self.generation += 1
        self._answer = AnswerTurn()
        widgets = [UserTurn(prompt), self._answer]
        self._turn_widgets.append(widgets)
        await self.log.mount_all(widgets)
        self.log.scroll_end(animate=False)  # a new message brings a scrolled-up log back to follow
        self.busy = True
        self.set_status("● waiting for the first token…", "-busy")
        return self.generation

    def inbox(self, generation: int) -> EventInbox:
        """The event sink for the turn ``begin_turn`` returned ``generation`` for."""
        return EventInbox(self, generation)

    async def on_chat_pane_inbox_ready(self, message: InboxReady) -> None:
        # Wait for the next frame boundary first: whatever arrives meanwhile joins this batch. The
        # boundaries are on one clock for every pane, so the panes' updates share a screen refresh.
        # An answer's first text is shown at once.
        if self._answer is not None and self._answer.text:
            await asyncio.sleep(FLUSH_INTERVAL_S - monotonic() % FLUSH_INTERVAL_S)
        events = message.inbox.take()
        with self.app.batch_update():  # the whole batch and the scroll: one screen refresh
            at_bottom = self.log.is_vertical_scroll_end
            for event in events:
                await self._apply(message.inbox.generation, event)
            self._follow(at_bottom)

    async def on_chat_pane_model_event(self, message: ModelEvent) -> None:
        at_bottom = self.log.is_vertical_scroll_end
        await self._apply(message.generation, message.event)
        self._follow(at_bottom)

    def _follow(self, at_bottom: bool) -> None:
        """Keep a log that was scrolled to the end there; leave one the reader scrolled up alone."""
        log = self.log
        if at_bottom and self.busy and log.max_scroll_y > 0:
            # Anchored, the log follows the answer in the same layout pass that grows it (a
            # scroll_end waits for that layout, then costs another one and a frame, per new
            # line). Only while an answer grows and overflows: Textual 8.2.8 anchors content
            # shorter than the log to its bottom edge (Textualize/textual#6652).
            log.anchor()
        else:
            log.anchor(False)
            if at_bottom:
                log.scroll_end(animate=False)

    async def _apply(self, generation: int, event) -> None:
        if generation != self.generation or self._answer is None:
            return
        if isinstance(event, TextDelta):
            await self._answer.stream_fragment(neutralize(event.text))
            now = monotonic()
            if now - self._status_at >= STATUS_INTERVAL_S:  # a status repaint per token costs tokens/s
                self._status_at = now
                self.set_status(f"● {metrics_text(event.ttft_s, event.tokens, event.tokens_per_s)}", "-busy")
        elif isinstance(event, Notice):
            await self._add_note(event.message)
        elif isinstance(event, Finished):
            await self._answer.finish(neutralize(event.text))
            m = event.metrics
            if event.error:
                await self._add_note(f"✗ {event.error}", error=True)
                self.set_status(f"✗ {event.error}", "-error")
            else:
                if m.stop_reason == "cancelled":
                    await self._add_note("■ stopped")
                self.set_status(f"■ {metrics_text(m.ttft_s, m.tokens, m.tokens_per_s)} · {m.stop_reason}")
            self._answer = None
            self.busy = False

    async def show_saved_turn(self, prompt: str, text: str, error: str | None, metrics) -> None:
        """A turn from the history, shown as it was when it finished."""
        await self.begin_turn(prompt)
        await self.on_chat_pane_model_event(self.ModelEvent(self.generation, Finished(text, metrics, error)))

    async def _add_note(self, message: str, error: bool = False) -> None:
        note = TurnNote(message, error)
        if self._turn_widgets:
            self._turn_widgets[-1].append(note)
        await self.log.mount(note)

    async def remove_last_turn(self) -> None:
        self.generation += 1
        self.log.anchor(False)
        if self._turn_widgets:
            for widget in self._turn_widgets.pop():
                for frozen in getattr(widget, "frozen", []):
                    await frozen.remove()
                await widget.remove()
        self._answer = None
        self.busy = False

    async def clear(self) -> None:
        self.generation += 1
        self.log.anchor(False)
        self._turn_widgets.clear()
        await self.log.remove_children()
        self._answer = None
        self.busy = False
        if self.load_error:
            self.set_status(f"✗ {self.load_error}", "-error")
        elif self.info:
            self.set_status(f"ready · {self.info.placement}")

    def last_answer(self) -> str | None:
        for widgets in reversed(self._turn_widgets):
            for widget in widgets:
                if isinstance(widget, AnswerTurn) and widget.text:
                    return widget.text
        return None
