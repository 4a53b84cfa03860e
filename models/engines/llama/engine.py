"""The in-process engine: one llama.cpp model, driven token by token."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from models.engines.base import AnswerClock, Engine, RenderedPrompt
from models.engines.llama import runtime
from models.engines.llama.chat_templates import chat_renderer_for
from models.engines.llama.stops import find_stop, held_back
from models.errors import DuetError
from models.events import Event, Finished, Notice, StopReason, TextDelta
from models.files.gguf import read_header
from models.files.info import ModelInfo, model_info_from_header
from models.files.sources import resolve_source
from models.prompts import ChatRenderer, Exchange, PromptMode
from models.settings import DEFAULT_SEED, SamplingSettings, default_threads_per_model
from models.threads import CPU_BUDGET, Lease

if TYPE_CHECKING:
    from llama_cpp import Llama


class LlamaEngine(Engine):
    uses_local_cores = True  # draws on CPU_BUDGET while it computes (see models/threads.py)

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self._llama: Llama | None = None
        self._chat: ChatRenderer | None = None
        self._threads: int | None = None  # the thread count llama.cpp runs with now

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        resolved = resolve_source(self.spec.source)
        header = read_header(resolved.path)
        info = model_info_from_header(header, resolved.label)
        lib = runtime.llama_cpp()
        # llama.cpp pads the context to a multiple of 256; ask for that size up front so that
        # llama-cpp-python's token buffers and the real context agree.
        n_ctx = -(-self.spec.n_ctx // 256) * 256
        if info.context_length and info.context_length >= 256:
            n_ctx = min(n_ctx, info.context_length)
        n_threads = self.spec.n_threads or default_threads_per_model()
        runtime.clear_log()
        try:
            self._llama = lib.Llama(
                model_path=str(resolved.path),
                n_ctx=n_ctx,
                n_batch=min(512, n_ctx),
                n_gpu_layers=self.spec.n_gpu_layers,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=DEFAULT_SEED,
                logits_all=False,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as err:
            reason = runtime.recent_log_error() or str(err)
            raise DuetError(
                f"llama.cpp could not load {resolved.path} ({info.architecture}): {reason}; "
                "the file may be damaged or need a newer llama-cpp-python"
            ) from None
        supports_gpu = runtime.gpu_offload_supported()
        total_layers = (info.n_layers or 0) + 1
        requested = total_layers if self.spec.n_gpu_layers < 0 else self.spec.n_gpu_layers
        info.gpu_offload_supported = supports_gpu
        info.gpu_layers = min(requested, total_layers) if supports_gpu else 0
        info.n_ctx = self._llama.n_ctx()
        info.n_threads = self.spec.n_threads
        info.cpu_cores = CPU_BUDGET.cores
        self._threads = n_threads
        self._chat = chat_renderer_for(self._llama, info, self.spec.chat_format)
        self.info = info
        return info

    def _require(self) -> Llama:
        if self._llama is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        return self._llama

    # -- prompts -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._require().tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def render(
        self, mode: PromptMode, text: str, context: Sequence[Exchange], sampling: SamplingSettings
    ) -> RenderedPrompt:
        llama = self._require()
        n_ctx = llama.n_ctx()
        context = list(context)
        dropped = 0
        while True:
            built = mode.build(text, context, self._chat)
            tokens = self.tokenize(built.text, built.add_bos)
            fits = len(tokens) + sampling.max_tokens <= n_ctx
            if fits or not built.uses_context or not context:
                break
            context.pop(0)
            dropped += 1
        if len(tokens) >= n_ctx:
            raise DuetError(
                f"the prompt is {len(tokens)} tokens but the context holds {n_ctx}; "
                "shorten the prompt or load the model with a larger n_ctx"
            )
        return RenderedPrompt(
            mode=mode.name,
            text=built.text,
            token_count=len(tokens),
            context_used=len(context) if built.uses_context else 0,
            dropped_turns=dropped,
            tokens=tuple(tokens),
            add_bos=built.add_bos,
            stop=built.stop,
        )

    # -- cores ---------------------------------------------------------------------------------
    @contextmanager
    def _cores(self, lease: Lease | None) -> Iterator[Lease]:
        """The caller's share of the cores, or one claimed here for a caller that gave none."""
        if lease is not None:
            yield lease
            return
        with CPU_BUDGET.generating(self.spec.n_threads) as own:
            yield own

    def _apply_threads(self, lease: Lease) -> None:
        threads = lease.threads_if_changed()
        if threads is not None and threads != self._threads:
            self._require()._ctx.set_n_threads(threads, threads)
            self._threads = threads

    # -- generation ---------------------------------------------------------------------------
    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease | None = None
    ) -> Iterator[Event]:
        llama = self._require()
        if prompt.dropped_turns:
            yield Notice(
                f"dropped the {prompt.dropped_turns} oldest exchange(s) so the conversation fits "
                f"the {llama.n_ctx()}-token context"
            )
        answer = _Answer(tuple(s for s in (*sampling.stop, *prompt.stop) if s))
        clock = AnswerClock()
        llama.set_seed(sampling.seed)
        if self.info is not None and self.info.sliding_window:
            _keep_cache_only_if_extended(llama, prompt.tokens)
        # else llama-cpp-python keeps the longest cached prefix (a warmed system prompt, say).
        with self._cores(lease) as cores:
            self._apply_threads(cores)
            try:
                stop_reason = yield from self._generate(llama, prompt, sampling, cancel, cores, answer, clock)
            except Exception as err:  # llama.cpp failures must end the turn, never the pane
                yield from answer.finish(decode_rest=True)
                metrics = clock.metrics(answer.tokens, "error", prompt.token_count)
                yield Finished(answer.text, metrics, f"generation failed: {err}")
                return
        yield from answer.finish(decode_rest=stop_reason != "stop")
        yield Finished(answer.text, clock.metrics(answer.tokens, stop_reason, prompt.token_count))

    def _generate(
        self,
        llama: Llama,
        prompt: RenderedPrompt,
        sampling: SamplingSettings,
        cancel: threading.Event,
        lease: Lease,
        answer: _Answer,
        clock: AnswerClock,
    ) -> Generator[Event, None, StopReason]:
        """The token loop; its return value is the stop reason."""
        is_eog = runtime.llama_cpp().llama_vocab_is_eog
        vocab = llama._model.vocab
        n_ctx = llama.n_ctx()
        generator = llama.generate(
            list(prompt.tokens),
            temp=sampling.temperature,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            repeat_penalty=sampling.repeat_penalty,
            reset=True,
        )
        stop_reason: StopReason = "eos"  # the generator ran out
        try:
            for token in generator:
                if cancel.is_set():
                    stop_reason = "cancelled"
                    break
                self._apply_threads(lease)  # the next decode runs with the new share
                now = clock.tick()
                if is_eog(vocab, token):
                    stop_reason = "eos"
                    break
                clock.last = now
                if answer.add(llama.detokenize([token])):
                    stop_reason = "stop"
                    break
                yield from answer.flush((clock, now))
                if answer.tokens >= sampling.max_tokens or llama.n_tokens >= n_ctx:
                    stop_reason = "length"
                    break
        finally:
            generator.close()
        return stop_reason

    # -- warming -----------------------------------------------------------------------------
    def warm(self, mode: PromptMode, lease: Lease | None = None) -> int:
        """Evaluate now the part of ``mode``'s prompt that comes before the user's text.

        A chat template puts a system prompt and role headers first (24 tokens for SmolLM2 where
        "Hello" is 1), so reading them while the user is still typing takes most of the time to
        first token off the first message. Returns how many tokens were evaluated.
        """
        llama = self._require()
        if self.info is not None and self.info.sliding_window:
            # Evaluating the prompt in two parts changes Gemma 3's answers (measured): keep them
            # identical to a cold evaluation rather than faster.
            return 0
        probes = []
        for text in _WARM_PROBES:
            built = mode.build(text, [], self._chat)
            probes.append(self.tokenize(built.text, built.add_bos))
        prefix = _common_prefix(probes)
        if len(prefix) < 2:  # nothing ahead of the text but BOS: not worth a decode
            return 0
        if llama.n_tokens == len(prefix) and llama._input_ids[: len(prefix)].tolist() == prefix:
            return 0
        with self._cores(lease) as cores:
            self._apply_threads(cores)
            llama.reset()
            llama.eval(prefix)
        return len(prefix)

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None


