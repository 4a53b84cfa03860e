"""The app's main screen: whenever it is on top again (a modal screen or the command palette
closed, whatever the command did), the prompt box has the focus, so the next key typed reaches it;
and the footer lists the app's keys in the app's order.

Textual gives the focus back to the widget that had it before the modal opened, which is not
always the prompt box (the model screen's Enter could leave none focused, and a palette command
that mounts a pane moves it), and a box without the focus swallows nothing: the keys went nowhere.
"""

from __future__ import annotations

from textual.binding import ActiveBinding, Binding
from textual.screen import Screen

from tui.widgets.prompt_input import PromptInput


class MainScreen(Screen):
    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, in the order of the app's BINDINGS: the footer shows them in this order and
        cuts the rest at the right. Textual's own order puts the keys the prompt box also binds
        (f6, f7, ctrl+y, ctrl+q) first, which pushed F1 out of an 80-column footer."""
        found = super().active_bindings
        order = {b.action: i for i, b in enumerate(self.app.BINDINGS) if isinstance(b, Binding)}
        return dict(sorted(found.items(), key=lambda item: order.get(item[1].binding.action, len(order))))

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self._focus_prompt)

    def _focus_prompt(self) -> None:
        if self.app.screen is not self:  # another screen opened meanwhile
            return
        found = self.query(PromptInput)
        if found and not found.first().has_focus:
            found.first().focus()
