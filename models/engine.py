"""The one interface every engine (in-process llama.cpp, later an HTTP server) offers a pane."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from .events import Event
from .info import ModelInfo
from .prompts import Exchange, PromptMode
from .settings import SamplingSettings


@dataclass(frozen=True)
class RenderedPrompt:
    """Exactly what a pane sends to its model for one turn."""

    mode: str
    text: str
    token_count: int
    history_used: int  # earlier exchanges included (chat mode)
    dropped_turns: int  # earlier exchanges left out so the prompt fits the context
    tokens: tuple[int, ...] = ()
    add_bos: bool = True
    stop: tuple[str, ...] = ()


class Engine(Protocol):
    """Owned by one pane and only ever called from that pane's worker thread."""

    info: ModelInfo | None

    def load(self) -> ModelInfo: ...

    def render(
        self, mode: PromptMode, text: str, history: Sequence[Exchange], sampling: SamplingSettings
    ) -> RenderedPrompt: ...

    def stream(
        self, prompt: RenderedPrompt, sampling: SamplingSettings, cancel: threading.Event
    ) -> Iterator[Event]: ...

    def close(self) -> None: ...
