"""The last answer's prompt and the row of logits its first token was sampled from, kept so the
token-shift lens can score another answer after the same prompt without reading it again.

Scoring reads a context and then an answer. When the scoring pane's own last answer came after
exactly that context (the lens on the other pane's answer to the same first message, the usual
case), the pane's cache already holds the context's keys and values, computed as its own prompt
was, and this row holds the logits its first token came from: the scoring keeps those cache cells,
starts from this row, and evaluates only the answer. That is not an approximation of reading the
context again; it is the reading generation itself made (llama.cpp's logits depend on how a
sequence was split into decodes, and these are the decodes the answer followed). On 2 cores it
saves SmolLM2's 24-token system prompt and the message (~0.3 s on one thread) in `duet ask --shift`.

One row: 196 KB for SmolLM2, 1 MB for Gemma 3's 262,144-token vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from models.engines.llama import runtime

if TYPE_CHECKING:
    from llama_cpp import Llama


class PromptRow:
    def __init__(self) -> None:
        self._tokens: tuple[int, ...] | None = None
        self._row: npt.NDArray[np.float32] | None = None

    def keep(self, llama: Llama, prompt: Sequence[int]) -> None:
        """Copy llama.cpp's last logits row, the one ``prompt``'s first answer token was sampled
        from (call before the next decode overwrites it)."""
        pointer = runtime.llama_cpp().llama_get_logits_ith(llama.ctx, -1)
        if not pointer or not prompt:
            self.forget()
            return
        self._row = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).copy()
        self._tokens = tuple(prompt)

    def forget(self) -> None:
        self._tokens = self._row = None

    def for_context(self, llama: Llama, context: Sequence[int]) -> npt.NDArray[np.float32] | None:
        """The row, when the last prompt was exactly ``context`` and the cache still starts with it
        (it is the cache that answer was read from); else None (read the context again)."""
        if self._row is None or self._tokens != tuple(context):
            return None
        n = len(context)
        if llama.n_tokens < n or llama.input_ids[:n].tolist() != list(context):
            return None
        return self._row
