"""Esc inside a native decode: llama.cpp's abort callback, wired to a pane's cancel event.

A long prompt is decoded in batches of up to 512 tokens, each one ``llama_decode`` call that
holds the worker for seconds on a small CPU; checking ``cancel`` between tokens cannot stop it.
llama.cpp asks an abort callback after every node of the compute graph (about 660 per token
for SmolLM2) and, when it says yes, ``llama_decode`` returns 2 and llama-cpp-python raises.

The callback is not Python: a Python callback would take the GIL 660 times a token, in a thread
that otherwise runs without it (measured +3-8 % per token, more while the screen redraws). It is
libc's ``strlen`` reading a two-byte flag: 0 while running, 1 once ``cancel`` is set, set by a
small watcher thread that waits on the event. strlen returns 0 or 1 for that flag, which is the
``bool`` the callback type returns on every C ABI (the low byte of the return register). Where
libc cannot be found the callback falls back to Python.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_WATCH_S = 0.05  # how often a watcher looks whether its decode has ended (it hears cancel at once)


class DecodeAborted(RuntimeError):
    """llama_decode stopped because the cancel event was set."""


@functools.cache
def _strlen() -> Any | None:
    # find_library runs `ldconfig -p` in a subprocess: asked only when the process's own symbols
    # lack strlen, and once (every model load makes a switch).
    for name in _libc_names():
        try:
            return ctypes.CDLL(name).strlen
        except (OSError, AttributeError, TypeError):
            continue
    return None


def _libc_names() -> Iterator[str | None]:
    yield None
    yield ctypes.util.find_library("c")
    yield "msvcrt"


class AbortSwitch:
    """One llama.cpp context's abort callback and the flag it reads."""

    def __init__(self, lib, ctx) -> None:
        self._flag = ctypes.create_string_buffer(2)  # b"\0\0": go on; b"\1\0": abort
        strlen = _strlen()
        if strlen is not None:
            address = ctypes.cast(strlen, ctypes.c_void_p).value
            self._callback = lib.ggml_abort_callback(address)
            data = ctypes.cast(self._flag, ctypes.c_void_p)
        else:  # pragma: no cover - every supported platform has a libc
            self._callback = lib.ggml_abort_callback(lambda _data: self._flag.raw[0] == 1)
            data = ctypes.c_void_p(0)
        self._data = data
        self.attach(lib, ctx)

    def attach(self, lib, ctx) -> None:
        """Wire this switch's callback and flag to ``ctx`` too (a context that replaced the one
        it was made for: the amplified pane's base context when it grows)."""
        lib.llama_set_abort_callback(ctx, self._callback, self._data)  # the callback object stays referenced

    @contextmanager
    def on(self, cancel: threading.Event) -> Iterator[None]:
        """Inside this block a decode stops within one graph node of ``cancel`` being set; the
        failure it causes comes out as DecodeAborted."""
        done, lock = threading.Event(), threading.Lock()
        self._flag[0] = b"\x01" if cancel.is_set() else b"\x00"

        def watch() -> None:
            while not done.is_set():
                if cancel.wait(_WATCH_S):
                    with lock:  # never left set after the block: the next decode must run
                        if not done.is_set():
                            self._flag[0] = b"\x01"
                    return

        threading.Thread(target=watch, name="duet-abort-watch", daemon=True).start()
        try:
            yield
        except RuntimeError as err:
            if cancel.is_set() and not isinstance(err, DecodeAborted):
                raise DecodeAborted("stopped") from err
            raise
        finally:
            with lock:
                done.set()
                self._flag[0] = b"\x00"
