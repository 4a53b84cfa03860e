"""The arithmetic of one amplified step, on two logits rows read from llama.cpp (numpy views).

Both rows are logits over the same vocabulary after the same prefix. Softmax ignores a constant
added to a row, so two models whose logits sit at different offsets combine correctly without
normalizing first: ``tuned + a * (tuned - base)`` and the same with log-probabilities give the same
distribution. a = 0 and a = -1 return the tuned and the base row themselves, so those two factors
sample exactly what the one model alone would.

What a step pushed is measured on log-probabilities: KL(tuned || base) in nats, and per token the
log-probability the fine-tune added (``log p_tuned - log p_base``). The tokens "raised most" are
ranked among those the tuned model gives at least RAISED_MIN_P: on two different checkpoints the
largest raw differences are otherwise tokens neither model would ever write.

No BLAS call here (np.dot, matmul): numpy's OpenBLAS runs a 49k-long dot product on its own
threads, which then spin beside llama.cpp's OpenMP threads between decodes; on a 2-core AMD EPYC
that made every amplified decode 3x slower (17 against 57 tok/s, figure 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Row = npt.NDArray[np.float32]
TOP_RAISED = 5
RAISED_MIN_P = 1e-3


def combine(tuned: Row, base: Row, factor: float) -> Row:
    """The amplified logits: the tuned row itself at 0, the base row itself at -1."""
    if factor == 0:
        return tuned
    if factor == -1:
        return base
    return (1.0 + factor) * tuned - factor * base


def log_softmax(row: Row) -> npt.NDArray[np.float64]:
    shifted = row.astype(np.float64) - float(np.max(row))
    return shifted - np.log(np.sum(np.exp(shifted)))


@dataclass(frozen=True)
class StepPush:
    """What fine-tuning changed at one answer position."""

    kl: float  # KL(tuned || base) of the next-token distributions, in nats
    chosen_raise: float  # log p_tuned - log p_base of the token the amplified pane wrote
    top_ids: tuple[int, ...]  # the tokens the fine-tune raised most here, most first
    top_raise: tuple[float, ...]


def push_of(tuned: Row, base: Row, chosen: int, k: int = TOP_RAISED) -> StepPush:
    """KL(tuned || base), the chosen token's raise, and the top ``k`` raised tokens at one step."""
    log_t, log_b = log_softmax(tuned), log_softmax(base)
    p_t = np.exp(log_t)
    diff = log_t - log_b
    kl = float(np.sum(p_t * diff))  # not np.dot (the module's note)
    candidates = np.flatnonzero(p_t >= RAISED_MIN_P)
    if candidates.size == 0:  # a flat distribution: every token is below the floor
        candidates = np.array([int(np.argmax(p_t))])
    raised = diff[candidates]
    k = min(k, candidates.size)
    best = np.argpartition(-raised, k - 1)[:k]
    best = best[np.argsort(-raised[best], kind="stable")]
    return StepPush(
        kl=max(0.0, kl),  # a rounding error below 0 is 0
        chosen_raise=float(diff[chosen]),
        top_ids=tuple(int(i) for i in candidates[best]),
        top_raise=tuple(float(v) for v in raised[best]),
    )
