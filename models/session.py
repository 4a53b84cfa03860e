"""A pane's model session: one engine, one worker thread, one conversation.

Everything that touches the engine (load, render, generate, close) runs on the session's own
thread, so a llama.cpp model is never shared between threads and two panes really run at once.
Callers get events through a callback that is invoked on that worker thread.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from .engine import Engine, RenderedPrompt
from .errors import DuetError
from .events import Event, Finished, Metrics, Notice, TextDelta
from .info import ModelInfo
from .prompts import Exchange, get_mode
from .settings import ModelSpec, SamplingSettings
from .threads import CPU_BUDGET, Lease

EventSink = Callable[[Event], None]


class _LoadsInFlight:
    """How many sessions in this process are loading a model right now.

    Warming a prompt prefix waits for them: it is a head start for later, while a load is what
    stands between the user and a ready app, and on a small machine the two fight for the cores.
    """

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_until_none(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._count == 0, timeout=timeout)


LOADS_IN_FLIGHT = _LoadsInFlight()


@dataclass
class Turn:
    """One prompt and this pane's answer to it, as it will be shown, saved and exported."""

    prompt: str
    mode: str
    sampling: SamplingSettings
    rendered: RenderedPrompt | None = None
    text: str = ""
    metrics: Metrics = field(default_factory=Metrics)
    error: str | None = None
    notices: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def stopped(self) -> bool:
        return self.metrics.stop_reason == "cancelled"


def make_engine(spec: ModelSpec) -> Engine:
    from .sources import is_remote_source

    if is_remote_source(spec.source):  # http(s)://HOST:PORT/v1#MODEL: an OpenAI-compatible server
        from .openai_engine import OpenAIEngine  # imports httpx: only when a server is used

        return OpenAIEngine(spec)
    from .llama_engine import LlamaEngine

    return LlamaEngine(spec)


