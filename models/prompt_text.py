"""The text a prompt mode builds, and what it is built from: shared by the modes (prompts.py) and
aligned mode's layout (aligned/render.py), which both depend on these types and not on each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.aligned.prompt_file import PromptFileRef


@dataclass(frozen=True)
class Exchange:
    """One earlier user message and the answer the pane gave to it."""

    user: str
    assistant: str


@dataclass(frozen=True)
class PromptText:
    """The text a mode builds, before tokenization."""

    text: str
    add_bos: bool  # whether the tokenizer should add BOS (False when the template wrote it)
    uses_context: bool
    stop: tuple[str, ...] = ()
    prompt_file: PromptFileRef | None = None  # aligned mode: the prompt file it came from


# Renders chat messages with a model's template: messages -> PromptText.
ChatRenderer = Callable[[list[dict]], PromptText]
