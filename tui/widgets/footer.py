"""The key bar: Textual's Footer, rebuilt once for a burst of bindings changes.

Textual's Footer recomposes (a widget per key, each styled anew: 20-25 ms on 2 cores for Duet's
keys) after every bindings_updated signal, one recompose queued per signal. At start-up such
signals come in a burst (the screen's first bindings, the prompt taking focus, the panes'
keys changing as their models load) and every rebuild ran while the models were loading on the
same two cores (figure 6); a focus change that also refreshes the bindings did the same. The
bar now waits until the signals have been quiet for 0.1 s (much less than a person notices) and
rebuilds once, from the bindings as they are then.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

QUIET_S = 0.1


class KeyFooter(Footer):
    _rebuild: Timer | None = None

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True  # private (tests/unit/test_textual_hooks.py)
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            if self._rebuild is None:
                self._rebuild = self.set_timer(QUIET_S, self._rebuild_now)
            else:
                self._rebuild.reset()

    async def _rebuild_now(self) -> None:
        self._rebuild = None
        await self.recompose()
