"""The in-process engine: one llama.cpp model, driven token by token."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING

from models.engines.base import AnswerClock, Engine, RenderedPrompt
from models.engines.llama import kv_state, load_log, runtime, scoring
from models.engines.llama.abort import AbortSwitch, DecodeAborted
from models.engines.llama.adapters import LoadedAdapters
from models.engines.llama.chat_templates import TemplateRenderer, chat_renderer_for
from models.engines.llama.prefix_cache import PrefixCache
from models.engines.llama.prompt_row import PromptRow
from models.engines.llama.stops import find_stop, held_back
from models.engines.llama.vocabulary import model_vocabulary, token_piece
from models.errors import DuetError
from models.events import Event, Finished, Notice, StopReason, TextDelta
from models.files.gguf import read_header
from models.files.info import ModelInfo, model_info_from_header
from models.files.sources import resolve_source
from models.lens.grouping import group_characters
from models.lens.request import ScoreRequest
from models.lens.shift import ShiftResult
from models.lens.vocabulary import Vocabulary
from models.placement.costs import context_size
from models.placement.panes import layers_for_load
from models.placement.shape import shape_from_header
from models.prompts import ChatRenderer, Exchange, PromptMode, get_mode
from models.settings import DEFAULT_SEED, AdapterSpec, SamplingSettings, default_threads_per_model
from models.threads import CPU_BUDGET, Lease, cores_for

if TYPE_CHECKING:
    from llama_cpp import Llama


class LlamaEngine(Engine):
    uses_local_cores = True  # draws on CPU_BUDGET while it computes (see models/threads.py)
    can_score = True  # models/engines/llama/scoring.py
    can_adapt = True  # LoRA adapters: models/engines/llama/adapters.py

    def __init__(self, spec) -> None:
        super().__init__(spec)
        self._llama: Llama | None = None
        self._chat: TemplateRenderer | None = None
        self._abort: AbortSwitch | None = None  # Esc inside a decode (abort.py)
        self._threads: int | None = None  # the thread count llama.cpp runs with now
        self._vocabulary: Vocabulary | None = None
        self._gguf_vocabulary: tuple[int, str] | None = None  # from the file's header (GGUFHeader.vocabulary)
        self._adapters: LoadedAdapters | None = None
        self._warned = 0  # how many of info.warnings the answers have shown
        self._prefix = PrefixCache()  # a fixed-prefix mode's (aligned) saved prefix state
        self._probed: dict[tuple[str, ...], list[int]] = {}  # fixed-prefix modes' prefixes, by probe texts
        self._prompt_row = PromptRow()  # the last answer's prompt and the logits its first token came from

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> ModelInfo:
        resolved = resolve_source(self.spec.source)
        header = read_header(resolved.path)
        self._gguf_vocabulary = header.vocabulary
        info = model_info_from_header(header, resolved.label)
        lib = runtime.llama_cpp()
        # llama.cpp pads the context to a multiple of 256; ask for that size up front so that
        # llama-cpp-python's token buffers and the real context agree.
        n_ctx = context_size(self.spec.n_ctx, info.context_length)
        n_gpu_layers, gpu_plan = layers_for_load(self.spec, shape_from_header(header, resolved.label), n_ctx)
        n_threads = self.spec.n_threads or default_threads_per_model()
        runtime.clear_log()
        try:
            with load_log.capture() as report:  # where llama.cpp really put the layers
                self._llama = lib.Llama(
                    model_path=str(resolved.path),
                    n_ctx=n_ctx,
                    n_batch=min(512, n_ctx),
                    n_gpu_layers=n_gpu_layers,
                    op_offload=False if gpu_plan is not None and gpu_plan.layers == 0 else None,  # planned off the GPU
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
        info.gpu_offload_supported = runtime.gpu_offload_supported()
        info.gpu_layers = report.gpu_layers  # llama.cpp's word, not the request (0 on a CPU-only build)
        info.gpu_layers_requested, info.gpu_plan, info.buffers = n_gpu_layers, gpu_plan, list(report.buffers)
        info.n_ctx = self._llama.n_ctx()
        info.n_threads = self.spec.n_threads
        info.cpu_cores = CPU_BUDGET.cores
        self._threads = n_threads
        self._abort = AbortSwitch(lib, self._llama._ctx.ctx)
        self._attach_adapters(info)
        self._chat = chat_renderer_for(self._llama, info, self.spec.chat_format)
        self.info = info
        return info

    def _attach_adapters(self, info: ModelInfo) -> None:
        """The spec's LoRA adapters, loaded and applied; the model is closed again when one fails."""
        llama = self._require()
        self._adapters = LoadedAdapters(llama, info)
        try:
            self._adapters.apply(self.spec.adapters)
        except DuetError:
            self._adapters.free()
            self._adapters = None
            llama.close()
            self._llama = None
            raise
        info.adapters = self._adapters.infos(self.spec.adapters)
        info.warnings = [*info.warnings, *self._adapters.warnings]

    def set_adapters(self, adapters: tuple[AdapterSpec, ...]) -> None:
        llama = self._require()
        if self._adapters is None or self.info is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        known = len(self._adapters.warnings)
        self._adapters.apply(adapters)
        # Every cached key and value was computed under the old scales: none may be reused.
        kv_state.forget(llama)
        self._prefix.forget()
        self._prompt_row.forget()
        self.spec = self.spec.model_copy(update={"adapters": tuple(adapters)})
        self.info.adapters = self._adapters.infos(adapters)
        self.info.warnings = [*self.info.warnings, *self._adapters.warnings[known:]]

    def _require(self) -> Llama:
        if self._llama is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        return self._llama

    # -- prompts -------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self._require().tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def render(
        self,
        mode: PromptMode,
        text: str,
        context: Sequence[Exchange],
        sampling: SamplingSettings,
        cancel: threading.Event | None = None,
    ) -> RenderedPrompt:
        llama = self._require()
        n_ctx = llama.n_ctx()
        context = list(context)
        dropped = 0
        chat = self._chat_for(cancel)
        while True:
            built = mode.build(text, context, chat)
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
            prompt_file=built.prompt_file,
        )

    def _chat_for(self, cancel: threading.Event | None) -> ChatRenderer | None:
        """Chat mode's renderer for one call: a template render hears Esc too."""
        return partial(self._chat, cancel=cancel) if self._chat is not None else None

    def abort_on(self, cancel: threading.Event) -> AbstractContextManager[None]:
        """Inside this block, setting ``cancel`` stops a llama_decode between two graph nodes
        (milliseconds, even in a 512-token batch); the decode then raises DecodeAborted. Every
        long native call runs inside one: generating, warming, scoring."""
        if self._abort is None:
            raise DuetError("the model is not loaded yet; wait for it to finish loading")
        return self._abort.on(cancel)

    # -- cores ---------------------------------------------------------------------------------
    def _cores(self, lease: Lease | None) -> AbstractContextManager[Lease]:
        """The caller's share of the cores, or one claimed here for a caller that gave none."""
        return cores_for(lease, self.spec.n_threads)

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
        if self.info is not None and len(self.info.warnings) > self._warned:  # shown once, in the next answer
            yield from (Notice(warning) for warning in self.info.warnings[self._warned :])
            self._warned = len(self.info.warnings)
        answer = _Answer(tuple(s for s in (*sampling.stop, *prompt.stop) if s))
        clock = AnswerClock()
        llama.set_seed(sampling.seed)
        fixed = self._fixed_prefix_of(prompt)
        if fixed is None and self.info is not None and self.info.sliding_window:
            _keep_cache_only_if_extended(llama, prompt.tokens)
        # else llama-cpp-python keeps the longest cached prefix (a warmed system prompt, say).
        with self._cores(lease) as cores:
            self._apply_threads(cores)
            try:
                with self.abort_on(cancel):
                    self._prefix.begin_answer(llama, fixed)  # aligned: from the restored prefix state
                    stop_reason = yield from self._generate(llama, prompt, sampling, cancel, cores, answer, clock)
            except DecodeAborted:  # Esc inside a decode (a long prompt's, most often)
                stop_reason = "cancelled"
                llama._requires_eval = True  # the logits are the aborted batch's: never sample them
            except Exception as err:  # llama.cpp failures must end the turn, never the pane
                yield from answer.finish(decode_rest=True)
                metrics = clock.metrics(answer.tokens, "error", prompt.token_count)
                yield Finished(answer.text, metrics, f"generation failed: {err}", answer.token_ids())
                return
        yield from answer.finish(decode_rest=stop_reason != "stop")
        metrics = clock.metrics(answer.tokens, stop_reason, prompt.token_count)
        yield Finished(answer.text, metrics, token_ids=answer.token_ids())

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
        self._prompt_row.forget()
        first = True
        try:
            for token in generator:
                if first:  # sampled from the prompt's last row, still in llama.cpp's logits buffer
                    self._prompt_row.keep(llama, prompt.tokens)
                    first = False
                if cancel.is_set():
                    stop_reason = "cancelled"
                    break
                self._apply_threads(lease)  # the next decode runs with the new share
                now = clock.tick()
                if is_eog(vocab, token):
                    stop_reason = "eos"
                    break
                clock.last = now
                if answer.add(token, token_piece(llama, token)):  # not detokenize: it garbles long pieces
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
    def warm(self, mode: PromptMode, lease: Lease | None = None, cancel: threading.Event | None = None) -> int:
        """Evaluate now the part of ``mode``'s prompt that comes before the user's text.

        A chat template puts a system prompt and role headers first (24 tokens for SmolLM2 where
        "Hello" is 1), so reading them while the user is still typing takes most of the time to
        first token off the first message. Returns how many tokens were evaluated; Esc
        (``cancel``) stops it within a graph node (DecodeAborted) or a template render (Cancelled).
        """
        llama = self._require()
        cancel = cancel or threading.Event()
        prefix = self._warm_prefix(mode, cancel)
        if not prefix:
            return 0
        if mode.fixed_prefix:  # saved and restored: prefix_cache.py
            with self._cores(lease) as cores, self.abort_on(cancel):
                self._apply_threads(cores)
                return self._prefix.prepare(llama, tuple(prefix))
        if llama.n_tokens == len(prefix) and llama._input_ids[: len(prefix)].tolist() == prefix:
            return 0
        with self._cores(lease) as cores, self.abort_on(cancel):
            self._apply_threads(cores)
            self._prefix.touched()
            llama.reset()
            llama.eval(prefix)
        return len(prefix)

    def _warm_prefix(self, mode: PromptMode, cancel: threading.Event | None = None) -> list[int]:
        """The tokens ``mode`` puts before any user text, which warm evaluates ahead ([]: none)."""
        if self.info is not None and self.info.sliding_window and not mode.fixed_prefix:
            # Evaluating the prompt in two parts changes Gemma 3's answers (measured): keep them
            # identical to a cold evaluation rather than faster. A fixed-prefix mode is evaluated
            # in the same two parts warm or cold (prefix_cache.py), so it is cached there too.
            return []
        chat = self._chat_for(cancel)
        builds = [mode.build(text, [], chat) for text in _WARM_PROBES]
        key = tuple(built.text for built in builds)
        if mode.fixed_prefix and key in self._probed:
            return self._probed[key]
        prefix = _common_prefix([self.tokenize(built.text, built.add_bos) for built in builds])
        prefix = prefix if len(prefix) >= 2 else []  # BOS alone is not worth a decode
        if mode.fixed_prefix:
            self._probed = {key: prefix}  # one prompt file at a time
        return prefix

    def _fixed_prefix_of(self, prompt: RenderedPrompt) -> tuple[int, ...] | None:
        """For a fixed-prefix mode's prompt, the prefix it starts from (() when it does not begin
        with it: evaluated whole then, warm or cold alike); None for the other modes."""
        mode = get_mode(prompt.mode)
        if not mode.fixed_prefix:
            return None
        prefix = tuple(self._warm_prefix(mode))
        fits = prefix and prompt.tokens[: len(prefix)] == prefix and len(prompt.tokens) > len(prefix)
        return prefix if fits else ()

    # -- scoring (the token-shift lens) -------------------------------------------------------
    def vocabulary(self) -> Vocabulary:
        if self._vocabulary is None:
            self._vocabulary = model_vocabulary(
                self._require(), self.info.path if self.info else "", self._gguf_vocabulary
            )
        return self._vocabulary

    def score(self, request: ScoreRequest, cancel: threading.Event, lease: Lease | None = None) -> ShiftResult:
        llama = self._require()
        answer = scoring.answer_tokens(llama, request, self.vocabulary())
        label = self.info.label if self.info else self.spec.source
        scores = []
        if answer.ids:
            # the render drops the oldest exchanges (chat mode) until the answer fits after them
            mode = get_mode(request.mode)
            prompt = self.render(mode, request.prompt, request.context, SamplingSettings(max_tokens=len(answer.ids)))
            # The context is read in the parts an answer's prompt is (the warmed prefix, then the
            # rest): llama.cpp's logits depend on how a sequence is split into decodes.
            prefix = self._warm_prefix(mode)
            split = len(prefix) if prefix and list(prompt.tokens[: len(prefix)]) == prefix else 0
            self._prefix.touched()  # it puts the cache back, but an aligned answer restores it anyway
            with self._cores(lease) as cores:
                self._apply_threads(cores)
                between = lambda: self._apply_threads(cores)  # noqa: E731
                first_row = self._prompt_row.for_context(llama, prompt.tokens) if request.exact else None
                scores = scoring.score_tokens(
                    llama, prompt.tokens, split, answer, request.exact, cancel, between, first_row
                )
        return ShiftResult(
            scored_by=label,
            context_mode=request.mode,
            tokens=tuple(group_characters(answer.pieces, scores)),
            retokenized=answer.retokenized,
            same_vocabulary=answer.same_vocabulary,
            note=answer.note,
        )

    def close(self) -> None:
        self._prefix.forget()
        if self._adapters is not None:
            self._adapters.free()  # before the model they belong to
            self._adapters = None
        if self._chat is not None:
            self._chat.close()  # the template's helper process
            self._chat = None
        if self._llama is not None:
            self._llama.close()
            self._llama = None


