"""The in-process engine: one llama.cpp model, driven token by token."""

from __future__ import annotations

import codecs
import threading
import time
from typing import Iterator, Sequence

from . import llama_runtime
from .chat_templates import chat_renderer_for
from .engine import RenderedPrompt
from .errors import DuetError
from .events import Event, Finished, Metrics, Notice, TextDelta
from .gguf import read_header
from .info import ModelInfo, model_info_from_header
from .prompts import Exchange, PromptMode
from .settings import DEFAULT_SEED, ModelSpec, SamplingSettings, default_threads_per_model
from .sources import resolve_source
from .threads import CPU_BUDGET, Lease


class LlamaEngine:
    shares_cpu = True  # draws on CPU_BUDGET while generating (see models/threads.py)

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.info: ModelInfo | None = None
        self._llama = None
        self._chat = None
        self._threads: int | None = None

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        resolved = resolve_source(self.spec.source)
        header = read_header(resolved.path)
        info = model_info_from_header(header, resolved.label)
        lib = llama_runtime.llama_cpp()
        # llama.cpp pads the context to a multiple of 256; ask for that size up front so that
        # llama-cpp-python's token buffers and the real context agree.
        n_ctx = -(-self.spec.n_ctx // 256) * 256
        if info.context_length and info.context_length >= 256:
            n_ctx = min(n_ctx, info.context_length)
        n_threads = self.spec.n_threads or default_threads_per_model()
        llama_runtime.clear_log()
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
            reason = llama_runtime.recent_log_error() or str(err)
            raise DuetError(
                f"llama.cpp could not load {resolved.path} ({info.architecture}): {reason}; "
                "the file may be damaged or need a newer llama-cpp-python"
            ) from None
        supports_gpu = llama_runtime.gpu_offload_supported()
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

    def _require(self):
        if self._llama is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        return self._llama

    # -- prompts -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._require().tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def render(
        self, mode: PromptMode, text: str, history: Sequence[Exchange], sampling: SamplingSettings
    ) -> RenderedPrompt:
        llama = self._require()
        n_ctx = llama.n_ctx()
        history = list(history)
        dropped = 0
        while True:
            built = mode.build(text, history, self._chat)
            tokens = self.tokenize(built.text, built.add_bos)
            fits = len(tokens) + sampling.max_tokens <= n_ctx
            if fits or not built.uses_history or not history:
                break
            history.pop(0)
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
            history_used=len(history) if built.uses_history else 0,
            dropped_turns=dropped,
            tokens=tuple(tokens),
            add_bos=built.add_bos,
            stop=built.stop,
        )

    # -- generation ---------------------------------------------------------------------------
    def stream(
        self,
        prompt: RenderedPrompt,
        sampling: SamplingSettings,
        cancel: threading.Event,
        lease: Lease | None = None,
    ) -> Iterator[Event]:
        """Generate; ``lease`` is the pane's share of the cores, claimed here when not given."""
        if lease is not None:
            yield from self._stream(prompt, sampling, cancel, lease)
            return
        with CPU_BUDGET.generating(self.spec.n_threads) as own:
            yield from self._stream(prompt, sampling, cancel, own)

    def _apply_threads(self, lease: Lease) -> None:
        threads = lease.threads_if_changed()
        if threads is not None and threads != self._threads:
            self._llama._ctx.set_n_threads(threads, threads)
            self._threads = threads

    def _stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event, lease: Lease
    ) -> Iterator[Event]:
        llama = self._require()
        lib = llama_runtime.llama_cpp()
        vocab = llama._model.vocab
        n_ctx = llama.n_ctx()
        stops = tuple(s for s in (*sampling.stop, *prompt.stop) if s)
        if prompt.dropped_turns:
            yield Notice(
                f"dropped the {prompt.dropped_turns} oldest exchange(s) so the conversation fits "
                f"the {n_ctx}-token context"
            )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        text = ""  # everything generated, stop strings included
        emitted = 0  # how much of `text` has been streamed out
        tokens = 0
        stop_reason = "length"
        started = time.perf_counter()
        first = last = None
        llama.set_seed(sampling.seed)
        if self.info.sliding_window:
            _keep_cache_only_if_extended(llama, prompt.tokens)
        # else llama-cpp-python keeps the longest cached prefix (a warmed system prompt, say).
        self._apply_threads(lease)
        try:
            generator = llama.generate(
                list(prompt.tokens),
                temp=sampling.temperature,
                top_k=sampling.top_k,
                top_p=sampling.top_p,
                min_p=sampling.min_p,
                repeat_penalty=sampling.repeat_penalty,
                reset=True,
            )
            for token in generator:
                if cancel.is_set():
                    stop_reason = "cancelled"
                    break
                self._apply_threads(lease)  # the next decode runs with the new share
                now = time.perf_counter()
                if first is None:
                    first = now
                if lib.llama_vocab_is_eog(vocab, token):
                    stop_reason = "eos"
                    break
                last = now
                tokens += 1
                text += decoder.decode(llama.detokenize([token]))
                hit = _find_stop(text, stops, emitted)
                if hit is not None:
                    text = text[:hit]
                    stop_reason = "stop"
                    break
                safe = len(text) - _held_back(text, stops)
                if safe > emitted:
                    rate = (tokens - 1) / (now - first) if tokens > 1 and now > first else 0.0
                    yield TextDelta(text[emitted:safe], tokens, first - started, rate)
                    emitted = safe
                if tokens >= sampling.max_tokens or llama.n_tokens >= n_ctx:
                    stop_reason = "length"
                    break
            else:
                stop_reason = "eos"
            generator.close()
        except Exception as err:  # llama.cpp failures must end the turn, never the pane
            text += decoder.decode(b"", final=True)
            if len(text) > emitted:
                yield TextDelta(text[emitted:])
            yield Finished(text, _metrics(started, first, last, tokens, "error", prompt), f"generation failed: {err}")
            return
        if stop_reason != "stop":
            text += decoder.decode(b"", final=True)
        if len(text) > emitted:
            yield TextDelta(text[emitted:])
        yield Finished(text, _metrics(started, first, last, tokens, stop_reason, prompt))

    # -- warming -----------------------------------------------------------------------------
    def warm(self, mode: PromptMode) -> int:
        """Evaluate now the part of ``mode``'s prompt that comes before the user's text.

        A chat template puts a system prompt and role headers first (24 tokens for SmolLM2 where
        "Hello" is 1), so reading them while the user is still typing takes most of the time to
        first token off the first message. Returns how many tokens were evaluated.
        """
        llama = self._require()
        if self.info.sliding_window:
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
        with CPU_BUDGET.generating(self.spec.n_threads) as lease:
            self._apply_threads(lease)
            llama.reset()
            llama.eval(prefix)
        return len(prefix)

    def close(self) -> None:
        if self._llama is not None:
            self._llama.close()
            self._llama = None


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


