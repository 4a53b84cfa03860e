"""One row of logits -> the chosen token's rank, p, the top alternatives and the near-tie mark.

Vectorised numpy over the vocabulary, never a full sort: the rank is a count of the logits
strictly greater than the chosen one, the top alternatives an argpartition (then a sort of just
those), and p a softmax at temperature 1 computed in float64 from the max-shifted logits. One row at
a time keeps the temporaries at a few MB on Gemma's 262,144-token vocabulary (a 32-row block would
need ~40 MB of them); the engines pass a view of llama.cpp's own logits buffer, not a copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.lens.shift import NEAR_TIE, TOP_K


@dataclass(frozen=True)
class RowScore:
    rank: int
    p: float
    top_ids: tuple[int, ...]  # best first
    top_p: tuple[float, ...]
    near_tie: bool


def rank_row(logits: npt.NDArray[np.float32], chosen: int, k: int = TOP_K) -> RowScore:
    """Score token ``chosen`` in the distribution ``logits`` (one value per vocabulary token)."""
    chosen_logit = logits[chosen]
    rank = int(np.count_nonzero(logits > chosen_logit)) + 1
    k = min(k, logits.shape[0])
    top = np.argpartition(logits, -k)[-k:]
    top = top[np.argsort(-logits[top], kind="stable")]
    best = logits[top[0]]  # float32, so the shifted row stays float32 (half the memory and time)
    log_z = float(best) + math.log(float(np.exp(logits - best).sum(dtype=np.float64)))
    top_logits = logits[top].astype(np.float64)
    top_p = np.exp(top_logits - log_z)
    # log p difference between the first two = their logit difference (the softmax's shared log Z)
    near_tie = k > 1 and float(top_logits[0] - top_logits[1]) <= NEAR_TIE
    return RowScore(
        rank=rank,
        p=math.exp(float(chosen_logit) - log_z),
        top_ids=tuple(int(t) for t in top),
        top_p=tuple(float(p) for p in top_p),
        near_tie=near_tie,
    )
