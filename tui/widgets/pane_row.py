"""The row that holds the panes."""

from __future__ import annotations

from textual.containers import Container


class PaneRow(Container):
    """The panes side by side, stacked instead when each would get fewer than 40 columns."""

    MIN_PANE_WIDTH = 40

    def on_mount(self) -> None:
        self._arrange(self.app.size.width)  # decided before the first layout, not after it

    def on_resize(self, event) -> None:
        self._arrange(event.size.width)

    def arrange_for(self, width: int) -> None:
        """Side by side or stacked, for ``width`` columns and the panes it holds now (a pane added)."""
        self._arrange(width)

    def _arrange(self, width: int) -> None:
        self.set_class(width < self.MIN_PANE_WIDTH * len(self.children), "-stacked")
