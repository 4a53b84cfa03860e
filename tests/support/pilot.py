"""Waiting on a running app under Pilot: every wait has a deadline, so a stuck app fails the test
with a message instead of hanging the suite until pytest-timeout; and what the app shows that the
tests read (a pane's header, the toasts)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.pilot import Pilot
from textual.widgets import Static


async def wait_until(
    pilot: Pilot, condition: Callable[[], object], timeout: float = 60.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout:g} s")
        await pilot.pause(0.05)


def loaded(app) -> bool:
    """Every pane has finished loading, with a model or with an error."""
    return all(p.info is not None or p.load_error for p in app.panes)


def header(app, role: str) -> str:
    """The text of the ``role`` pane's header."""
    return str(app.pane(role).query_one(".pane-header", Static).render())


def messages(app) -> list[str]:
    """Every toast the app has shown, oldest first."""
    return [n.message for n in app._notifications]
