"""Browse saved conversations: reopen, export or delete them."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from models.errors import DuetError
from models.store.history import HistoryStore, data_dir
from models.store.private_files import write_private
from tui.report import conversation_markdown
from tui.safe_text import neutralize
from tui.screens.modal_css import MODAL_CSS


class HistoryScreen(ModalScreen[int | None]):
    """Dismisses with the id of the conversation to reopen, or None."""

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Close"),
        Binding("e", "export", "Export Markdown"),
        Binding("d,delete", "delete", "Delete"),
    ]
    DEFAULT_CSS = MODAL_CSS.format(name="HistoryScreen") + "HistoryScreen OptionList { height: 1fr; }"

    def __init__(self, store: HistoryStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("History: Enter reopens · e exports Markdown · d deletes · Esc closes", classes="title")
            yield OptionList(id="conversations")
            yield Static("", id="history-message", classes="hint")

    def on_mount(self) -> None:
        self._reload()

    def _reload(self) -> None:
        options = self.query_one(OptionList)
        previous = options.highlighted or 0
        options.clear_options()
        for conv in self.store.conversations():
            models = " vs ".join((conv.get("models") or {}).values())
            label = Text(
                f"#{conv['id']}  {(conv.get('started') or '')[:16]}  {conv.get('turn_count', 0)} turn(s)  "
                f"{neutralize(models)}  {neutralize(conv.get('title') or '')}"[:200]
            )
            options.add_option(Option(label, id=str(conv["id"])))
        if not options.option_count:
            self._say("No saved conversations yet.")
        else:  # Enter opens the newest at once; after a delete, the one that took its place
            options.highlighted = min(previous, options.option_count - 1)

    def _selected(self) -> int | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        option_id = options.get_option_at_index(options.highlighted).id
        return int(option_id) if option_id is not None else None  # every listed option has an id

    def _say(self, message: str) -> None:
        self.query_one("#history-message", Static).update(Text(neutralize(message)))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(int(event.option.id))

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
        conv_id = self._selected()
        if conv_id is None:
            return
        try:
            self.store.delete(conv_id)
            self._reload()
            self._say(f"deleted conversation #{conv_id}")
        except DuetError as err:
            self._say(str(err))
