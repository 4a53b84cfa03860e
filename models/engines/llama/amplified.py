"""The amplified pane's engine: a tuned and a base llama.cpp model in lockstep, decoding from
``tuned + a * (tuned - base)`` (models/amplify/).

The tuned side is a LlamaEngine: its load (adapters, chat template, GPU placement), its render
(both models get the tuned model's rendered prompt) and its vocabulary are the pane's. The base
side is a second context on the same model when the pair is a model and the same model with a
LoRA (lockstep.py), else a LlamaEngine of its own. Every step evaluates the chosen token in both
contexts (lockstep.ContextPair), combines the two logits rows (mix.combine), applies the pane's
sampling to the result (sampling.Sampler), and records what fine-tuning changed at that step
(mix.push_of); the answer's Finished carries it (trace.AmplifyTrace).

Like the llama engine: stop strings and end-of-generation tokens end an answer the same way (its
_Answer), Esc stops a decode in either context (the abort switch) and is checked every token,
and the pane's share of the cores (models/threads.py) is re-read between tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager

from models.amplify.mix import StepPush, combine, push_of
from models.amplify.pairing import base_name, base_spec, check_pair, check_vocabularies, shares_file, tuned_spec
from models.amplify.sampling import Sampler
from models.amplify.trace import build_trace
from models.engines.base import AnswerClock, Engine, RenderedPrompt
from models.engines.llama import runtime
from models.engines.llama.abort import AbortSwitch, DecodeAborted
from models.engines.llama.engine import LlamaEngine, _Answer
from models.engines.llama.lockstep import ContextPair, Side, free_context, second_context
from models.engines.llama.vocabulary import token_piece, token_pieces
from models.errors import DuetError
from models.events import Event, Finished, Notice, StopReason
from models.files.info import ModelInfo
from models.lens.grouping import piece_text
from models.lens.vocabulary import Vocabulary
from models.prompts import Exchange, PromptMode
from models.settings import AMPLIFY_MAX, AMPLIFY_MIN, AdapterSpec, SamplingSettings, default_threads_per_model
from models.threads import Lease, cores_for

_FIRST_BASE_CONTEXT = 512  # tokens; at least llama-cpp-python's n_batch, so one chunk fits


class AmplifiedEngine(Engine):
    uses_local_cores = True
    can_adapt = True  # the tuned side's adapters (ctrl+t / ctrl+g on this pane change their scale)
    can_amplify = True

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self._tuned = LlamaEngine(tuned_spec(spec))
        self._base: LlamaEngine | None = None  # a model of its own (not the same file)
        self._own_ctx = None  # or a second context on the tuned model
        self._own_size = 0  # the tokens that second context holds at most (it grows: _make_room)
        self._pair: ContextPair | None = None
        self._cached: list[int] = []  # the tokens both contexts hold now, in order
        self._threads: int | None = None
        self._warned = 0

    @property
    def factor(self) -> float:
        return self.spec.amplify.factor if self.spec.amplify is not None else 0.0

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        check_pair(self.spec)  # a server on either side, or two identical sides
        info = self._tuned.load()
        try:
            self._pair = self._open_base()
            base_vocab = self._base.vocabulary() if self._base is not None else self._tuned.vocabulary()
            check_vocabularies(info.label, base_name(self.spec), self._tuned.vocabulary(), base_vocab)
        except Exception:
            self.close()
            raise
        self._threads = self.spec.n_threads or default_threads_per_model()
        self.info = info
        return info

    def _open_base(self) -> ContextPair:
        llama = self._tuned._require()
        lib = runtime.llama_cpp()
        tuned = Side("tuned", llama.ctx, _switch(self._tuned))
        if shares_file(self.spec):
            self._own_size = min(llama.n_ctx(), _FIRST_BASE_CONTEXT)
            self._own_ctx = second_context(llama, self._own_size)
            base = Side("base", self._own_ctx, AbortSwitch(lib, self._own_ctx))
        else:
            self._base = LlamaEngine(base_spec(self.spec))
            self._base.load()
            other = self._base._require()
            base = Side("base", other.ctx, _switch(self._base))
        return ContextPair(tuned, base, llama.n_batch, llama.n_vocab())

    def set_adapters(self, adapters: tuple[AdapterSpec, ...]) -> None:
        """The tuned side's adapters; both caches are forgotten (the tuned side's keys changed)."""
        self._tuned.set_adapters(adapters)
        self._forget()
        self.spec = self.spec.model_copy(update={"adapters": tuple(adapters)})
        if self.info is not None and self._tuned.info is not None:
            self.info.adapters = self._tuned.info.adapters

    def set_amplification(self, factor: float) -> None:
        if not AMPLIFY_MIN <= factor <= AMPLIFY_MAX:
            raise DuetError(f"the amplification {factor:g} is outside {AMPLIFY_MIN:g} to {AMPLIFY_MAX:g}")
        amplify = self.spec.amplify
        if amplify is not None:  # the caches stay: a changes how the rows combine, not the rows
            self.spec = self.spec.model_copy(update={"amplify": amplify.model_copy(update={"factor": factor})})

    def vocabulary(self) -> Vocabulary:
        return self._tuned.vocabulary()

    def render(
        self,
        mode: PromptMode,
        text: str,
        context: Sequence[Exchange],
        sampling: SamplingSettings,
        cancel: threading.Event | None = None,
    ) -> RenderedPrompt:
        return self._tuned.render(mode, text, context, sampling, cancel)

    # -- cores -----------------------------------------------------------------------------------
    def _cores(self, lease: Lease | None) -> AbstractContextManager[Lease]:
        """The caller's share of the cores, or one claimed here for a caller that gave none."""
        return cores_for(lease, self.spec.n_threads)

    def _apply_threads(self, lease: Lease) -> None:
        threads = lease.threads_if_changed()
        if threads is not None and threads != self._threads and self._pair is not None:
            self._pair.set_threads(threads)
            self._threads = threads

    def _require_pair(self) -> ContextPair:
        if self._pair is None:
            raise DuetError("the models are not loaded yet; wait for them to finish loading")
        return self._pair

    # -- warming ---------------------------------------------------------------------------------
    def warm(self, mode: PromptMode, lease: Lease | None = None, cancel: threading.Event | None = None) -> int:
        """The tuned model's prompt prefix, evaluated in both contexts (as the llama engine warms)."""
        pair = self._require_pair()
        cancel = cancel or threading.Event()
        prefix = self._tuned._warm_prefix(mode, cancel)
        if not prefix or self._cached == prefix:
            return 0
        with self._cores(lease) as cores, pair.abort_on(cancel):
            self._apply_threads(cores)
            self._forget()
            try:
                self._make_room(len(prefix), cancel)
                pair.evaluate(prefix, 0, cancel)
            except DecodeAborted:
                self._forget()
                raise
            self._cached = list(prefix)
        return len(prefix)

    def _make_room(self, needed: int, cancel: threading.Event) -> None:
        """Give the second context (the base side of a model and its LoRA) room for ``needed``
        tokens. It opens at 512 and doubles up to the tuned context's size, so its KV cache (23 KB
        a token on SmolLM2, beside one pane's 45 MiB at 2048) grows with the conversation instead
        of being paid in full at load: figure 15. A bigger context replaces it, and the tokens
        both sides hold are evaluated again in it (in Llama.eval's chunks)."""
        if self._own_ctx is None or needed <= self._own_size:
            return
        pair, llama = self._require_pair(), self._tuned._require()
        size = min(llama.n_ctx(), max(needed, 2 * self._own_size))
        grown = second_context(llama, size)
        old, self._own_ctx, self._own_size = self._own_ctx, grown, size
        try:
            pair.replace_base(grown, self._cached, self._threads, cancel)
        finally:
            free_context(old)

    def _forget(self) -> None:
        if self._pair is not None:
            self._pair.clear()
        self._cached = []

    def _prefill(self, tokens: Sequence[int], cancel: threading.Event) -> None:
        """Evaluate what of the prompt the caches do not hold yet, as Llama.generate does: the
        longest cached prefix is kept (less one token when it is the whole prompt, which is
        decoded again for its logits), the rest evaluated in Llama.eval's chunks. A sliding-window
        model keeps its cache only when the prompt extends all of it (engine.py says why)."""
        pair = self._require_pair()
        tokens = list(tokens)
        cached = self._cached
        sliding = self.info is not None and self.info.sliding_window
        if sliding and (len(cached) > len(tokens) or tokens[: len(cached)] != cached):
            cached = []
        keep = 0
        while keep < min(len(cached), len(tokens)) and cached[keep] == tokens[keep]:
            keep += 1
        if keep == len(tokens):
            keep -= 1
        if keep <= 0 or not pair.keep(keep):
            self._forget()
            keep = 0
        self._cached = tokens[:keep]
        self._make_room(len(tokens), cancel)
        pair.evaluate(tokens[keep:], keep, cancel)
        self._cached = tokens

    # -- generation --------------------------------------------------------------------------------
    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease | None = None
    ) -> Iterator[Event]:
        pair = self._require_pair()
        yield from self._notices(prompt)
        answer = _Answer(tuple(s for s in (*sampling.stop, *prompt.stop) if s))
        clock = AnswerClock()
        steps: list[StepPush] = []
        generated: list[int] = []
        with self._cores(lease) as cores:
            self._apply_threads(cores)
            try:
                with pair.abort_on(cancel):
                    stop_reason = yield from self._generate(
                        prompt, sampling, cancel, cores, answer, clock, steps, generated
                    )
            except DecodeAborted:
                stop_reason = "cancelled"
                self._forget()  # a decode stopped half way: neither cache is known any more
            except Exception as err:  # llama.cpp failures end the turn, never the pane
                self._forget()
                yield from answer.finish(decode_rest=True)
                metrics = clock.metrics(answer.tokens, "error", prompt.token_count)
                yield Finished(answer.text, metrics, f"generation failed: {err}", answer.token_ids())
                return
        yield from answer.finish(decode_rest=stop_reason != "stop")
        metrics = clock.metrics(answer.tokens, stop_reason, prompt.token_count)
        kept = answer.token_ids()
        trace = build_trace(self.factor, self._names(), kept if kept is not None else generated, steps, self._texts)
        yield Finished(answer.text, metrics, token_ids=kept, amplified=trace)

    def _notices(self, prompt: RenderedPrompt) -> Iterator[Notice]:
        if prompt.dropped_turns:
            yield Notice(f"dropped the {prompt.dropped_turns} oldest exchange(s) so the conversation fits the context")
        warnings = self.info.warnings if self.info is not None else []
        if len(warnings) > self._warned:  # shown once, in the next answer
            yield from (Notice(warning) for warning in warnings[self._warned :])
            self._warned = len(warnings)

    def _generate(
        self,
        prompt: RenderedPrompt,
        sampling: SamplingSettings,
        cancel: threading.Event,
        lease: Lease,
        answer: _Answer,
        clock: AnswerClock,
        steps: list[StepPush],
        generated: list[int],
    ) -> Generator[Event, None, StopReason]:
        """The lockstep token loop; its return value is the stop reason."""
        pair = self._require_pair()
        llama = self._tuned._require()
        is_eog = runtime.llama_cpp().llama_vocab_is_eog
        vocab = llama._model.vocab
        n_ctx, factor, sampler = llama.n_ctx(), self.factor, Sampler(sampling)
        self._prefill(prompt.tokens, cancel)
        while True:
            if cancel.is_set():
                return "cancelled"
            tuned_row, base_row = pair.rows()
            token = sampler.choose(combine(tuned_row, base_row, factor), generated)
            now = clock.tick()
            if is_eog(vocab, token):
                return "eos"
            steps.append(push_of(tuned_row, base_row, token))
            generated.append(token)
            clock.last = now
            if answer.add(token, token_piece(llama, token)):
                return "stop"
            yield from answer.flush((clock, now))
            if answer.tokens >= sampling.max_tokens or len(self._cached) >= n_ctx:
                return "length"
            self._apply_threads(lease)  # the next decode runs with the new share
            self._make_room(len(self._cached) + 1, cancel)
            pair.step(token, len(self._cached), cancel)
            self._cached.append(token)

    def _names(self) -> tuple[str, str]:
        tuned = self.info.label if self.info is not None else self.spec.source
        return tuned, base_name(self.spec)

    def _texts(self, ids: Sequence[int]) -> list[str]:
        return [piece_text(piece) for piece in token_pieces(self._tuned._require(), list(ids))]

    def close(self) -> None:
        if self._pair is not None:
            self._pair.free()
            self._pair = None
        if self._own_ctx is not None:
            free_context(self._own_ctx)  # before the model it was opened on
            self._own_ctx, self._own_size = None, 0
        if self._base is not None:
            self._base.close()
            self._base = None
        self._tuned.close()
        self._cached = []


def _switch(engine: LlamaEngine) -> AbortSwitch:
    """A loaded llama engine's abort switch (set on its context at load)."""
    if engine._abort is None:
        raise DuetError("the model is not loaded yet; wait for it to finish loading")
    return engine._abort