class _Answer:
    """The text of one answer as it grows: bytes decoded to whole characters, stop strings cut off,
    and only what can no longer turn into a stop string streamed out.

    It also keeps the answer's token ids (for the token-shift lens): every token added, less the
    ones a stop string cut. A stop string removes the token that completes it and every token that
    ends after the cut (those held back as a possible start of it). ``token_ids`` gives the kept
    ids only when their bytes spell the kept text exactly; a token the cut went through, which
    leaves part of its text in the answer, makes it None, and the lens tokenizes the text again.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = stops
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""  # everything generated so far (a stop string is cut off when it appears)
        self.tokens = 0
        self._emitted = 0  # how much of `text` has been streamed out
        self._ids: list[int] = []
        self._pieces: list[bytes] = []  # the kept tokens' bytes
        self._ends: list[int] = []  # len(text) once each kept token was added

    def add(self, token: int, piece: bytes) -> bool:
        """Append one token (its id and bytes); True when a stop string ended the answer."""
        self.tokens += 1
        self.text += self._decoder.decode(piece)
        self._ids.append(token)
        self._pieces.append(piece)
        self._ends.append(len(self.text))
        hit = find_stop(self.text, self.stops, self._emitted)
        if hit is None:
            return False
        self.text = self.text[:hit]
        while self._ends and self._ends[-1] > hit:  # the tokens that made up the stop string
            self._ids.pop()
            self._pieces.pop()
            self._ends.pop()
        return True

    def token_ids(self) -> tuple[int, ...] | None:
        """The kept token ids, or None when they do not spell the kept text exactly."""
        spelled = b"".join(self._pieces).decode("utf-8", errors="replace")
        return tuple(self._ids) if spelled == self.text else None

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
