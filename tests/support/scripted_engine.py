"""A deterministic engine for the screen tests that need exact model output (snapshots, injection).

It implements the same Engine interface as the llama.cpp engine and runs behind the real
PaneSession, so everything but the model itself is the production code path.
"""

from __future__ import annotations

import threading
import time

from models.engines.base import Engine, RenderedPrompt
from models.events import Finished, Metrics, TextDelta
from models.files.info import ModelInfo
from models.session import PaneSession
from models.settings import ModelSpec


class ScriptedEngine(Engine):
    def __init__(self, spec, answer: str, chunk: int = 4, delay: float = 0.0):
        super().__init__(spec)
        self.answer, self.chunk, self.delay = answer, chunk, delay

    def load(self) -> ModelInfo:
        self.info = ModelInfo(
            path="/scripted.gguf",
            label=f"scripted-{self.spec.source}",
            architecture="llama",
            name="Scripted",
            size_label="1M",
            quantization="Q4_0",
            context_length=2048,
            n_layers=2,
            has_chat_template=self.spec.source != "base",  # the base pane holds a model with no template
            file_size=1,
            gpu_offload_supported=False,
            gpu_layers=0,
            n_ctx=2048,
            n_threads=1,
        )
        return self.info

    def render(self, mode, text, context, sampling, cancel=None) -> RenderedPrompt:
        return RenderedPrompt(mode=mode.name, text=text, token_count=len(text.split()), context_used=0, dropped_turns=0)

    def stream(self, prompt, sampling, cancel: threading.Event, lease=None):
        sent = ""
        pieces = [self.answer[i : i + self.chunk] for i in range(0, len(self.answer), self.chunk)]
        for n, piece in enumerate(pieces, start=1):
            if cancel.is_set():
                yield Finished(sent, Metrics(ttft_s=0.05, tokens=n - 1, tokens_per_s=40.0, stop_reason="cancelled"))
                return
            if self.delay:
                time.sleep(self.delay)
            sent += piece
            yield TextDelta(piece, n, 0.05, 40.0)
        yield Finished(sent, Metrics(ttft_s=0.05, tokens=len(pieces), tokens_per_s=40.0, stop_reason="eos"))

    def close(self) -> None:
        pass


def scripted_sessions(answers: dict[str, str], delay: float = 0.0):
    """A session_factory for DuetApp whose panes answer with the given fixed text."""

    def factory(role, spec, mode, sampling):
        return PaneSession(
            role, spec, mode, sampling, engine_factory=lambda s: ScriptedEngine(s, answers[role], delay=delay)
        )

    return factory


def unloaded_session(role: str = "chat") -> PaneSession:
    """A session for a pane widget tested alone: the test feeds the pane its events."""
    return PaneSession(role, ModelSpec(source="scripted"), "chat", engine_factory=lambda s: ScriptedEngine(s, ""))
