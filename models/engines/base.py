"""The one contract every engine offers a pane, and the arithmetic all engines share.

An engine turns a pane's prompt into a stream of events. There are two today, llama.cpp in this
process (`models.engines.llama`) and an OpenAI-compatible server (`models.engines.openai`); a
pane differs from another only by its settings, never by a code path. In the style of Harlequin's
adapters, everything a session may ask of an engine is declared here: four required methods, and
optional capabilities as documented attributes and methods whose defaults are a correct answer
for an engine that lacks the capability. A session never reaches past this class (no getattr, no
extra keywords that only one engine takes).

Threading: an engine is owned by one `PaneSession` and only ever called from that session's worker
thread, so a llama.cpp model is never shared between threads.

Scoring (the token-shift lens, models/lens/): an engine with ``can_score`` evaluates a given
answer after a context and ranks every answer token in its own distribution (`score`), on the
pane's worker like an answer, cancellable by the same kind of ``cancel`` event; `vocabulary` tells
whether another model's token ids mean the same to it. An engine without it (a server, which does
not return log-probabilities for a given text) raises one DuetError line instead.

LoRA adapters (``can_adapt``): part of the model spec, applied in `load`, and changed between turns
with `set_adapters` (a new scale, or other files) without reloading the model. GPU placement is
decided before `load`, for all panes together (models/placement/), carried in the spec
(``ModelSpec.gpu_plan``) and reported in `ModelInfo` as llama.cpp placed it.

Esc: every call that can take long (render, stream, warm, score) receives the pane's ``cancel``
event and ends soon after it is set (Duet promises half a second): ``stream`` with stop reason
"cancelled", the others by raising ``models.errors.Cancelled`` (ScoreCancelled for score). The
llama engine also aborts a native decode between two graph nodes (``LlamaEngine.abort_on``).
``load`` is the one exception: llama.cpp cannot stop a load, so a session abandons it instead.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from models.errors import DuetError
from models.events import Event, Metrics, StopReason
from models.files.info import ModelInfo
from models.lens.request import ScoreRequest
from models.lens.shift import ShiftResult
from models.lens.vocabulary import Vocabulary
from models.prompts import Exchange, PromptMode
from models.settings import AdapterSpec, ModelSpec, SamplingSettings
from models.threads import Lease

if TYPE_CHECKING:  # an annotation only: aligned mode's pydantic models load when it first renders
    from models.aligned.prompt_file import PromptFileRef


@dataclass(frozen=True)
class RenderedPrompt:
    """Exactly what a pane sends to its model for one turn."""

    mode: str
    text: str
    token_count: int
    context_used: int  # earlier exchanges included (chat mode)
    dropped_turns: int  # earlier exchanges left out so the prompt fits the context
    tokens: tuple[int, ...] = ()
    add_bos: bool = True
    stop: tuple[str, ...] = ()
    token_count_estimated: bool = False  # a server that cannot tokenize: token_count is a guess
    prompt_file: PromptFileRef | None = None  # aligned mode: which prompt file (and its hash) it used


class Engine(ABC):
    """One model behind one pane. Subclasses implement load, render, stream and close."""

    #: Whether this engine computes on this machine's cores. A session then claims a share of
    #: them (a `Lease` from models/threads.py) for every stream and warm call and passes it in,
    #: claimed on the caller's thread, so panes sent the same message split the cores from their
    #: first token on. A server's work happens elsewhere: it gets None.
    uses_local_cores: ClassVar[bool] = False

    #: Whether `score` works: the engine can evaluate a given text after a context and read its
    #: logits at every position. Without it `score` raises DuetError with one line saying why.
    can_score: ClassVar[bool] = False

    #: Whether LoRA adapters (``ModelSpec.adapters``) can be applied: `load` applies the spec's,
    #: and `set_adapters` changes them between turns without a reload. A session refuses to load
    #: a spec with adapters on an engine without it.
    can_adapt: ClassVar[bool] = False

    #: Whether this is an amplified pane (models/amplify/, engines/llama/amplified.py): two models
    #: decoded in lockstep from ``tuned + a * (tuned - base)``; `set_amplification` changes a
    #: between answers, and its Finished events carry what fine-tuning pushed (``amplified``).
    can_amplify: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.info: ModelInfo | None = None  # set by load()

    @abstractmethod
    def load(self) -> ModelInfo:
        """Open the model (the slow part: a file mapped, a server asked); DuetError when it cannot."""

    @abstractmethod
    def render(
        self,
        mode: PromptMode,
        text: str,
        context: Sequence[Exchange],
        sampling: SamplingSettings,
        cancel: threading.Event | None = None,
    ) -> RenderedPrompt:
        """What ``mode`` sends for ``text`` after the earlier exchanges ``context``, with its token
        count; the oldest exchanges are left out when they do not fit (dropped_turns says how many).
        A model's chat template is bounded in time, memory and output (a DuetError line when it
        exceeds them); Cancelled when ``cancel`` is set while it renders."""

    @abstractmethod
    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease | None = None
    ) -> Iterator[Event]:
        """Generate: TextDelta and Notice events, then exactly one Finished (errors included).

        ``cancel`` is checked at least once per token; a set flag ends the answer with stop reason
        "cancelled" and the partial text. ``lease`` is the share of the cores (None for engines that
        do not use local cores, or a caller that lets the engine claim one itself).
        """

    def warm(self, mode: PromptMode, lease: Lease | None = None, cancel: threading.Event | None = None) -> int:
        """The cached prompt prefix: evaluate now what ``mode`` puts before any user text, so the next
        message starts after it. Returns the number of tokens evaluated (0: nothing to do, or this
        engine cannot cache). Answers must be the same as without warming. ``cancel``: as render."""
        return 0

    def score(self, request: ScoreRequest, cancel: threading.Event, lease: Lease | None = None) -> ShiftResult:
        """Score ``request.answer`` after ``request.prompt`` rendered in ``request.mode``: per answer
        token its rank, p, top alternatives and class (models/lens/shift.py has the definitions).

        Uses the answer's own ``token_ids`` when ``request.vocabulary`` is this model's and they
        spell the answer, else re-tokenizes the text (the result says so). ``cancel`` is checked
        between chunks of the evaluation (ScoreCancelled when set). Afterwards the next answer is
        token for token what it would have been without scoring.
        """
        if self.uses_local_cores:
            reason = "this pane's engine cannot score a text token by token"
        else:
            reason = "the server does not return log-probabilities for a given text"
        raise DuetError(f"cannot score with {self.spec.source}: {reason}")

    def set_adapters(self, adapters: tuple[AdapterSpec, ...]) -> None:
        """Apply exactly these adapters at these scales from the next answer on (files not loaded
        yet are loaded; scale 0 gives the model's own answers). The KV cache computed under the
        old scales is forgotten; the session warms the prompt prefix again. DuetError when an
        adapter cannot be applied (the previous ones stay)."""
        raise DuetError(f"cannot apply LoRA adapters to {self.spec.source}: only a local GGUF model takes them")

    def set_amplification(self, factor: float) -> None:
        """Decode from ``tuned + factor * (tuned - base)`` from the next answer on (no reload, and
        the KV caches stay valid: only how the two rows combine changes)."""
        raise DuetError(f"{self.spec.source} is not an amplified pane: start duet with --amplify A")

    def vocabulary(self) -> Vocabulary | None:
        """This model's vocabulary (size and a digest of its token texts), or None when the engine
        cannot tell (a server). Cached: cheap after the first call."""
        return None

    def close(self) -> None:
        """Release the model or connection; the engine is not used again."""


class AnswerClock:
    """Times one answer, the same way for every engine: request start, first token, last token.

    Time to first token counts from the request (prompt processing included); tokens per second is
    the decode speed from the first token to the last, so it leaves the prompt out.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None

    def tick(self) -> float:
        """A token (or chunk) arrived now; the first one fixes time to first token."""
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        return now

    @property
    def ttft_s(self) -> float:
        return (self.first - self.started) if self.first is not None else 0.0

    def rate(self, tokens: int, now: float) -> float:
        """Live tokens per second after ``tokens`` tokens, the last of them at ``now``."""
        first = self.first
        return (tokens - 1) / (now - first) if first is not None and tokens > 1 and now > first else 0.0

    def metrics(self, tokens: int, stop_reason: StopReason, prompt_tokens: int) -> Metrics:
        end = time.perf_counter()
        first, last = self.first, self.last
        decode_s = (last - first) if first is not None and last is not None else 0.0
        return Metrics(
            ttft_s=round((first - self.started) if first is not None else end - self.started, 4),
            tokens=tokens,
            tokens_per_s=round((tokens - 1) / decode_s, 2) if tokens > 1 and decode_s > 0 else 0.0,
            stop_reason=stop_reason,
            prompt_tokens=prompt_tokens,
            total_s=round(end - self.started, 4),
        )