class PaneSession:
    def __init__(
        self,
        role: str,
        spec: ModelSpec,
        mode: str,
        sampling: SamplingSettings | None = None,
        engine_factory: Callable[[ModelSpec], Engine] = make_engine,
    ):
        get_mode(mode)
        self.role = role
        self.spec = spec
        self.mode = mode
        self.sampling = sampling or SamplingSettings()
        self.turns: list[Turn] = []
        self.info: ModelInfo | None = None
        self.load_error: str | None = None
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"duet-{role}")
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self.loading: Future | None = None
        self.warming: Future | None = None

    # -- model ---------------------------------------------------------------------------------
    def load(self) -> Future:
        """Load (or reload) the model on the worker thread; the future gives ModelInfo or raises.

        The prompt template is warmed right after, as a job of its own, so the pane reports ready
        without waiting for it.
        """
        self.loading = self._executor.submit(self._load)
        self.warm()
        return self.loading

    def warm(self) -> Future:
        """Evaluate the current mode's prompt prefix ahead of the next message (see LlamaEngine.warm).

        The future gives the number of tokens evaluated (0 when nothing needed it or it failed)."""
        try:
            self.warming = self._executor.submit(self._warm)
        except RuntimeError:  # the session is closed
            self.warming = Future()
            self.warming.set_result(0)
        return self.warming

    def _warm(self) -> int:
        warm = getattr(self._engine, "warm", None)
        if warm is None:
            return 0
        LOADS_IN_FLIGHT.wait_until_none(timeout=30)
        try:
            return warm(get_mode(self.mode))
        except Exception:  # only a head start: the next message evaluates the prompt in full anyway
            return 0

    def set_mode(self, mode: str) -> None:
        get_mode(mode)
        self.mode = mode
        self.warm()

    def _load(self) -> ModelInfo:
        with LOADS_IN_FLIGHT:
            return self._load_engine()

    def _load_engine(self) -> ModelInfo:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        self.info, self.load_error = None, None
        engine = self._engine_factory(self.spec)
        try:
            self.info = engine.load()
        except DuetError as err:
            self.load_error = str(err)
            raise
        except Exception as err:  # never let an unexpected loader failure escape as a traceback
            self.load_error = f"could not load {self.spec.source}: {err}"
            raise DuetError(self.load_error) from None
        self._engine = engine
        return self.info

    def switch_model(self, spec: ModelSpec) -> Future:
        self.spec = spec
        return self.load()

    @property
    def ready(self) -> bool:
        return self._engine is not None

    # -- conversation ------------------------------------------------------------------------
    def history(self) -> list[Exchange]:
        """Earlier exchanges that chat mode sends (failed turns are not part of the conversation)."""
        return [Exchange(t.prompt, t.text) for t in self.turns if t.error is None]

    def send(
        self, text: str, on_event: EventSink | None = None, sampling: SamplingSettings | None = None
    ) -> Future:
        """Answer ``text`` on the worker thread; the future gives the finished Turn.

        ``sampling`` overrides the pane's settings for this turn only (presets use it).
        """
        self._cancel = cancel = threading.Event()
        turn = Turn(prompt=text, mode=self.mode, sampling=sampling or self.sampling)
        # Claimed now, on the caller's thread, so panes sent the same message split the cores
        # from their first token on.
        lease = CPU_BUDGET.acquire(self.spec.n_threads) if self._shares_cpu() else None
        return self._executor.submit(self._answer, turn, cancel, on_event or (lambda event: None), lease)

    def _shares_cpu(self) -> bool:
        engine = self._engine
        if engine is not None:
            return getattr(engine, "shares_cpu", False)
        from .sources import is_remote_source

        return not is_remote_source(self.spec.source)

    def _answer(self, turn: Turn, cancel: threading.Event, on_event: EventSink, lease: Lease | None) -> Turn:
        try:
            return self._answer_with(turn, cancel, on_event, lease)
        finally:
            if lease is not None:
                CPU_BUDGET.release(lease)

    def _answer_with(self, turn: Turn, cancel: threading.Event, on_event: EventSink, lease: Lease | None) -> Turn:
        history = self.history()
        try:
            if self._engine is None:
                raise DuetError(self.load_error or "the model is not loaded")
            turn.rendered = self._engine.render(get_mode(turn.mode), turn.prompt, history, turn.sampling)
            extra = {"lease": lease} if lease is not None and getattr(self._engine, "shares_cpu", False) else {}
            for event in self._engine.stream(turn.rendered, turn.sampling, cancel, **extra):
                if isinstance(event, Finished):
                    turn.text, turn.metrics, turn.error = event.text, event.metrics, event.error
                elif isinstance(event, Notice):
                    turn.notices.append(event.message)
                on_event(event)
        except DuetError as err:
            turn.error = str(err)
            turn.metrics = Metrics(stop_reason="error")
            on_event(Finished(turn.text, turn.metrics, turn.error))
        turn.finished_at = time.time()
        with self._lock:
            self.turns.append(turn)
        return turn

    def render_preview(self, text: str) -> Future:
        """What would be sent for ``text`` now (for the prompt inspector), without generating."""

        def run() -> RenderedPrompt:
            if self._engine is None:
                raise DuetError(self.load_error or "the model is not loaded")
            return self._engine.render(get_mode(self.mode), text, self.history(), self.sampling)

        return self._executor.submit(run)

    def cancel(self) -> None:
        """Stop the answer in progress; the engine notices before its next token."""
        self._cancel.set()

    def pop_last_turn(self) -> Turn | None:
        with self._lock:
            return self.turns.pop() if self.turns else None

    def clear(self) -> None:
        with self._lock:
            self.turns.clear()
        self.warm()

    def close(self) -> None:
        self.cancel()

        def shutdown() -> None:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

        self._executor.submit(shutdown)
        self._executor.shutdown(wait=True)


def collect_text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))
