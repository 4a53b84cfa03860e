"""Start-up runs without Python's cyclic garbage collector.

Start-up imports some 900 modules and builds the screen while the models load: it allocates a
great deal and frees almost nothing, so the collections Python runs meanwhile are pure cost on
the path to both models loaded (about 25 ms on 2 cores, figure 6 of benchmarks/). The collector
is off from the first import until the command's start-up is over: at once for a subcommand, when
every pane's model load has ended (loaded or failed) for the app. From then on it runs as in any
Python program, start-up's garbage included (gc.freeze would leak whatever of it becomes garbage).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable
from concurrent.futures import Future, wait

_LOAD_WAIT_S = 300.0  # a load still going after this (a huge model, a slow disk) no longer defers it


def begin_start_up() -> None:
    gc.disable()


def end_start_up() -> None:
    """The collector back on (idempotent)."""
    gc.enable()


def end_start_up_after(loads: Iterable[Future | None]) -> None:
    """end_start_up once every one of ``loads`` has finished, from a thread of its own."""
    pending = [f for f in loads if f is not None]
    if gc.isenabled():
        return

    def run() -> None:
        wait(pending, timeout=_LOAD_WAIT_S)
        end_start_up()

    threading.Thread(target=run, name="duet-start-up-gc", daemon=True).start()
