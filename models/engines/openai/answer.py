"""One streamed answer from a server: each server-sent event turned into TextDelta events (or a
one-line error), the text, usage and finish reason gathered, and the Finished event at the end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from models.engines.base import AnswerClock, RenderedPrompt
from models.engines.openai.server_errors import (
    connection_error,
    cut_off_error,
    one_line,
    scrub,
    status_error,
    where,
)
from models.engines.openai.source import RemoteSource
from models.engines.openai.sse import SSEData, SSEEnd, SSEFailure, SSEItem, SSEStatus
from models.events import Finished, StopReason, TextDelta
from models.settings import SamplingSettings


class StreamError(Exception):
    """Ends a stream with a message for the user (the partial answer is kept)."""


class RemoteAnswer:
    """The answer to one streaming request as it arrives; ``done`` once the server said it finished."""

    def __init__(self, remote: RemoteSource, prompt: RenderedPrompt, sampling: SamplingSettings, chat: bool):
        self.remote, self.prompt, self.sampling, self.chat = remote, prompt, sampling, chat
        self.clock = AnswerClock()
        self.text = ""
        self.chunks = 0
        self.usage: dict = {}
        self.timings: dict = {}
        self.finish: str | None = None
        self.seen_data = False
        self.done = False

    def take(self, item: SSEItem) -> Iterator[TextDelta]:
        """The text in one item from the reader; StreamError when the item ends the answer badly."""
        if isinstance(item, SSEStatus):
            error = status_error(self.remote, item.status, item.body, "chat" if self.chat else "completion")
            raise StreamError(str(error))
        if isinstance(item, SSEFailure):
            if self.text:
                raise StreamError(str(cut_off_error(self.remote, item.error)))
            raise StreamError(str(connection_error(self.remote, item.error)))
        if isinstance(item, SSEEnd):
            self._end()
        elif isinstance(item, SSEData):
            yield from self._data(item.text)

    def _end(self) -> None:
        if self.finish is None and not self.seen_data:
            # llama_cpp.server reports a prompt that does not fit by ending the stream.
            raise StreamError(
                f"{where(self.remote)} ended the stream without an answer; the prompt is "
                f"{'about ' if self.prompt.token_count_estimated else ''}"
                f"{self.prompt.token_count} tokens plus {self.sampling.max_tokens} to generate: if that is "
                "more than the server's context, shorten the prompt, clear the conversation or "
                "lower max tokens; otherwise see the server's log"
            )
        if self.finish is None:
            raise StreamError(
                f"{where(self.remote)} ended the stream before the answer was finished; the partial "
                "answer is kept; check the server's log"
            )
        self.done = True

    def stopped_early(self) -> None:
        """The reader stopped without saying why: an error unless the answer had finished."""
        if self.finish is None:
            raise StreamError(f"{where(self.remote)} ended the stream before the answer was finished")

    def _data(self, payload: str) -> Iterator[TextDelta]:
        """One SSE event's data: a JSON chunk of the answer, or [DONE]."""
        self.seen_data = True
        if payload == "[DONE]":
            self.finish = self.finish or "stop"
            self.done = True
            return
        try:
            data = json.loads(payload)
        except ValueError:
            raise StreamError(f"{where(self.remote)} sent a malformed event ({one_line(payload, 80)})") from None
        if not isinstance(data, dict):
            return
        if "error" in data:
            err = data["error"]
            message = err.get("message") if isinstance(err, dict) else err
            raise StreamError(
                f"{where(self.remote)} reported an error mid-answer: {scrub(self.remote, one_line(str(message)))}"
            )
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        if isinstance(data.get("timings"), dict):
            self.timings = data["timings"]
        for choice in data.get("choices") or []:
            if isinstance(choice, dict):
                yield from self._choice(choice)

    def _choice(self, choice: dict) -> Iterator[TextDelta]:
        piece = (choice.get("delta") or {}).get("content") if self.chat else choice.get("text")
        if piece:
            self.clock.last = self.clock.tick()
            self.chunks += 1
            self.text += piece
            yield TextDelta(piece)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]

    def finished(self, cancelled: bool, error: str | None, had_stops: bool) -> Finished:
        """The last event: the text so far, the metrics (the server's own counts where it sent them)."""
        stop_reason: StopReason
        if cancelled:
            stop_reason = "cancelled"
        elif error is not None:
            stop_reason = "error"
        else:
            stop_reason = _stop_reason(self.finish, had_stops)
        tokens = _int(self.usage.get("completion_tokens")) or _int(self.timings.get("predicted_n")) or self.chunks
        prompt_tokens = _int(self.usage.get("prompt_tokens")) or self.prompt.token_count
        metrics = self.clock.metrics(tokens, stop_reason, prompt_tokens)
        return Finished(self.text, metrics, error)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _stop_reason(finish: str | None, had_stops: bool) -> StopReason:
    if finish == "length":
        return "length"
    if finish == "stop" or finish is None:
        # OpenAI says "stop" both for end-of-sequence and for a stop string; with no stop strings
        # sent it can only have been the end of the sequence.
        return "stop" if had_stops else "eos"
    return "stop"
