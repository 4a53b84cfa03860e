"""The training loop, inside the training child (child.py): llama.cpp's opt API on an F32 copy.

What the API needs, found the hard way (issue 24): the weights loaded without mmap (they are
written in place), an F32 KV cache and flash attention off (no backward pass for F16 OUT_PROD or
FLASH_ATTN_EXT), and n_ctx = n_batch = n_ubatch (with a smaller ubatch the K and V projections
get no gradient). Each step is one llama_opt_epoch over a one-window dataset, so that a stop
request, the step's loss and the progress are seen between steps; figure 12 compares it with
one llama_opt_epoch over every window (benchmarks/tuning.py).
"""

from __future__ import annotations

import ctypes
import math
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

import models.tuning.opt_api as opt_api
from models.tuning.estimate import trained

_SCORING_UBATCH = 64


class Stopped(Exception):
    """The parent asked the child to stop (Esc, Ctrl+C, or the parent is gone)."""


@dataclass(frozen=True)
class HeldOut:
    tokens: tuple[int, ...]
    answer: tuple[bool, ...]


def convert(lib: ModuleType, source: Path, target: Path, ftype: int, threads: int) -> None:
    """llama_model_quantize: the F32 working copy (ALL_F32) or the saved model's type."""
    low = lib.llama_cpp
    params = low.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    params.allow_requantize = True  # dequantizing a Q4/Q8 file to F32 counts as requantizing
    if low.llama_model_quantize(str(source).encode(), str(target).encode(), ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama.cpp could not convert {source.name} to {target.name}")


class Training:
    """One model loaded for training, its training context and a scoring context beside it."""

    def __init__(self, lib: ModuleType, f32_path: Path, context: int, threads: int) -> None:
        low = lib.llama_cpp
        self.low, self.context = low, context
        self.api = opt_api.load(lib)
        params = low.llama_model_default_params()
        params.load_mode = low.LLAMA_LOAD_MODE_NONE  # no mmap: training writes the weights
        params.use_extra_bufts = False  # weights in plain CPU buffers, never repacked: they are trained
        self.model = low.llama_model_load_from_file(str(f32_path).encode(), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {f32_path.name}")
        self.ctx = self._context(context, threads, training=True)
        self.eval_ctx = self._context(context, threads, training=False)
        self.n_vocab = low.llama_vocab_n_tokens(low.llama_model_get_vocab(self.model))
        self._keep: list[object] = []  # ctypes objects llama.cpp holds pointers to

    def _context(self, n_ctx: int, threads: int, training: bool):
        low = self.low
        params = low.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = n_ctx
        params.n_threads = params.n_threads_batch = threads
        params.flash_attn_type = low.LLAMA_FLASH_ATTN_TYPE_DISABLED
        if training:
            params.type_k = params.type_v = 0  # GGML_TYPE_F32
        else:
            # Scoring needs no n_ctx = n_ubatch: smaller micro-batches keep its compute buffer
            # (and the training child's peak, figure 13) small.
            params.n_ubatch = min(n_ctx, _SCORING_UBATCH)
        ctx = low.llama_init_from_model(self.model, params)
        if not ctx:
            raise RuntimeError("llama.cpp could not create a context for training")
        return ctx

    def init_optimizer(self, learning_rate: float, n_layer: int, last_blocks: int | None) -> tuple[int, int]:
        """llama_opt_init with AdamW at ``learning_rate`` on the chosen tensors; (tensors, weights) trained."""
        api = self.api
        chosen = [0, 0]

        @opt_api.PARAM_FILTER
        def param_filter(tensor, _userdata) -> bool:
            name = (api.tensor_name(tensor) or b"").decode("utf-8", "replace")
            if not trained(name, n_layer, last_blocks):
                return False
            chosen[0] += 1
            chosen[1] += api.tensor_elements(tensor)
            return True

        self.optimizer = api.default_optimizer_params(None)
        self.optimizer.adamw.alpha = learning_rate
        params = opt_api.OptParams(
            0,  # n_ctx_train: the context's (the saved file's context_length is put back: saving.py)
            param_filter,
            None,
            api.constant_optimizer_params,
            ctypes.cast(ctypes.pointer(self.optimizer), ctypes.c_void_p),
            opt_api.GGML_OPT_OPTIMIZER_TYPE_ADAMW,
        )
        self._keep += [param_filter, params]
        api.opt_init(self.ctx, self.model, params)
        self.dataset = api.dataset_init(opt_api.GGML_TYPE_I32, opt_api.GGML_TYPE_I32, self.context, self.context, 1, 1)
        self._data = ctypes.cast(api.tensor_data(api.dataset_data(self.dataset)), ctypes.POINTER(ctypes.c_int32))
        self._labels = ctypes.cast(api.tensor_data(api.dataset_labels(self.dataset)), ctypes.POINTER(ctypes.c_int32))
        self.result = api.result_init()
        return chosen[0], chosen[1]

    def step(self, window: Sequence[int]) -> float:
        """One optimizer step on ``window`` (context + 1 tokens: inputs and their next tokens)."""
        n = self.context
        ctypes.memmove(self._data, (ctypes.c_int32 * n)(*window[:n]), 4 * n)
        ctypes.memmove(self._labels, (ctypes.c_int32 * n)(*window[1 : n + 1]), 4 * n)
        self.api.result_reset(self.result)
        null = opt_api.EPOCH_CALLBACK()
        self.api.opt_epoch(self.ctx, self.dataset, self.result, None, 1, null, null)
        return self.api.loss(self.result)

    def answer_loss(self, examples: Sequence[HeldOut]) -> float | None:
        """Mean cross-entropy over the answer tokens of ``examples``, from the scoring context."""
        low = self.low
        total, count = 0.0, 0
        batch = low.llama_batch_init(self.context, 0, 1)
        try:
            for example in examples:
                low.llama_memory_clear(low.llama_get_memory(self.eval_ctx), True)
                tokens = example.tokens[: self.context]
                # logits only where the next token is an answer token: all 256 rows of a
                # 49,152-token vocabulary would be 50 MB of output buffer for a few answer rows
                scored = [i for i in range(1, len(tokens)) if example.answer[i]]
                wanted = {i - 1 for i in scored}
                for i, token in enumerate(tokens):
                    batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
                    batch.seq_id[i][0], batch.logits[i] = 0, i in wanted
                batch.n_tokens = len(tokens)
                if not scored:
                    continue
                if low.llama_decode(self.eval_ctx, batch) != 0:
                    raise RuntimeError("llama.cpp could not score a held-out example")
                for i in scored:
                    pointer = low.llama_get_logits_ith(self.eval_ctx, i - 1)
                    row = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).astype(np.float64)
                    top = row.max()
                    total += top + math.log(np.exp(row - top).sum()) - row[tokens[i]]
                    count += 1
        finally:
            low.llama_batch_free(batch)
        return total / count if count else None

    def save(self, path: Path) -> None:
        """Write the trained weights. The contexts go first: the optimizer's gradients and AdamW
        moments (three times the trained weights) are not needed to save, and freeing them keeps
        them from adding to whatever llama.cpp's writer holds (figure 13's peak)."""
        self._free_contexts()
        self.low.llama_model_save_to_file(self.model, str(path).encode())

    def _free_contexts(self) -> None:
        api, low = self.api, self.low
        if getattr(self, "result", None):
            api.result_free(self.result)
            self.result = None
        if getattr(self, "dataset", None):
            api.dataset_free(self.dataset)
            self.dataset = None
        for name in ("eval_ctx", "ctx"):
            if getattr(self, name, None):
                low.llama_free(getattr(self, name))
                setattr(self, name, None)

    def close(self) -> None:
        self._free_contexts()
        if self.model:
            self.low.llama_model_free(self.model)
            self.model = None


def windows(examples: Sequence[Sequence[int]], context: int, seed: int, epoch: int) -> Iterator[list[int]]:
    """An epoch's examples in a seeded order, packed end to end into windows of context + 1
    tokens; the stream is completed from its own start so that no padding is trained on."""
    order = list(range(len(examples)))
    random.Random(seed * 1000 + epoch).shuffle(order)
    stream = [token for i in order for token in examples[i]]
    count = max(1, -(-len(stream) // context))
    needed = count * context + 1
    extended = stream * (needed // len(stream) + 1)
    for w in range(count):
        yield extended[w * context : (w + 1) * context + 1]


@dataclass
class LoopReport:
    steps: int = 0
    train_seconds: float = 0.0
    tokens: int = 0


def train_epochs(
    training: Training,
    examples: Sequence[Sequence[int]],
    held_out: Sequence[HeldOut],
    epochs: int,
    seed: int,
    stop: threading.Event,
    emit: Callable[[dict], None],
) -> LoopReport:
    """Every epoch's steps, the held-out answer loss after each; Stopped when ``stop`` is set."""
    report = LoopReport()
    for epoch in range(1, epochs + 1):
        losses = []
        epoch_started = time.perf_counter()
        for window in windows(examples, training.context, seed, epoch):
            if stop.is_set():
                raise Stopped
            started = time.perf_counter()
            loss = training.step(window)
            seconds = time.perf_counter() - started
            report.steps += 1
            report.tokens += training.context
            losses.append(loss)
            emit({"type": "step", "epoch": epoch, "step": report.steps, "loss": _finite(loss), "seconds": seconds})
        # the whole loop, packing and progress included (figure 12 compares it with a bare loop)
        report.train_seconds += time.perf_counter() - epoch_started
        if stop.is_set():
            raise Stopped
        emit({"type": "phase", "phase": "evaluate", "epoch": epoch})
        held = training.answer_loss(held_out) if held_out else None
        mean = sum(losses) / len(losses)
        emit({"type": "epoch", "epoch": epoch, "train_loss": _finite(mean), "held_out_loss": held})
    return report


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
