"""What an engine streams back while it answers: deltas, notices, then one final event."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

STOP_REASONS = ("eos", "length", "stop", "cancelled", "error")


class Metrics(BaseModel):
    ttft_s: float = 0.0  # request start to first generated token (includes prompt processing)
    tokens: int = 0
    tokens_per_s: float = 0.0  # decode speed from the first token to the last
    stop_reason: str = "eos"
    prompt_tokens: int = 0
    total_s: float = 0.0


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
    text: str
    metrics: Metrics
    error: str | None = None


Event = TextDelta | Notice | Finished
