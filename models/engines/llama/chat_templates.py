"""Chat mode's formatter: the model's own GGUF template, rendered by llama-cpp-python's sandboxed
Jinja formatter, or a named llama-cpp-python chat format when the user overrides it."""

from __future__ import annotations

from models.errors import DuetError
from models.files.info import ModelInfo
from models.prompts import ChatRenderer, PromptText

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


def chat_renderer_for(llama, info: ModelInfo, chat_format: str | None) -> ChatRenderer | None:
    """How chat mode formats messages for this loaded model, or None when it has no template."""
    from llama_cpp import llama_chat_format

    if chat_format:
        func_name = NAMED_FORMATS.get(chat_format)
        if func_name is None:
            raise DuetError(f"unknown chat format '{chat_format}'; choose one of {', '.join(NAMED_FORMATS)}")
        formatter = getattr(llama_chat_format, func_name)
    elif info.has_chat_template and info.chat_template is not None:
        model = llama._model
        eos_id, bos_id = llama.token_eos(), llama.token_bos()
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=info.chat_template,
            eos_token=model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )
    else:
        return None

    def render(messages: list[dict]) -> PromptText:
        try:
            result = formatter(messages=messages)
        except Exception as err:  # a template is untrusted code from the model file
            raise DuetError(f"the model's chat template failed to render ({err}); try raw or inst mode") from None
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        return PromptText(
            text=result.prompt,
            add_bos=not result.added_special,
            uses_context=True,
            stop=tuple(s for s in stop if s),
        )

    return render
