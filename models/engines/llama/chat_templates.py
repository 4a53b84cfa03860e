"""Chat mode's formatter: the model's own GGUF template, rendered in a bounded helper process
(template_sandbox.py), or a named llama-cpp-python chat format when the user overrides it."""

from __future__ import annotations

import threading
from typing import Protocol

from models.engines.llama.template_sandbox import SandboxedTemplate
from models.errors import DuetError
from models.files.info import ModelInfo
from models.prompts import PromptText

# Named formats a user may pick with chat_format (llama_chat_format function names).
NAMED_FORMATS = {
    "llama-2": "format_llama2",
    "llama-3": "format_llama3",
    "chatml": "format_chatml",
    "gemma": "format_gemma",
    "mistral-instruct": "format_mistral_instruct",
    "zephyr": "format_zephyr",
    "alpaca": "format_alpaca",
    "vicuna": "format_vicuna",
    "qwen": "format_qwen",
}


def chat_renderer_for(llama, info: ModelInfo, chat_format: str | None) -> TemplateRenderer | None:
    """How chat mode formats messages for this loaded model, or None when it has no template.

    A named format is llama-cpp-python's own Python code, rendered here; the model's template is
    a stranger's code, rendered in a bounded helper process (template_sandbox.py)."""
    from llama_cpp import llama_chat_format

    if chat_format:
        func_name = NAMED_FORMATS.get(chat_format)
        if func_name is None:
            raise DuetError(f"unknown chat format '{chat_format}'; choose one of {', '.join(NAMED_FORMATS)}")
        return _NamedFormat(getattr(llama_chat_format, func_name))
    if not (info.has_chat_template and info.chat_template is not None):
        return None
    template = SandboxedTemplate(info.chat_template, info.path)
    model = llama._model
    eos_id, bos_id = llama.token_eos(), llama.token_bos()
    template.eos = model.token_get_text(eos_id) if eos_id != -1 else ""
    template.bos = model.token_get_text(bos_id) if bos_id != -1 else ""
    return template


class TemplateRenderer(Protocol):
    """A ChatRenderer that also hears Esc (``cancel``) and holds something to release."""

    def __call__(self, messages: list[dict], cancel: threading.Event | None = None) -> PromptText: ...

    def close(self) -> None: ...


class _NamedFormat:
    def __init__(self, formatter) -> None:
        self._formatter = formatter

    def __call__(self, messages: list[dict], cancel: threading.Event | None = None) -> PromptText:
        try:
            result = self._formatter(messages=messages)
        except Exception as err:
            raise DuetError(f"the chat format failed to render ({err}); try raw or inst mode") from None
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return PromptText(
            text=result.prompt,
            add_bos=not result.added_special,
            uses_context=True,
            stop=tuple(s for s in stop if s),
        )

    def close(self) -> None:
        pass
