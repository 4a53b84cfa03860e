"""Two llama.cpp contexts fed the same tokens: the amplified pane's tuned and base model.

Each context is driven through llama.cpp's C API (one ``llama_batch``, ``llama_decode``, and
``llama_get_logits_ith`` for the last position only: never every position's logits, which on
Gemma's 262,144-token vocabulary cost a megabyte a row). A prompt is evaluated in the chunks
llama-cpp-python's ``Llama.eval`` uses (``n_batch`` tokens, logits for each chunk's last), and an
answer one token per decode, as ``Llama.generate`` does: llama.cpp's logits depend on how a
sequence is split into decodes, and this is what makes a = 0 answer token for token like the tuned
model in a pane of its own.

When the two models are one file (a model and the same model with a LoRA adapter), the base side
is a second context on the tuned side's llama.cpp model: the weights are loaded once, and the
adapter is set on the tuned context only (llama.cpp applies adapters per context). Otherwise the
base side is its own loaded model (a pair of checkpoints).

All calls run on the pane's worker thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.amplify.mix import Row
from models.engines.llama import runtime
from models.engines.llama.abort import AbortSwitch, DecodeAborted
from models.errors import DuetError


@dataclass
class Side:
    """One of the two contexts: its pointer, and how Esc reaches a decode inside it."""

    name: str  # "tuned" or "base", for error lines
    ctx: Any
    abort: AbortSwitch


class ContextPair:
    """The tuned and the base context, decoded in lockstep."""

    def __init__(self, tuned: Side, base: Side, n_batch: int, n_vocab: int) -> None:
        self.sides = (tuned, base)
        self.n_batch = n_batch
        self.n_vocab = n_vocab
        self._lib = runtime.llama_cpp()
        self._batch = self._lib.llama_batch_init(n_batch, 0, 1)

    def abort_on(self, cancel: threading.Event) -> ExitStack:
        """Esc stops a decode in either context between two graph nodes (abort.py)."""
        stack = ExitStack()
        for side in self.sides:
            stack.enter_context(side.abort.on(cancel))
        return stack

    def set_threads(self, threads: int) -> None:
        for side in self.sides:
            self._lib.llama_set_n_threads(side.ctx, threads, threads)

    def evaluate(self, tokens: Sequence[int], start: int, cancel: threading.Event) -> None:
        """Decode ``tokens`` at positions ``start``... in both contexts, in Llama.eval's chunks."""
        for offset in range(0, len(tokens), self.n_batch):
            self._decode(tokens[offset : offset + self.n_batch], start + offset, cancel)

    def step(self, token: int, pos: int, cancel: threading.Event) -> None:
        """Decode one answer token at ``pos`` in both contexts."""
        self._decode((token,), pos, cancel)

    def rows(self) -> tuple[Row, Row]:
        """The last decode's logits in each context (views, valid until the next decode)."""
        found = []
        for side in self.sides:
            pointer = self._lib.llama_get_logits_ith(side.ctx, -1)
            if not pointer:
                raise DuetError(f"llama.cpp returned no logits for the {side.name} model")
            found.append(np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)))
        return found[0], found[1]

    def keep(self, n: int) -> bool:
        """Drop every cached position from ``n`` on, in both; False when a context cannot (then
        both are emptied)."""
        for side in self.sides:
            memory = self._lib.llama_get_memory(side.ctx)
            if not memory or not self._lib.llama_memory_seq_rm(memory, -1, n, -1):
                self.clear()
                return False
        return True

    def clear(self) -> None:
        for side in self.sides:
            memory = self._lib.llama_get_memory(side.ctx)
            if memory:
                self._lib.llama_memory_clear(memory, True)

    def replace_base(self, ctx: Any, tokens: Sequence[int], threads: int | None, cancel: threading.Event) -> None:
        """Put ``ctx`` in the base side's place (its abort switch wired to it) and evaluate
        ``tokens``, the prefix the tuned context holds, in it alone, in Llama.eval's chunks."""
        tuned, base = self.sides
        base.abort.attach(self._lib, ctx)
        base.ctx = ctx
        if threads is not None:
            self._lib.llama_set_n_threads(ctx, threads, threads)
        for offset in range(0, len(tokens), self.n_batch):
            self._decode(tokens[offset : offset + self.n_batch], offset, cancel, (base,))

    def _decode(
        self, tokens: Sequence[int], pos: int, cancel: threading.Event, sides: Sequence[Side] | None = None
    ) -> None:
        batch = self._batch
        n = len(tokens)
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i == n - 1
        batch.n_tokens = n
        for side in sides or self.sides:
            result = self._lib.llama_decode(side.ctx, batch)
            if result != 0:
                if cancel.is_set():
                    raise DecodeAborted("stopped")
                raise DuetError(
                    f"llama.cpp could not evaluate {n} token(s) in the {side.name} model "
                    f"(llama_decode returned {result}); the context may be full: start a new conversation"
                )

    def free(self) -> None:
        if self._batch is not None:
            self._lib.llama_batch_free(self._batch)
            self._batch = None


def second_context(llama: Any, n_ctx: int | None = None) -> Any:
    """A new llama.cpp context on ``llama``'s model, with the same parameters as its own but for
    ``n_ctx`` tokens when given (the weights are shared; this context has its own KV cache and no
    adapters). DuetError when llama.cpp cannot make one (out of memory)."""
    lib = runtime.llama_cpp()
    runtime.clear_log()
    params = type(llama.context_params).from_buffer_copy(llama.context_params)
    if n_ctx is not None:
        params.n_ctx = n_ctx
        params.n_batch = min(params.n_batch, n_ctx)
        params.n_ubatch = min(params.n_ubatch, n_ctx)
    ctx = lib.llama_init_from_model(llama.model, params)
    if not ctx:
        reason = runtime.recent_log_error() or "no reason given"
        raise DuetError(f"llama.cpp could not open a second context for the base model: {reason}")
    return ctx


def free_context(ctx: Any) -> None:
    runtime.llama_cpp().llama_free(ctx)
