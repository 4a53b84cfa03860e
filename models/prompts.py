"""Prompt modes: each one says exactly what text reaches the model for a typed message."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from models.aligned.render import build_aligned
from models.errors import DuetError
from models.prompt_text import ChatRenderer, Exchange, PromptText


@dataclass(frozen=True)
class PromptMode:
    name: str
    title: str
    description: str
    _build: Callable[[str, Sequence[Exchange], ChatRenderer | None], PromptText] = field(repr=False)
    # Everything before the conversation is the same for every message (aligned mode): the llama
    # engine evaluates it ahead and restores it before each answer (engines/llama/prefix_cache.py).
    fixed_prefix: bool = False

    def build(self, text: str, context: Sequence[Exchange], chat: ChatRenderer | None) -> PromptText:
        return self._build(text, context, chat)


def _raw(text: str, context: Sequence[Exchange], chat: ChatRenderer | None) -> PromptText:
    return PromptText(text=text, add_bos=True, uses_context=False)


def _inst(text: str, context: Sequence[Exchange], chat: ChatRenderer | None) -> PromptText:
    return PromptText(text=f"[INST]{text}[/INST]", add_bos=True, uses_context=False)


def _chat(text: str, context: Sequence[Exchange], chat: ChatRenderer | None) -> PromptText:
    if chat is None:
        raise DuetError(
            "this model has no chat template, so chat mode cannot format a conversation; "
            "switch the pane to raw or inst mode, or give it a chat format with --base-template, "
            "--chat-template or --third-template FORMAT (e.g. llama-2)"
        )
    messages: list[dict] = []
    for turn in context:
        messages.append({"role": "user", "content": turn.user})
        messages.append({"role": "assistant", "content": turn.assistant})
    messages.append({"role": "user", "content": text})
    return chat(messages)


def _aligned(text: str, context: Sequence[Exchange], chat: ChatRenderer | None) -> PromptText:
    return build_aligned(text, context)


RAW = PromptMode("raw", "Raw text", "The typed text, completed as-is; earlier turns are not sent.", _raw)
INST = PromptMode(
    "inst",
    "[INST] wrapping",
    "The typed text wrapped as [INST]text[/INST] (the course's Llama 2 style), completed as-is.",
    _inst,
)
CHAT = PromptMode(
    "chat", "Chat template", "The conversation so far, formatted by the model's own chat template.", _chat
)

ALIGNED = PromptMode(
    "aligned",
    "Aligned by a prompt",
    "A fixed header and worked question/answer examples (aligned.toml), the conversation so far in "
    "the same layout, then the typed text: a base model answering like an assistant, untrained.",
    _aligned,
    fixed_prefix=True,
)

# F2 cycles in this order: from plain continuation, through prompting, to the fine-tune's template.
MODES: dict[str, PromptMode] = {m.name: m for m in (RAW, INST, ALIGNED, CHAT)}
MODE_NAMES = tuple(MODES)


def get_mode(name: str) -> PromptMode:
    try:
        return MODES[name]
    except KeyError:
        raise DuetError(f"unknown prompt mode '{name}'; choose one of {', '.join(MODES)}") from None


def next_mode(name: str) -> str:
    names = list(MODES)
    return names[(names.index(name) + 1) % len(names)]
