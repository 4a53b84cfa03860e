"""Setting a pane's KV cache aside while it scores, and putting it back exactly.

Scoring evaluates another text in the pane's one sequence. Re-evaluating the cached tokens
afterwards would not give the same cache: llama.cpp's logits (and keys and values) depend on how
a sequence was split into decodes, and a chat conversation's cache holds its last answer as it was
generated, one token per decode. So the cache is copied out (``llama_state_seq_get_data``: the
cells of sequence 0, about 18 KB a token on Gemma 3 270M, 23 KB on SmolLM2 135M) with
llama-cpp-python's record of the tokens in it, and copied back after; the next answer is then
token for token what it would have been without the scoring.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from models.engines.llama import runtime

if TYPE_CHECKING:
    from llama_cpp import Llama

SEQUENCE = 0  # llama-cpp-python keeps everything in sequence 0


@dataclass
class SavedCache:
    tokens: npt.NDArray[np.intc]  # llama-cpp-python's input_ids[:n_tokens]
    cells: ctypes.Array  # llama.cpp's state of the sequence


def save(llama: Llama) -> SavedCache | None:
    """The cache as it is now (None when it holds nothing, or llama.cpp cannot copy it)."""
    if llama.n_tokens == 0:
        return None
    lib = runtime.llama_cpp()
    size = lib.llama_state_seq_get_size(llama.ctx, SEQUENCE)
    cells = (ctypes.c_uint8 * size)()
    if size == 0 or lib.llama_state_seq_get_data(llama.ctx, cells, size, SEQUENCE) != size:
        return None
    return SavedCache(llama.input_ids[: llama.n_tokens].copy(), cells)


def forget(llama: Llama) -> None:
    """No cached tokens, in llama-cpp-python's record and in llama.cpp's memory."""
    lib = runtime.llama_cpp()
    llama.reset()
    memory = lib.llama_get_memory(llama.ctx)
    if memory:
        lib.llama_memory_clear(memory, True)


def keep_first(llama: Llama, n: int) -> bool:
    """Keep the cache's first ``n`` positions and drop the rest (False, and nothing changed, when
    the cache does not hold all of them: a sliding-window cache that let its oldest cells go)."""
    lib = runtime.llama_cpp()
    memory = lib.llama_get_memory(llama.ctx)
    if not memory or llama.n_tokens < n or lib.llama_memory_seq_pos_min(memory, SEQUENCE) != 0:
        return False
    if not lib.llama_memory_seq_rm(memory, SEQUENCE, n, -1):
        return False
    llama.n_tokens = n
    return True


def restore(llama: Llama, saved: SavedCache | None) -> bool:
    """Empty the cache and put ``saved`` back; False (and an empty cache, which the next answer
    fills by evaluating its whole prompt) when llama.cpp could not read it back."""
    forget(llama)
    if saved is None:
        return True
    lib = runtime.llama_cpp()
    if lib.llama_state_seq_set_data(llama.ctx, saved.cells, len(saved.cells), SEQUENCE) == 0:
        forget(llama)
        return False
    n = len(saved.tokens)
    llama.input_ids[:n] = saved.tokens
    llama.n_tokens = n
    # The logits in llama.cpp's buffer are the scoring's: a prompt that is exactly the cached
    # tokens must decode its last token again rather than sample from them.
    llama._requires_eval = True
    return True
