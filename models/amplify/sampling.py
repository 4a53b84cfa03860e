"""The pane's sampling settings applied to the combined logits, in the order llama-cpp-python's
sampler chain applies them to one model's (Llama._init_sampler): repeat penalty over the last 64
tokens, then at temperature 0 the most likely token (the first of equals, as llama.cpp's greedy
sampler picks), else top-k, top-p, min-p, temperature and a draw from a generator seeded with the
pane's seed. Greedy is what makes a = 0 and a = -1 answer token for token like the tuned and the
base model alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.amplify.mix import Row
from models.settings import SamplingSettings

PENALTY_LAST_N = 64  # llama-cpp-python's last_n_tokens_size


class Sampler:
    """One answer's sampling: its settings and its random generator."""

    def __init__(self, sampling: SamplingSettings) -> None:
        self.sampling = sampling
        self._rng = np.random.default_rng(sampling.seed)

    def choose(self, logits: Row, history: Sequence[int]) -> int:
        """The next token from ``logits`` after the answer's tokens so far (``history``)."""
        s = self.sampling
        if s.repeat_penalty != 1.0 and history:
            logits = _penalized(logits, history[-PENALTY_LAST_N:], s.repeat_penalty)
        if s.temperature == 0:
            return int(np.argmax(logits))
        ids = np.argsort(-logits, kind="stable")
        if s.top_k > 0:
            ids = ids[: s.top_k]
        values = logits[ids].astype(np.float64)
        probs = _softmax(values)
        if s.top_p < 1.0:
            keep = int(np.searchsorted(np.cumsum(probs), s.top_p) + 1)
            ids, values = ids[:keep], values[:keep]
            probs = _softmax(values)
        if s.min_p > 0:
            kept = probs >= s.min_p * probs[0]
            ids, values = ids[kept], values[kept]
        probs = _softmax(values / s.temperature)
        return int(ids[self._rng.choice(len(ids), p=probs)])


def _softmax(values: np.ndarray) -> np.ndarray:
    exp = np.exp(values - values.max())
    return exp / exp.sum()


def _penalized(logits: Row, recent: Sequence[int], penalty: float) -> Row:
    out = logits.copy()
    for token in set(recent):
        value = out[token]
        out[token] = value / penalty if value > 0 else value * penalty
    return out
