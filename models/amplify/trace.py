"""What the last amplified answer pushed: per answer token KL(tuned || base) and the log-probability
the fine-tune added to it, and over the answer the tokens the fine-tune raised most.

Built on the pane's worker from the steps (mix.StepPush), carried by the answer's Finished event
to the turn, and shown by the lens view (tui/widgets/amplify_strip.py) and `--json` (record()).
Token texts are the tokens' bytes made printable (models/lens/grouping.piece_text); the screen
still neutralizes them, as every model text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from models.amplify.mix import StepPush

TOP_ANSWER = 10  # tokens listed as the answer's most raised


@dataclass(frozen=True)
class PushedToken:
    text: str
    kl: float
    raised: float  # log p_tuned - log p_base of this token where it was written


@dataclass(frozen=True)
class AmplifyTrace:
    factor: float
    tuned: str  # labels of the two models
    base: str
    tokens: tuple[PushedToken, ...]
    raised: tuple[tuple[str, float], ...]  # the tokens the fine-tune raised most, with their largest raise

    @property
    def mean_kl(self) -> float:
        return sum(t.kl for t in self.tokens) / len(self.tokens) if self.tokens else 0.0

    @property
    def max_kl(self) -> float:
        return max((t.kl for t in self.tokens), default=0.0)

    def summary_line(self) -> str:
        return (
            f"amplified ×{self.factor:g}: {self.tuned} over {self.base} · {len(self.tokens)} tokens · "
            f"KL(tuned ‖ base) mean {self.mean_kl:.3f} max {self.max_kl:.3f} nats"
        )

    def record(self) -> dict:
        """The JSON shape of `--json`'s ``amplify.pushes``."""
        return {
            "kl_mean": round(self.mean_kl, 5),
            "kl_max": round(self.max_kl, 5),
            "tokens": [{"text": t.text, "kl": round(t.kl, 5), "raised": round(t.raised, 4)} for t in self.tokens],
            "raised_most": [{"text": text, "raised": round(value, 4)} for text, value in self.raised],
        }


def build_trace(
    factor: float,
    names: tuple[str, str],
    chosen: Sequence[int],
    steps: Sequence[StepPush],
    texts: Callable[[Sequence[int]], list[str]],
) -> AmplifyTrace:
    """The trace of an answer whose kept tokens are ``chosen`` (steps beyond them, cut by a stop
    string, are left out); ``texts`` gives token ids' texts."""
    steps = list(steps[: len(chosen)])
    best: dict[int, float] = {}
    for step in steps:
        for token, value in zip(step.top_ids, step.top_raise):
            if value > best.get(token, float("-inf")):
                best[token] = value
    top = sorted(best.items(), key=lambda item: -item[1])[:TOP_ANSWER]
    known = dict(zip([*chosen, *(t for t, _ in top)], texts([*chosen, *(t for t, _ in top)])))
    tokens = tuple(PushedToken(known[t], s.kl, s.chosen_raise) for t, s in zip(chosen, steps))
    return AmplifyTrace(factor, names[0], names[1], tokens, tuple((known[t], v) for t, v in top))