class _Answer:
    """The text of one answer as it grows: bytes decoded to whole characters, stop strings cut off,
    and only what can no longer turn into a stop string streamed out."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""  # everything generated so far (a stop string is cut off when it appears)
        self.tokens = 0
        self._emitted = 0  # how much of `text` has been streamed out

    def add(self, piece: bytes) -> bool:
        """Append one token's bytes; True when a stop string ended the answer."""
        self.tokens += 1
        self.text += self._decoder.decode(piece)
        hit = find_stop(self.text, self.stops, self._emitted)
        if hit is None:
            return False
        self.text = self.text[:hit]
        return True

    def flush(self, live: tuple[AnswerClock, float]) -> Iterator[TextDelta]:
        """Stream out what can no longer become a stop string, with live progress for the status line."""
        safe = len(self.text) - held_back(self.text, self.stops)
        if safe > self._emitted:
            clock, now = live
            piece, self._emitted = self.text[self._emitted : safe], safe
            yield TextDelta(piece, self.tokens, clock.ttft_s, clock.rate(self.tokens, now))

    def finish(self, decode_rest: bool) -> Iterator[TextDelta]:
        """Stream out everything not shown yet; ``decode_rest`` also releases bytes of a character
        the answer ended inside of (not after a stop string, which cut the text already)."""
        if decode_rest:
            self.text += self._decoder.decode(b"", final=True)
        if len(self.text) > self._emitted:
            piece, self._emitted = self.text[self._emitted :], len(self.text)
            yield TextDelta(piece)


# Three unlike messages: whatever their prompts share is the template around the text.
_WARM_PROBES = ("Hello", "1", "? x")


def _common_prefix(token_lists: list[list[int]]) -> list[int]:
    prefix = token_lists[0]
    for tokens in token_lists[1:]:
        n = 0
        while n < min(len(prefix), len(tokens)) and prefix[n] == tokens[n]:
            n += 1
        prefix = prefix[:n]
    return list(prefix)


def _keep_cache_only_if_extended(llama: Llama, tokens: tuple[int, ...]) -> None:
    """For sliding-window models: reuse the KV cache only when the new prompt extends all of it.

    llama-cpp-python would otherwise trim the cache back to a shared prefix and re-decode the rest;
    on Gemma 3 (sliding-window attention) that gives different logits than a fresh evaluation, so
    the same prompt and seed could answer differently depending on what was asked before. A chat
    conversation, the case that matters for speed, is a pure extension and keeps its cache.
    """
    cached = llama.n_tokens
    if cached and (cached > len(tokens) or llama._input_ids[:cached].tolist() != list(tokens[:cached])):
        llama.reset()
