"""A pane's worker: its jobs (load, answer, score, ...) run one at a time, in order, each on a
thread of its own that ends with the job.

Why not one long-lived thread (a ThreadPoolExecutor of one): llama.cpp is built with OpenMP, and
an OpenMP team belongs to the thread that started it. A pane that once decoded with two threads
keeps a pool thread for as long as its worker thread lives. Once the process holds more OpenMP
threads than there are cores (two panes that each, at some point, had the cores to themselves),
libgomp throttles its barrier spin to 100 iterations, and every one of ggml's barriers (hundreds
a token) sleeps and wakes in the kernel. On 2 cores Gemma 3 270M went from 23 to 36 ms a token
with two threads, as slow as with one, for the rest of the session (`duet ask --shift`, the app's
lens, any pane answering alone). A thread's OpenMP pool is freed when the thread ends, so a
worker whose every job gets a new thread never leaves one behind. A thread costs ~0.1 ms to
start; a job is a whole answer or scoring.

Jobs stay ordered and never overlap, so an engine is still touched by one thread at a time. The
threads are not daemons: Python waits for a job in progress at exit, as it waits for a
ThreadPoolExecutor's (a command that gives up on one ends with os._exit: models/session.py).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


def on_own_thread(fn: Callable[[], T]) -> T:
    """``fn()`` on a thread that ends with it: its result returned, its exception raised here.

    For model work a caller would otherwise do on a thread that outlives it (a benchmark's or a
    test's main thread): the OpenMP team such work starts ends with this thread, for the reason
    above. Measured 2026-12-07 on a 2-core Xeon: the app's lens took 1.70 s in a process whose main
    thread had once decoded with two threads, 1.13 s in one whose main thread had not."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # raised again on the caller's thread
            box["error"] = err

    thread = threading.Thread(target=run, name="own-thread")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


class SerialWorker:
    """ThreadPoolExecutor(max_workers=1)'s ``submit`` and ``shutdown(wait=False)``, a new thread
    per job."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._jobs: deque[tuple[Future, Callable[..., Any], tuple, dict]] = deque()
        self._running = False  # a job's thread is alive (it starts the next job's)
        self._shut = False
        self._idle = threading.Condition(self._lock)  # notified when the last job has ended

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._jobs.append((future, fn, args, kwargs))
            if not self._running:
                self._running = True
                self._start_next()
        return future

    def shutdown(self, wait: bool = False) -> None:
        """No new jobs; the queued ones still run. ``wait``: until every one has ended."""
        with self._lock:
            self._shut = True
            while wait and self._running:
                self._idle.wait()

    def _start_next(self) -> None:
        """With the lock held: start the thread of the oldest job waiting."""
        threading.Thread(target=self._run_one, name=self._name).start()

    def _run_one(self) -> None:
        with self._lock:
            future, fn, args, kwargs = self._jobs.popleft()
        if future.set_running_or_notify_cancel():
            try:
                result = fn(*args, **kwargs)
            except BaseException as err:
                future.set_exception(err)
            else:
                future.set_result(result)
        with self._lock:
            if self._jobs:
                self._start_next()  # this thread ends now, and with it any OpenMP pool it held
            else:
                self._running = False
                self._idle.notify_all()
