"""The amplified pane among the panes of a comparison: its config, taken from the chat pane (the
tuned model) and the base model pairing.py picks for it."""

from __future__ import annotations

from models.amplify.pairing import amplify_base
from models.errors import DuetError
from models.pair import PaneConfig

AMPLIFIED_ROLE = "amplified"  # the pane's role: its name in headers, history and reports


def amplified_config(configs: list[PaneConfig], factor: float) -> PaneConfig:
    """The amplified pane for these panes at ``factor``, in the chat pane's mode."""
    by_role = {c.role: c for c in configs}
    tuned = by_role.get("chat")
    if tuned is None:
        raise DuetError("an amplified pane needs a chat pane (the tuned model)")
    base = by_role.get("base")
    amplify = amplify_base(tuned.spec, base.spec if base is not None else None)
    spec = tuned.spec.model_copy(update={"amplify": amplify.model_copy(update={"factor": factor})})
    return PaneConfig(AMPLIFIED_ROLE, spec, tuned.mode)


def with_amplified_pane(configs: list[PaneConfig], factor: float) -> list[PaneConfig]:
    """``configs`` with the amplified pane last (its factor set to ``factor`` when it is there already)."""
    kept = [c for c in configs if c.role != AMPLIFIED_ROLE]
    return [*kept, amplified_config(kept, factor)]
