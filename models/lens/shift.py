"""The token-shift lens as data: one scored token, one scored answer, and their arithmetic.

Definitions (issue 14; every view, report and test uses these):

- rank: 1 + the number of vocabulary tokens whose logit is strictly greater than the chosen
  token's, in the scoring model's distribution at that position;
- p: the chosen token's probability from a softmax over the raw logits (temperature 1, before any
  sampling filter); the top alternatives likewise;
- class: **unshifted** at rank 1, **marginal** at ranks 2-3, **shifted** above 3 (Lin et al.,
  "The Unlocking Spell on Base LLMs", ICLR 2024);
- near-tie: the scoring model's two most likely tokens have log-probabilities within
  ``NEAR_TIE`` (0.01) of each other, so which of them is "rank 1" depends on rounding.

Nothing here needs a model: the engines produce these objects (models/engines/llama/scoring.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

ShiftClass = Literal["unshifted", "marginal", "shifted"]
CLASSES: tuple[ShiftClass, ...] = ("unshifted", "marginal", "shifted")
TOP_K = 5  # alternatives kept per token
NEAR_TIE = 0.01  # top-two log-probabilities this close (or closer) mark a near-tie


def classify(rank: int) -> ShiftClass:
    """The class of a token at ``rank`` (1 is the scoring model's own first choice)."""
    if rank < 1:
        raise ValueError(f"a rank starts at 1, not {rank}")
    if rank == 1:
        return "unshifted"
    return "marginal" if rank <= 3 else "shifted"


@dataclass(frozen=True)
class TokenScore:
    """One token of the answer (or one whole character made of byte-level tokens, see
    models/lens/grouping.py) as the scoring model saw it."""

    text: str
    token_id: int | None  # None for a group of byte-level tokens shown as one character
    rank: int
    p: float
    top: tuple[tuple[str, float], ...] = ()  # the scoring model's top alternatives (text, p), best first
    near_tie: bool = False

    @property
    def shift_class(self) -> ShiftClass:
        return classify(self.rank)

    def as_dict(self) -> dict:
        """The token in the shape of `duet ask --shift --json`'s ``tokens`` entries."""
        return {
            "text": self.text,
            "rank": self.rank,
            "p": self.p,
            "class": self.shift_class,
            "top": [{"text": text, "p": p} for text, p in self.top],
        }


@dataclass(frozen=True)
class ShiftSummary:
    """How many tokens fell in each class, as counts and as percentages (0-100) of ``count``."""

    count: int
    counts: dict[str, int] = field(default_factory=dict)
    near_ties: int = 0

    def percent(self, shift_class: ShiftClass) -> float:
        return 100.0 * self.counts.get(shift_class, 0) / self.count if self.count else 0.0

    @property
    def unshifted(self) -> float:
        return self.percent("unshifted")

    @property
    def marginal(self) -> float:
        return self.percent("marginal")

    @property
    def shifted(self) -> float:
        return self.percent("shifted")

    def line(self) -> str:
        """E.g. ``unshifted 78% · marginal 14% · shifted 8% of 212 tokens``."""
        parts = [f"{c} {self.percent(c):.0f}%" for c in CLASSES]
        return f"{' · '.join(parts)} of {self.count} token{'' if self.count == 1 else 's'}"

    def as_dict(self) -> dict:
        return {"count": self.count, **{c: round(self.percent(c), 2) for c in CLASSES}}


def summarize(tokens: Sequence[TokenScore]) -> ShiftSummary:
    counts: dict[str, int] = {c: 0 for c in CLASSES}
    for token in tokens:
        counts[token.shift_class] += 1
    return ShiftSummary(len(tokens), counts, sum(t.near_tie for t in tokens))


@dataclass(frozen=True)
class ShiftedText:
    """One text among the shifted tokens: how often it was shifted and its mean rank there."""

    text: str
    count: int
    mean_rank: float

    def as_dict(self) -> dict:
        return {"text": self.text, "count": self.count, "mean_rank": round(self.mean_rank, 2)}


def aggregation_key(text: str) -> str:
    """What shifted tokens are aggregated by: the text without surrounding whitespace (" However"
    and "However" are one entry), or the whitespace itself for a whitespace-only token."""
    return text.strip() or text


def most_shifted(tokens: Sequence[TokenScore], n: int = 10) -> list[ShiftedText]:
    """The ``n`` texts shifted most often (class "shifted"), then by mean rank, then by text."""
    ranks: dict[str, list[int]] = {}
    for token in tokens:
        if token.shift_class == "shifted":
            ranks.setdefault(aggregation_key(token.text), []).append(token.rank)
    found = [ShiftedText(text, len(r), sum(r) / len(r)) for text, r in ranks.items()]
    found.sort(key=lambda s: (-s.count, -s.mean_rank, s.text))
    return found[: max(0, n)]


@dataclass(frozen=True)
class ShiftResult:
    """One answer scored by one model: every token, and what the view says about how."""

    scored_by: str  # the scoring pane's model (its `model` value in records)
    context_mode: str  # the scoring pane's mode, in which the user's message was rendered
    tokens: tuple[TokenScore, ...]
    retokenized: bool = False  # the answer text was tokenized again with the scoring model's tokenizer
    same_vocabulary: bool | None = None  # None: the answering model's vocabulary is unknown (a server)
    note: str | None = None  # why the answer's own token ids could not be used, when they were expected
    caveat: str | None = None  # one line when the two models are not a base and its own fine-tune
    relation: str | None = None  # what the two are when Duet made one from the other (models/lens/pairing.py)

    @property
    def text(self) -> str:
        """The tokens' texts put together: exactly the scored answer."""
        return "".join(t.text for t in self.tokens)

    def summary(self) -> ShiftSummary:
        return summarize(self.tokens)

    def most_shifted(self, n: int = 10) -> list[ShiftedText]:
        return most_shifted(self.tokens, n)

    def summary_line(self) -> str:
        """E.g. ``unshifted 78% · marginal 14% · shifted 8% of 212 tokens · scored by gemma-3-270m
        (re-tokenized)``."""
        retokenized = " (re-tokenized)" if self.retokenized else ""
        return f"{self.summary().line()} · scored by {self.scored_by}{retokenized}"

    def as_dict(self, most: int = 10) -> dict:
        """The ``shift`` object of `duet ask --shift --json` (issue 14)."""
        return {
            "scored_by": self.scored_by,
            "retokenized": self.retokenized,
            "context_mode": self.context_mode,
            "summary": self.summary().as_dict(),
            "tokens": [t.as_dict() for t in self.tokens],
            "most_shifted": [s.as_dict() for s in self.most_shifted(most)],
            "caveat": self.caveat,
            "relation": self.relation,
        }
