"""The lesson layout: prompting and fine-tuning side by side, on the same message.

Three panes: the base model as it is (raw mode: it continues the text), the same base model
aligned by a prompt alone (aligned mode: a header and worked examples, no training), and the
chat fine-tune (its chat template). The middle pane runs the base pane's model file again;
llama.cpp maps a model's weights from the file, so a second pane on the same file shares those
pages and costs only its own KV cache and buffers (README, "Aligned by a prompt", has the PSS).
"""

from __future__ import annotations

from models.pair import PaneConfig
from models.settings import ModelSpec

LESSON_ROLE = "aligned"  # the middle pane's role: its name in headers, history and reports
LESSON_MODE = "aligned"
LESSON_MODES = {"base": "raw", LESSON_ROLE: LESSON_MODE, "chat": "chat"}
# What the three panes show, said where they show it (the lesson layout's line above the panes)
LESSON_TAKEAWAY = (
    "Lesson: a prompt alone gives the base model an assistant's style (aligned pane); "
    "the substance, what it knows and how well it reasons, comes from training (chat pane)"
)


def lesson_config(base: ModelSpec) -> PaneConfig:
    """The middle pane: the base pane's model (file, context, adapters) in aligned mode."""
    return PaneConfig(LESSON_ROLE, base, LESSON_MODE)


def with_lesson_pane(configs: list[PaneConfig]) -> list[PaneConfig]:
    """``configs`` with the aligned pane right after the base pane (unchanged when it is there
    already, or there is no base pane to copy)."""
    roles = [c.role for c in configs]
    if LESSON_ROLE in roles or "base" not in roles:
        return list(configs)
    at = roles.index("base") + 1
    return [*configs[:at], lesson_config(configs[at - 1].spec), *configs[at:]]