def _keep_cache_only_if_extended(llama, tokens: tuple[int, ...]) -> None:
    """For sliding-window models: reuse the KV cache only when the new prompt extends all of it.

    llama-cpp-python would otherwise trim the cache back to a shared prefix and re-decode the rest;
    on Gemma 3 (sliding-window attention) that gives different logits than a fresh evaluation, so
    the same prompt and seed could answer differently depending on what was asked before. A chat
    conversation, the case that matters for speed, is a pure extension and keeps its cache.
    """
    cached = llama.n_tokens
    if cached and (cached > len(tokens) or llama._input_ids[:cached].tolist() != list(tokens[:cached])):
        llama.reset()


def _find_stop(text: str, stops: tuple[str, ...], emitted: int) -> int | None:
    """Index of the earliest stop string in the not-yet-emitted tail of ``text``."""
    if not stops:
        return None
    window_start = max(0, emitted - max(len(s) for s in stops))
    hits = [i for s in stops if (i := text.find(s, window_start)) != -1]
    return min(hits) if hits else None


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters could still become a stop string, so must not be shown yet."""
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


def _metrics(started, first, last, tokens: int, stop_reason: str, prompt: RenderedPrompt) -> Metrics:
    end = time.perf_counter()
    decode_s = (last - first) if first is not None and last is not None else 0.0
    return Metrics(
        ttft_s=round((first - started) if first is not None else end - started, 4),
        tokens=tokens,
        tokens_per_s=round((tokens - 1) / decode_s, 2) if tokens > 1 and decode_s > 0 else 0.0,
        stop_reason=stop_reason,
        prompt_tokens=prompt.token_count,
        total_s=round(end - started, 4),
    )
