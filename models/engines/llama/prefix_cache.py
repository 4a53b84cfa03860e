"""A mode's fixed prompt prefix (aligned mode's header and examples), evaluated once and restored
before every answer, so that a cached answer and a cold one are the same by construction.

llama.cpp's keys, values and logits depend on how a sequence was split into decodes, and on a
sliding-window model (Gemma 3) the window's cells are set aside as a sequence grows; re-using
whatever an earlier answer left in the cache is therefore not guaranteed to give the answer a cold
evaluation gives. So an answer in such a mode always starts from the same state: the prefix
evaluated on its own, in one ``eval`` (its own decodes of up to n_batch tokens), copied out with
llama.cpp's per-sequence state API (kv_state.save) and copied back in (kv_state.restore). A cold
answer builds that state first (and keeps it); a cached one only copies it back (about 6 ms for
Gemma 3 270M's 657-token prefix, 8 ms for SmolLM2's 668, measured on 2 cores; nothing at all when
the cache still holds exactly the restored state). The rest of the prompt is then evaluated
after it the same way in both cases.

The copy costs memory: about 15 KB a prefix token on Gemma 3 270M and 23 KB on SmolLM2 135M
(10 MB and 15 MB for the built-in prompt).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.engines.llama import kv_state
from models.errors import DuetError

if TYPE_CHECKING:
    from llama_cpp import Llama


class PrefixCache:
    """One engine's saved prefix state. Used on the engine's worker thread only."""

    def __init__(self) -> None:
        self._tokens: tuple[int, ...] | None = None
        self._saved: kv_state.SavedCache | None = None
        self._live = False  # the model's cache is exactly the restored prefix, untouched since

    @property
    def tokens(self) -> tuple[int, ...] | None:
        """The prefix saved now (None: none)."""
        return self._tokens if self._saved is not None else None

    @property
    def live(self) -> bool:
        return self._live

    def forget(self) -> None:
        """Drop the saved state (new adapter scales, another model: it no longer holds)."""
        self._tokens, self._saved, self._live = None, None, False

    def touched(self) -> None:
        """Something evaluated past the prefix: the next answer restores the saved state first."""
        self._live = False

    def begin_answer(self, llama: Llama, prefix: tuple[int, ...] | None) -> None:
        """Before an answer is generated. ``prefix``: None for a mode without a fixed prefix
        (the cache is the engine's business then); () for a prompt that does not begin with its
        mode's prefix (an empty cache: evaluated whole, warm or cold alike); else the prefix,
        whose state the answer then starts from."""
        if prefix is not None:
            if prefix:
                self.prepare(llama, prefix)
            else:
                kv_state.forget(llama)
        self._live = False  # the answer evaluates past it

    def prepare(self, llama: Llama, prefix: tuple[int, ...]) -> int:
        """Make the model's cache exactly the saved state of ``prefix``: copied back when it is
        saved already (returns 0), else evaluated, saved and copied back (returns its length).
        A DecodeAborted from the evaluation (Esc) leaves nothing saved."""
        if self._saved is not None and self._tokens == prefix:
            if not self._live:
                self._restore(llama)
            return 0
        self.forget()
        kv_state.forget(llama)
        llama.eval(list(prefix))
        saved = kv_state.save(llama)
        if saved is None:
            kv_state.forget(llama)
            raise DuetError("llama.cpp could not copy the prompt prefix out of its cache")
        self._tokens, self._saved = prefix, saved
        self._restore(llama)  # a cold answer starts from a copied-back state too, as a cached one does
        return len(prefix)

    def _restore(self, llama: Llama) -> None:
        if not kv_state.restore(llama, self._saved):
            self.forget()
            raise DuetError("llama.cpp could not copy the prompt prefix back into its cache")
        self._live = True
