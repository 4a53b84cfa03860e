"""Browse saved conversations: where each came from (the app, `duet ask`, `duet run`), a filter by
that and a search box; reopen, export or delete them (a delete asks first)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from models.errors import DuetError
from models.store.history import HistoryStore, data_dir
from models.store.private_files import write_private
from tui.export.report import conversation_markdown
from tui.screens.modal_css import MODAL_CSS
from tui.text.model_names import model_names
from tui.text.safe_text import neutralize

KINDS = ("all", "app", "ask", "run")  # the filter's steps: every conversation, or those one way made
KIND_WORDS = {"app": "the app", "ask": "duet ask", "run": "duet run"}
TITLE = (
    "History: Enter reopens · e exports Markdown · d deletes (asks first) · f filters app/ask/run · "
    "/ searches · Esc closes"
)


class HistoryScreen(ModalScreen[int | None]):
    """Dismisses with the id of the conversation to reopen, or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("e", "export", "Export Markdown"),
        Binding("d,delete", "delete", "Delete"),
        Binding("y", "confirm_delete", "Yes, delete", show=False),
        Binding("f", "filter", "Filter by app/ask/run"),
        Binding("slash", "search", "Search"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="HistoryScreen") + (
        "HistoryScreen OptionList { height: 1fr; } HistoryScreen Input { height: 3; }"
    )

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store
        self.kind = "all"
        self.pending_delete: int | None = None  # asked "delete #N?": d or y again deletes it
        self._conversations: list[dict] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(TITLE, classes="title")
            yield Input(
                placeholder="search titles, models and kinds (/ here, Enter back to the list)", id="history-search"
            )
            yield Static("", id="history-filter", classes="hint")
            yield OptionList(id="conversations")
            yield Static("", id="history-message", classes="hint")

    def on_mount(self) -> None:
        self._conversations = self.store.conversations()
        self._reload()
        self.query_one(OptionList).focus()

    # -- the list ------------------------------------------------------------------------------
    def shown(self) -> list[dict]:
        """The conversations the filter and the search leave, most recent first."""
        words = self.query_one(Input).value.lower().split()
        return [c for c in self._conversations if self._kept(c, words)]

    def _kept(self, conv: dict, words: list[str]) -> bool:
        if self.kind != "all" and conv.get("kind") != self.kind:
            return False
        haystack = f"#{conv['id']} {conv.get('kind')} {conv.get('title') or ''} {model_names(conv)}".lower()
        return all(word in haystack for word in words)

    def _reload(self) -> None:
        options = self.query_one(OptionList)
        previous = options.highlighted or 0
        options.clear_options()
        shown = self.shown()
        for conv in shown:
            options.add_option(Option(row_label(conv), id=str(conv["id"])))
        self._say_filter(len(shown))
        if not self._conversations:
            self._say("No saved conversations yet.")
        elif not shown:
            self._say("No conversation matches the filter and the search.")
        else:  # Enter opens the newest at once; after a delete, the one that took its place
            options.highlighted = min(previous, options.option_count - 1)

    def _say_filter(self, count: int) -> None:
        counts = {k: sum(1 for c in self._conversations if c.get("kind") == k) for k in KINDS[1:]}
        steps = " · ".join(f"{'[' + k + ']' if k == self.kind else k} {counts[k]}" for k in KINDS[1:])
        what = "every conversation" if self.kind == "all" else f"from {KIND_WORDS[self.kind]}"
        self.query_one("#history-filter", Static).update(
            Text(f"showing {count}: {what} · {'[all]' if self.kind == 'all' else 'all'} · {steps}")
        )

    def _selected(self) -> int | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        option_id = options.get_option_at_index(options.highlighted).id
        return int(option_id) if option_id is not None else None  # every listed option has an id

    def _say(self, message: str) -> None:
        self.query_one("#history-message", Static).update(Text(neutralize(message)))

    # -- events and keys -----------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(int(event.option.id))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._cancel_delete()  # the question was about the row that was highlighted then

    def on_input_changed(self, event: Input.Changed) -> None:
        self._cancel_delete()
        self._reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(OptionList).focus()

    def action_search(self) -> None:
        self.query_one(Input).focus()

    def action_filter(self) -> None:
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self._cancel_delete()
        self._reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # In the search box, letters are text: only Esc (and Enter, the box's own) act there.
        if isinstance(self.focused, Input) and action not in ("dismiss",):
            return False
        return True

    def action_export(self) -> None:
        conv_id = self._selected()
        if conv_id is None:
            return
        try:
            target = data_dir() / "exports" / f"conversation-{conv_id}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            write_private(target, conversation_markdown(self.store.get(conv_id)))
            self._say(f"exported to {target}")
        except (DuetError, OSError) as err:
            self._say(f"export failed: {err}")

    def action_delete(self) -> None:
        """d: ask about the highlighted conversation; d again (or y) deletes it."""
        conv_id = self._selected()
        if conv_id is None:
            return
        if self.pending_delete == conv_id:
            self._delete(conv_id)
            return
        self.pending_delete = conv_id
        conv = next((c for c in self._conversations if c["id"] == conv_id), {})
        title = (conv.get("title") or "")[:60]
        self._say(f"Delete conversation #{conv_id} ({title})? d or y deletes it; any other key keeps it.")

    def action_confirm_delete(self) -> None:
        conv_id = self._selected()
        if conv_id is not None and self.pending_delete == conv_id:
            self._delete(conv_id)

    def _cancel_delete(self) -> None:
        if self.pending_delete is not None:
            self.pending_delete = None
            self._say("Kept: nothing was deleted.")

    def on_key(self, event) -> None:
        if self.pending_delete is not None and event.key not in ("d", "delete", "y"):
            self._cancel_delete()

    def _delete(self, conv_id: int) -> None:
        self.pending_delete = None
        try:
            self.store.delete(conv_id)
        except DuetError as err:
            self._say(str(err))
            return
        self._conversations = [c for c in self._conversations if c["id"] != conv_id]
        self._reload()
        self._say(f"deleted conversation #{conv_id}")


def row_label(conv: dict) -> Text:
    """One conversation's row: id, where it came from, when, how long, which models, its title."""
    turns = conv.get("turn_count", 0)
    line = (
        f"#{conv['id']:<4} {conv.get('kind', 'app'):<3}  {(conv.get('started') or '')[:16].replace('T', ' ')}  "
        f"{turns} turn{'' if turns == 1 else 's'}  {model_names(conv)}  {conv.get('title') or ''}"
    )
    return Text(neutralize(line)[:200])
