"""One side of the comparison: header, conversation, live status line.

The pane shows its `PaneSession` (models/session.py), which owns the model, the mode and the turns;
the pane holds only what is on screen. The app feeds it model events; it never touches an engine.
"""

from __future__ import annotations

import asyncio
from time import monotonic

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from models.adapters import adapters_label
from models.events import Finished, Notice, TextDelta, metrics_line
from models.files.describe import describe_pane
from models.files.info import ModelInfo
from models.lens.shift import ShiftResult
from models.prompts import MODES
from models.session import PaneSession
from tui.text.safe_text import neutralize
from tui.widgets.amplify_strip import amplify_pieces
from tui.widgets.answer import MARKDOWN, PLAIN, default_view
from tui.widgets.conversation import ConversationLog
from tui.widgets.inbox import EventInbox, InboxReady
from tui.widgets.lens import LensView
from tui.widgets.pane_header import ADAPTERS, DETAILS, MODEL, NEVER, PLACEMENT, Piece, fit, tuned_piece
from tui.widgets.turns import AnswerTurn, PaneIntro, TurnNote, UserTurn

STATUS_INTERVAL_S = 0.1
# Streamed text reaches the screen at most this often. The UI thread shares the cores with the
# models: rendering every token (100+ a second across two panes) took over half a core, and each
# frame still costs the UI 4-10 ms (Textual repaints the box around everything that changed).
FLUSH_INTERVAL_S = 1 / 15


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

    class Loaded(Message):
        """The session's load finished (its info or load_error says how); posted from its worker."""

    busy: reactive[bool] = reactive(False)  # answering
    scoring = False  # its model is scoring another pane's answer (the lens)
    last_status: tuple[str, str] = ("", "")

    def __init__(self, session: PaneSession, **kwargs) -> None:
        super().__init__(**kwargs)
        self.session = session
        self.generation = 0  # bumps on clear/regenerate so late events of old turns are ignored
        self._answer: AnswerTurn | None = None
        self._turn_widgets: list[list] = []
        self._status_at = 0.0
        self.view_chosen: str | None = None  # plain or Markdown as the user toggled it; None: by mode
        self.preset_set: set[str] = set()  # what a preset changed here ("mode", "adapters"), shown
        self.selected: AnswerTurn | None = None  # the answer ctrl+y copies (None: the last one)

    # What the pane shows comes from its session, the one owner of this state.
    @property
    def role(self) -> str:
        return self.session.role

    @property
    def mode(self) -> str:
        return self.session.mode

    @property
    def info(self) -> ModelInfo | None:
        return self.session.info

    @property
    def load_error(self) -> str | None:
        return self.session.load_error

    @property
    def view(self) -> str:
        """How new answers are shown: plain text or Markdown (ARCHITECTURE: tui/widgets/answer.py)."""
        return self.view_chosen or default_view(self.mode)

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-header")
        with ConversationLog(classes="pane-log"):
            yield PaneIntro()
        yield Static(Text("loading model…"), classes="pane-status")

    def on_mount(self) -> None:
        self.refresh_header()

    # -- header and status ---------------------------------------------------------------------
    def refresh_header(self) -> None:
        self.query_one(".pane-header", Static).update(fit(self._header_pieces(), self._header_width()))
        self._refresh_intro()

    def _header_pieces(self) -> list[Piece]:
        info = self.info
        pieces = [Piece(self.role.upper(), "bold", NEVER)]
        if info:
            pieces.append(Piece(neutralize(info.label), "", MODEL, shrinkable=True))
            details = " · ".join(p for p in (info.size_label, info.quantization) if p)
            if details:
                pieces.append(Piece(neutralize(details), "dim", DETAILS, lead=" · "))
        else:
            pieces.append(Piece(neutralize(self.session.source), "dim", MODEL, shrinkable=True))
        if tuned := tuned_piece(self.session.source):
            pieces.append(tuned)
        by_preset = " (preset)"
        if self.session.spec.adapters:
            label = adapters_label(self.session.spec.adapters) + (by_preset if "adapters" in self.preset_set else "")
            pieces.append(Piece(neutralize(label), "bold", ADAPTERS))
        pieces.extend(amplify_pieces(self.session.spec))  # an amplified pane: its factor and base
        pieces.append(Piece("mode ", "dim", NEVER))
        pieces.append(Piece(self.mode + (by_preset if "mode" in self.preset_set else ""), "bold", NEVER, lead=""))
        pieces.append(Piece(self.view if self.view == PLAIN else "md", "dim", NEVER, lead=" · "))
        if info:
            pieces.append(Piece(info.placement, "dim", PLACEMENT))
        return pieces

    def _header_width(self) -> int:
        header = self.query_one(".pane-header", Static)
        # Before the first layout the header has no size yet: assume a wide pane, refit on resize.
        return header.content_region.width or 200

    def on_resize(self) -> None:
        self.refresh_header()

    def _refresh_intro(self) -> None:
        intro = self.intro
        if intro is None:
            return
        about = describe_pane(self.session.source, self.info)
        text = Text()
        text.append(neutralize(about.title), style="bold")
        text.append(f"\n{about.kind}")
        text.append(f"\nmode {self.mode}: ", style="bold")
        text.append(MODES[self.mode].description)
        intro.update(text)

    @property
    def intro(self) -> PaneIntro | None:
        """What the pane holds, shown until its first message and again after a new conversation."""
        found = self.conversation.query(PaneIntro)
        return found.first() if found else None

    def set_status(self, message: str, kind: str = "") -> None:
        self.last_status = (message, kind)
        status = self.query_one(".pane-status", Static)
        classes = f"pane-status {kind}".strip()
        if set(classes.split()) != set(status.classes):
            status.set_classes(classes)
        # One row whatever it says: no layout pass, which would re-arrange the whole screen.
        status.update(Text(neutralize(message), no_wrap=True, overflow="ellipsis"), layout=False)

    def begin_loading(self) -> None:
        """The session has started loading another model."""
        self.refresh_header()
        self.set_status(f"loading {self.session.source}…")

    def on_chat_pane_loaded(self, message: Loaded) -> None:
        self.refresh_header()
        self._show_state()

    def begin_scoring(self, what: str) -> tuple[str, str]:
        """This pane's model scores ``what``; returns the status line to put back afterwards."""
        before = self.last_status
        self.scoring = True
        self.set_status(f"● scoring {what} (Esc stops)", "-busy")
        return before

    def end_scoring(self, status: tuple[str, str]) -> None:
        self.scoring = False
        self.set_status(*status)

    def _show_state(self) -> None:
        """The idle status line: the load error, the last answer's metrics (a reopened conversation
        keeps them when the model finishes loading), or ready and where the model runs."""
        last = self.session.last_turn
        if self.load_error:
            self.set_status(f"✗ {self.load_error}", "-error")
        elif self.busy:
            return
        elif last is not None and last.metrics is not None and self._turn_widgets:
            self._show_finished(last.metrics, last.error)
        elif self.info:
            self.set_status(f"ready · {self.info.placement}")

    def _show_finished(self, metrics, error: str | None) -> None:
        if error:
            self.set_status(f"✗ {error}", "-error")
        else:
            self.set_status(f"■ {metrics.line()}")

    @property
    def conversation(self) -> ConversationLog:
        """The scrolling column of turns."""
        return self.query_one(".pane-log", ConversationLog)

    # -- the lens -------------------------------------------------------------------------------
    @property
    def lens(self) -> LensView | None:
        found = self.conversation.query(LensView)
        return found.first() if found else None

    def _last_answer(self) -> AnswerTurn | None:
        for widgets in reversed(self._turn_widgets):
            for widget in widgets:
                if isinstance(widget, AnswerTurn):
                    return widget
        return None

    async def show_lens(self, result: ShiftResult, focus: bool = True) -> LensView:
        """The last answer as the scoring model saw it, in the answer's place (F8 again restores it)."""
        await self.hide_lens()
        answer = self._last_answer()
        lens = LensView(result)
        if answer is not None:
            answer.display = False
            await self.conversation.mount(lens, after=answer)
        else:
            await self.conversation.mount(lens)
        if focus:
            lens.focus()
        lens.scroll_visible(animate=False)
        return lens

    async def hide_lens(self) -> bool:
        """Close the lens, showing the answer again; False when none was open."""
        lens = self.lens
        if lens is None:
            return False
        await lens.remove()
        answer = self._last_answer()
        if answer is not None:
            answer.display = True
        return True

    # -- turns --------------------------------------------------------------------------------
    async def begin_turn(self, prompt: str) -> int:
        await self.hide_lens()
        self.generation += 1
        if self.intro is not None:
            await self.intro.remove()
        self._answer = AnswerTurn(self.view)
        widgets = [UserTurn(prompt), self._answer]
        self._turn_widgets.append(widgets)
        await self.conversation.mount_all(widgets)
        self.conversation.follow()  # a new message brings a scrolled-up log back to follow
        self.busy = True
        self.set_status("● waiting for the first token…", "-busy")
        return self.generation

    def inbox(self, generation: int) -> EventInbox:
        """The event sink for the turn ``begin_turn`` returned ``generation`` for."""
        return EventInbox(self, generation)

    async def on_inbox_ready(self, message: InboxReady) -> None:
        # Wait for the next frame boundary first: whatever arrives meanwhile joins this batch. The
        # boundaries are on one clock for every pane, so the panes' updates share a screen refresh.
        # An answer's first text is shown at once.
        if self._answer is not None and self._answer.text:
            await asyncio.sleep(FLUSH_INTERVAL_S - monotonic() % FLUSH_INTERVAL_S)
        events = message.inbox.take()
        with self.app.batch_update():  # the whole batch and the scroll: one screen refresh
            for event in events:
                if not self.conversation.is_attached:  # the app is closing: ctrl+q while answering
                    return
                await self._apply(message.inbox.generation, event)
            self.conversation.keep_end_in_view()

    async def on_chat_pane_model_event(self, message: ModelEvent) -> None:
        await self._apply(message.generation, message.event)
        self.conversation.keep_end_in_view()

    async def _apply(self, generation: int, event) -> None:
        if generation != self.generation or self._answer is None:
            return
        if isinstance(event, TextDelta):
            await self._answer.stream_fragment(neutralize(event.text))
            now = monotonic()
            if now - self._status_at >= STATUS_INTERVAL_S:  # a status repaint per token costs tokens/s
                self._status_at = now
                self.set_status(f"● {metrics_line(event.ttft_s, event.tokens, event.tokens_per_s)}", "-busy")
        elif isinstance(event, Notice):
            await self._add_note(event.message)
        elif isinstance(event, Finished):
            await self._answer.finish(neutralize(event.text))
            m = event.metrics
            if event.error:
                await self._add_note(f"✗ {event.error}", error=True)
            elif m.stop_reason == "cancelled":
                await self._add_note("■ stopped")
            self._show_finished(m, event.error)
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
        await self.conversation.mount(note)

    async def remove_last_turn(self) -> None:
        self.generation += 1
        self.conversation.anchor(False)
        if self._turn_widgets:
            for widget in self._turn_widgets.pop():
                await widget.remove()
        self._answer = None
        self.selected = None
        self.busy = False

    async def clear(self) -> None:
        self.generation += 1
        self.conversation.anchor(False)
        self._turn_widgets.clear()
        self.selected = None
        await self.conversation.remove_children()
        await self.conversation.mount(PaneIntro())
        self._refresh_intro()
        self._answer = None
        self.busy = False
        self._show_state()

    # -- what the reader does with the answers ------------------------------------------------
    @property
    def answers(self) -> list[AnswerTurn]:
        return [w for widgets in self._turn_widgets for w in widgets if isinstance(w, AnswerTurn)]

    async def toggle_view(self) -> str:
        """Plain text <-> Markdown for this pane, every answer redrawn; the view now shown."""
        view = PLAIN if self.view == MARKDOWN else MARKDOWN
        self.view_chosen = view
        log = self.conversation
        log.anchor(False)  # the content may get shorter than the log (Textualize/textual#6652)
        for answer in self.answers:
            await answer.set_view(view)
        if log.following:
            log.scroll_end(animate=False)
        self.refresh_header()
        return view

    def select_answer(self, step: int) -> AnswerTurn | None:
        """Move the copy selection ``step`` answers back (-1) or forward (+1), shown and scrolled to;
        past the last answer the selection ends (ctrl+y copies the last answer again)."""
        answers = [a for a in self.answers if a.text]
        if not answers:
            return None
        at = answers.index(self.selected) if self.selected in answers else len(answers)
        at = max(0, min(len(answers), at + step))
        if self.selected is not None:
            self.selected.remove_class("-selected")
        self.selected = answers[at] if at < len(answers) else None
        if self.selected is not None:
            self.selected.add_class("-selected")
            self.conversation.scroll_to_widget(self.selected, animate=False, top=True)
        return self.selected

    def scroll_to_latest(self) -> None:
        """After the layout: the latest turn's prompt at the top, or the end if it all fits."""
        latest = self._turn_widgets[-1][0] if self._turn_widgets else None
        log = self.conversation
        log.anchor(False)

        def scroll() -> None:
            if latest is not None and latest.is_attached:  # the log's own scroll watch says whether it follows
                log.scroll_to_widget(latest, animate=False, top=True, immediate=True)

        # Behind the scrolls to the end that showing each saved turn asked for, which also wait for a refresh.
        self.call_after_refresh(lambda: self.call_after_refresh(scroll))
