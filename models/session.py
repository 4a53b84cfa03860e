"""A pane's model session: one engine, one worker thread, one conversation.

Everything that touches the engine (load, render, generate, close) runs on the session's own
thread, so a llama.cpp model is never shared between threads and two panes really run at once.
Callers get events through a callback that is invoked on that worker thread. Scoring for the
token-shift lens runs there too, like an answer (the job itself is models/scoring.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import nullcontext
from dataclasses import dataclass, field

from models.amplify.trace import AmplifyTrace
from models.engines import make_engine
from models.engines.base import Engine, RenderedPrompt
from models.errors import Cancelled, DuetError
from models.events import Event, Finished, Metrics, Notice
from models.files.info import ModelInfo
from models.lens.request import ScoreRequest
from models.lens.shift import ShiftResult
from models.prompts import Exchange, get_mode
from models.scoring import score_on_worker
from models.settings import AdapterSpec, AmplifySpec, ModelSpec, SamplingSettings
from models.threads import CPU_BUDGET, Lease
from models.worker import SerialWorker

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

    def wait_until_none(self, timeout: float, cancel: threading.Event | None = None) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._count and not (cancel is not None and cancel.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(min(remaining, 0.05))  # Esc is heard within 50 ms


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
    # The generated token ids whose bytes spell `text` exactly (Finished.token_ids), kept in the
    # history too, so the token-shift lens of a reopened conversation is the same; None: not known.
    token_ids: tuple[int, ...] | None = None
    adapters: tuple[AdapterSpec, ...] = ()  # the LoRA adapters and scales this answer was made with
    amplify: AmplifySpec | None = None  # an amplified pane's base model and factor a for this answer
    amplified: AmplifyTrace | None = None  # and what fine-tuning pushed in it (models/amplify/trace.py)

    @property
    def stopped(self) -> bool:
        return self.metrics.stop_reason == "cancelled"


class PaneSession:
    """The one owner of a pane's state: its model spec, prompt mode, sampling, loaded model info or
    load error, and the turns of its conversation. The screen renders what is here."""

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
        self._next_engine: Engine = engine_factory(spec)  # built now (no I/O), loaded on the worker
        self._engine: Engine | None = None  # the loaded one
        # The loaded model's vocabulary, asked once per load (see vocabulary()): (load count, future)
        self._loads = 0
        self._vocabulary: tuple[int, Future] | None = None
        self._executor = SerialWorker(f"duet-{role}")  # a thread per job: models/worker.py says why
        self._cancel = threading.Event()
        self._warm_cancel = threading.Event()  # the latest warm job's (Esc stops warming too)
        self._closed = False
        self._lock = threading.Lock()
        self.loading: Future | None = None
        self.warming: Future | None = None

    # -- model ---------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return self.spec.source

    @property
    def uses_local_cores(self) -> bool:
        """Whether answers compute on this machine's cores (see Engine.uses_local_cores)."""
        return self._next_engine.uses_local_cores

    def load(self) -> Future:
        """Load (or reload) the model on the worker thread; the future gives ModelInfo or raises.

        The prompt template is warmed right after, as a job of its own, so the pane reports ready
        without waiting for it.
        """
        self.info, self.load_error = None, None  # at once: the pane shows "loading" from now on
        self.loading = self._executor.submit(self._load, self._next_engine)
        self.warm()
        return self.loading

    def switch_model(self, spec: ModelSpec) -> Future:
        self.spec = spec
        self._next_engine = self._engine_factory(spec)
        return self.load()

    @property
    def ready(self) -> bool:
        return self._engine is not None

    def warm(self) -> Future:
        """Evaluate the current mode's prompt prefix ahead of the next message (Engine.warm).

        The future gives the number of tokens evaluated (0 when nothing needed it or it failed).
        A warm still waiting for the worker is dropped: it was for an older mode or conversation."""
        self._warm_cancel.set()
        self._warm_cancel = cancel = threading.Event()
        try:
            self.warming = self._executor.submit(self._warm, cancel)
        except RuntimeError:  # the session is closed
            self.warming = Future()
            self.warming.set_result(0)
        return self.warming

    def _warm(self, cancel: threading.Event) -> int:
        engine = self._engine
        if engine is None or cancel.is_set():
            return 0
        LOADS_IN_FLIGHT.wait_until_none(timeout=30, cancel=cancel)
        try:
            with self._claim_cores() as lease:
                return engine.warm(get_mode(self.mode), lease, cancel)
        except Exception:  # only a head start: the next message evaluates the prompt in full anyway
            return 0

    def _claim_cores(self):
        if self._engine is not None and self._engine.uses_local_cores:
            return CPU_BUDGET.generating(self.spec.n_threads)
        return nullcontext(None)

    def set_adapters(self, adapters: tuple[AdapterSpec, ...]) -> Future:
        """Apply these LoRA adapters (new files loaded, scales changed) without reloading the model,
        on the worker, after any answer in progress; the next answer uses them. The future gives
        the seconds the change took (the cache is forgotten; the prefix is warmed again after, as
        its own job) or raises DuetError, and the pane keeps its previous adapters."""

        def change() -> float:
            engine = self._engine
            if engine is None:
                raise DuetError(self.load_error or f"the {self.role} pane's model is not loaded yet")
            started = time.perf_counter()
            engine.set_adapters(tuple(adapters))
            self.spec = self.spec.model_copy(update={"adapters": tuple(adapters)})
            return time.perf_counter() - started

        changed = self._executor.submit(change)
        changed.add_done_callback(lambda done: self.warm() if done.exception() is None else None)
        return changed

    def set_amplification(self, factor: float) -> Future:
        """An amplified pane's factor a from the next answer on, on the worker after any answer in
        progress (no reload, no re-warm: the caches stay valid). The future gives None or raises
        DuetError (not an amplified pane, a factor out of range)."""

        def change() -> None:
            engine = self._engine
            if engine is None:
                raise DuetError(self.load_error or f"the {self.role} pane's models are not loaded yet")
            engine.set_amplification(factor)
            if self.spec.amplify is not None:
                self.spec = self.spec.model_copy(
                    update={"amplify": self.spec.amplify.model_copy(update={"factor": factor})}
                )

        return self._executor.submit(change)

    def set_mode(self, mode: str) -> None:
        get_mode(mode)
        self.mode = mode
        self.warm()

    def _load(self, engine: Engine) -> ModelInfo:
        if self._closed:  # queued behind a job that was still running when the session closed
            raise DuetError(f"the {self.role} pane was closed before its model loaded")
        with LOADS_IN_FLIGHT:
            with self._lock:
                self._loads += 1  # a vocabulary asked before this load was the old model's
            if self._engine is not None:
                self._engine.close()
                self._engine = None
            try:
                if engine.spec.adapters and not engine.can_adapt:
                    raise DuetError(
                        f"{engine.spec.source} is a server: LoRA adapters go on a local GGUF model only; "
                        f"remove the {self.role} pane's adapters (--{self.role}-lora)"
                    )
                info = engine.load()
            except DuetError as err:
                self.load_error = str(err)
                raise
            except Exception as err:  # never let an unexpected loader failure escape as a traceback
                self.load_error = f"could not load {engine.spec.source}: {err}"
                raise DuetError(self.load_error) from None
            self._engine, self.info = engine, info
            return info

    # -- conversation ------------------------------------------------------------------------
    def context(self) -> list[Exchange]:
        """Earlier exchanges that chat mode sends (failed turns are not part of the conversation)."""
        return [Exchange(t.prompt, t.text) for t in self.turns if t.error is None]

    @property
    def last_turn(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def last_answer(self) -> str | None:
        """The text of the latest turn that has any (what Copy copies)."""
        return next((t.text for t in reversed(self.turns) if t.text), None)

    def restore(self, turns: list[Turn]) -> None:
        """Start over from saved turns (a reopened conversation continues from them)."""
        with self._lock:
            self.turns = list(turns)
        self.warm()

    def send(self, text: str, on_event: EventSink | None = None, sampling: SamplingSettings | None = None) -> Future:
        """Answer ``text`` on the worker thread; the future gives the finished Turn.

        ``sampling`` overrides the pane's settings for this turn only (presets use it).
        """
        self._cancel = cancel = threading.Event()
        turn = Turn(prompt=text, mode=self.mode, sampling=sampling or self.sampling)
        # Claimed now, on the caller's thread, so panes sent the same message split the cores
        # from their first token on.
        lease = CPU_BUDGET.acquire(self.spec.n_threads) if self.uses_local_cores else None
        return self._executor.submit(self._answer, turn, cancel, on_event or (lambda event: None), lease)

    def _answer(self, turn: Turn, cancel: threading.Event, on_event: EventSink, lease: Lease | None) -> Turn:
        try:
            return self._answer_with(turn, cancel, on_event, lease)
        finally:
            if lease is not None:
                CPU_BUDGET.release(lease)

    def _answer_with(self, turn: Turn, cancel: threading.Event, on_event: EventSink, lease: Lease | None) -> Turn:
        context = self.context()
        turn.adapters, turn.amplify = self.spec.adapters, self.spec.amplify
        try:
            if self._engine is None:
                raise DuetError(self.load_error or "the model is not loaded")
            turn.rendered = self._engine.render(get_mode(turn.mode), turn.prompt, context, turn.sampling, cancel)
            for event in self._engine.stream(turn.rendered, turn.sampling, cancel, lease):
                if isinstance(event, Finished):
                    turn.text, turn.metrics, turn.error = event.text, event.metrics, event.error
                    turn.token_ids, turn.amplified = event.token_ids, event.amplified
                elif isinstance(event, Notice):
                    turn.notices.append(event.message)
                on_event(event)
        except Cancelled:  # Esc while the prompt was being rendered: a stopped turn, no error
            turn.metrics = Metrics(stop_reason="cancelled")
            on_event(Finished(turn.text, turn.metrics))
        except DuetError as err:
            turn.error = str(err)
            turn.metrics = Metrics(stop_reason="error")
            on_event(Finished(turn.text, turn.metrics, turn.error))
        turn.finished_at = time.time()
        with self._lock:
            self.turns.append(turn)
        if get_mode(turn.mode).fixed_prefix:
            self.warm()  # the saved prefix copied back (milliseconds) while the answer is read
        return turn

    def render_preview(self, text: str) -> Future:
        """What would be sent for ``text`` now (for the prompt inspector), without generating."""

        def run() -> RenderedPrompt:
            if self._engine is None:
                raise DuetError(self.load_error or "the model is not loaded")
            return self._engine.render(get_mode(self.mode), text, self.context(), self.sampling)

        return self._executor.submit(run)

    # -- the token-shift lens ---------------------------------------------------------------
    def vocabulary(self) -> Future:
        """This pane's model's Vocabulary (None when not loaded, or a server), from the worker.

        One job per load, its future handed to every later caller: a second job would queue behind
        whatever the worker runs then. `duet ask --shift` scores both panes at once, and the base
        pane's scoring waits for the chat pane's vocabulary; asked anew, that job waited behind the
        chat pane's own scoring, so the two scorings ran one after the other (3.6 s, not 1.5 s)."""
        with self._lock:
            cached = self._vocabulary
            if cached is not None and cached[0] == self._loads and not _failed(cached[1]):
                return cached[1]
            loads = self._loads
            future = self._executor.submit(lambda: self._engine.vocabulary() if self._engine is not None else None)
            self._vocabulary = (loads, future)
            return future

    def score(self, request: ScoreRequest, answer_vocabulary: Future | None = None) -> Future:
        """Score another answer (or this pane's own) with this pane's model, on this pane's worker;
        the future gives a ShiftResult or raises DuetError (ScoreCancelled after ``cancel()``).

        ``answer_vocabulary``: the answering pane's ``vocabulary()`` future, waited for on the
        worker (ask for it before calling this, so two panes scoring each other never wait in a
        circle). The engine leaves the pane's cache as it found it (the next answer is the same as
        without scoring), so there is nothing to warm again.
        """
        self._cancel = cancel = threading.Event()
        return self._executor.submit(self._score, request, answer_vocabulary, cancel)

    def _score(self, request: ScoreRequest, answer_vocabulary: Future | None, cancel: threading.Event) -> ShiftResult:
        return score_on_worker(
            self._engine, self.spec.source, self.load_error, request, answer_vocabulary, cancel, self._claim_cores
        )

    def cancel(self) -> None:
        """Stop the answer or scoring run in progress; the engine notices before its next token
        (or, scoring, its next chunk of positions); a decode or template render in progress stops
        at once (Engine: Esc). Warming stops too: it is only a head start."""
        self._cancel.set()
        self._warm_cancel.set()

    def pop_last_turn(self) -> Turn | None:
        with self._lock:
            return self.turns.pop() if self.turns else None

    def clear(self) -> None:
        with self._lock:
            self.turns.clear()
        self.warm()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the worker's job (as Esc does) and release the engine on the worker; wait at most
        ``timeout`` seconds for that (None: as long as it takes). False when the worker is still
        busy then: inside a model load, which llama.cpp cannot interrupt. That load is abandoned,
        and `abandoned_workers()` tells the command to exit without waiting for it."""
        self._closed = True
        self.cancel()

        def shutdown() -> None:
            if self._engine is not None:
                self._engine.close()
                self._engine = None

        try:
            released = self._executor.submit(shutdown)
        except RuntimeError:  # closed already
            return True
        self._executor.shutdown(wait=False)
        try:
            released.result(timeout)
        except FutureTimeout:
            _ABANDONED.append(f"the {self.role} pane's {self.spec.source}")
            return False
        return True


_ABANDONED: list[str] = []
# How long a command at its end (or the app at quit) waits for its panes' workers to stop: every
# job but a load stops within half a second of Esc.
CLOSE_TIMEOUT_S = 1.0


def abandoned_workers() -> list[str]:
    """The panes closed while their worker was still busy (in a load, most likely): Python would wait
    for those threads at exit, so a command that finds any ends with os._exit once its output is
    written and the terminal restored."""
    return list(_ABANDONED)


def close_sessions(sessions, timeout: float) -> bool:
    """Close every session within ``timeout`` seconds in all (they all stop at once); False when a
    worker was left behind (see abandoned_workers)."""
    sessions = list(sessions)
    for session in sessions:
        session.cancel()
    deadline = time.monotonic() + timeout
    return all([session.close(max(0.0, deadline - time.monotonic())) for session in sessions])


def _failed(future: Future) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
