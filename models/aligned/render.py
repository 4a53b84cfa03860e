"""What a pane in aligned mode sends: the prompt file's header and examples, the conversation so far
in the same question/answer layout, then the typed message and the start of an answer.

The text, for the markers QS, AS and AE (``[layout]`` in the prompt file; by default
``Question:``, ``Answer:`` and ``<end>``)::

    HEADER

    QS question of example 1
    AS answer of example 1
    AE

    ... every other example, then every earlier exchange, the same way ...

    QS the typed message
    AS

A question or answer follows its marker after one space (and may run over several lines); both
are stripped of the blank space around them. The answer ends at AE or at a line starting with QS
(the stop strings), before the model writes another question itself. Everything up to the last
QS is the same for every message of a new conversation: the engine evaluates that fixed prefix
ahead and keeps it (models/engines/llama/prefix_cache.py). Nothing but a line break and the
answer marker follows the typed message (the answer's first words go on the marker's line), so a
message costs its own tokens and about three more before its answer starts.

Which prompt file is used is process-wide: the built-in one until ``use_prompt_file`` is given
another (tui/config.py does, with the user's ``aligned.toml``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from models.prompt_text import Exchange, PromptText

if TYPE_CHECKING:  # prompt_file's pydantic models cost ~20 ms of imports, before the models load at start-up
    from models.aligned.prompt_file import AlignedPrompt, AlignedPromptFile

_lock = threading.Lock()
_active: AlignedPromptFile | None = None


def active_prompt_file() -> AlignedPromptFile:
    """The prompt file aligned mode uses now (the built-in one unless another was chosen)."""
    global _active
    with _lock:
        if _active is None:
            from models.aligned.prompt_file import builtin_prompt_file

            _active = builtin_prompt_file()
        return _active


def use_prompt_file(prompt_file: AlignedPromptFile | None) -> None:
    """Use ``prompt_file`` from the next message on (None: the built-in one again)."""
    global _active
    with _lock:
        _active = prompt_file


def block(prompt: AlignedPrompt, question: str, answer: str) -> str:
    """One question and its answer in the layout, with the blank line that follows it."""
    layout = prompt.layout
    return (
        f"{layout.question_start} {question.strip()}\n{layout.answer_start} {answer.strip()}\n{layout.answer_end}\n\n"
    )


def fixed_prefix(prompt: AlignedPrompt) -> str:
    """The header and every example: what comes before the conversation."""
    return prompt.header + "\n\n" + "".join(block(prompt, e.question, e.answer) for e in prompt.example)


def build_aligned(text: str, context: Sequence[Exchange], prompt_file: AlignedPromptFile | None = None) -> PromptText:
    """Aligned mode's prompt for ``text`` after the earlier exchanges ``context``."""
    prompt_file = prompt_file or active_prompt_file()
    prompt = prompt_file.prompt
    layout = prompt.layout
    body = fixed_prefix(prompt) + "".join(block(prompt, turn.user, turn.assistant) for turn in context)
    body += f"{layout.question_start} {text.strip()}\n{layout.answer_start}"
    return PromptText(text=body, add_bos=True, uses_context=True, stop=layout.stops(), prompt_file=prompt_file.ref)
