"""What an engine streams back while it answers: deltas, notices, then one final event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from models.amplify.trace import AmplifyTrace

# eos: the model ended its answer; length: max tokens or a full context; stop: a stop string;
# cancelled: the user stopped it (the partial text is kept); error: see Finished.error.
StopReason = Literal["eos", "length", "stop", "cancelled", "error"]


def metrics_line(ttft_s: float, tokens: int, tokens_per_s: float, stop_reason: str | None = None) -> str:
    """The one-line summary shown under an answer, in reports and in `duet ask`."""
    line = f"TTFT {ttft_s * 1000:.0f} ms · {tokens} tok · {tokens_per_s:.1f} tok/s"
    return f"{line} · {stop_reason}" if stop_reason else line


class Metrics(BaseModel):
    ttft_s: float = 0.0  # request start to first generated token (includes prompt processing)
    tokens: int = 0
    tokens_per_s: float = 0.0  # decode speed from the first token to the last
    stop_reason: StopReason = "eos"
    prompt_tokens: int = 0
    total_s: float = 0.0

    def line(self) -> str:
        return metrics_line(self.ttft_s, self.tokens, self.tokens_per_s, self.stop_reason)


@dataclass(frozen=True)
class TextDelta:
    text: str
    # Live progress for status lines (the final numbers come with Finished):
    tokens: int = 0
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0


@dataclass(frozen=True)
class Notice:
    """Something the user should know about this answer, e.g. old turns dropped to fit the context."""

    message: str


@dataclass(frozen=True)
class Finished:
    """The end of an answer. ``token_ids``: the generated tokens whose bytes spell ``text`` exactly
    (what the token-shift lens scores without re-tokenizing), or None when the engine has none (a
    server) or a stop string cut through a token (see models/engines/llama/engine.py _Answer)."""

    text: str
    metrics: Metrics
    error: str | None = None
    token_ids: tuple[int, ...] | None = None
    amplified: AmplifyTrace | None = None  # an amplified pane's: what fine-tuning pushed, per token


Event = TextDelta | Notice | Finished
