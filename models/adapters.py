"""LoRA adapters as a pane's settings: ``ADAPTER[@SCALE]`` as users write it, the live strength
steps, and the short label a header or report shows.

An adapter is part of what a pane loads (``ModelSpec.adapters``), not a pane kind of its own; its
scale changes between turns like sampling does (PaneSession.set_adapters). The file side (what an
adapter GGUF must hold) is models/files/adapters.py; applying one is the llama engine's
(models/engines/llama/adapters.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath

from pydantic import ValidationError

from models.errors import DuetError, first_field_error
from models.settings import ADAPTER_SCALE_MAX, AdapterSpec

# ctrl+t / ctrl+g move every adapter of the active pane by one step, within 0..LIVE_MAX.
STEP = 0.25
LIVE_MAX = 1.5


def parse_adapter(text: str) -> AdapterSpec:
    """``ADAPTER[@SCALE]`` -> AdapterSpec (scale 1 when not given); DuetError when malformed.

    ADAPTER is a path or ``hf:OWNER/REPO/FILE.gguf[@REVISION]``. A last ``@`` followed by a number
    is the scale, so ``hf:o/r/f.gguf@main@0.5`` is revision main at scale 0.5.
    """
    text = text.strip()
    source, scale = text, 1.0
    head, at, tail = text.rpartition("@")
    if at:
        try:
            scale = float(tail)
        except ValueError:
            pass  # an hf: revision, or an @ inside a file name
        else:
            source = head
    if not source:
        raise DuetError(f"'{text}' names no adapter; write ADAPTER[@SCALE], e.g. my-lora.gguf@0.5")
    if not 0.0 <= scale <= ADAPTER_SCALE_MAX:  # nan too
        raise DuetError(f"adapter '{text}': the scale {tail} is outside 0 (off) to {ADAPTER_SCALE_MAX:g}")
    try:
        return AdapterSpec(source=source, scale=scale)
    except ValidationError as err:
        field, message = first_field_error(err)
        raise DuetError(f"adapter '{text}': {field or 'value'}: {message}") from None


def stepped(adapters: Iterable[AdapterSpec], steps: int) -> tuple[AdapterSpec, ...]:
    """Every adapter ``steps`` steps stronger (negative: weaker), kept within 0..LIVE_MAX; a scale
    already above LIVE_MAX (from the command line) is not raised further, and lowering starts
    from it."""
    changed = []
    for adapter in adapters:
        scale = adapter.scale + steps * STEP
        if steps > 0:
            scale = max(adapter.scale, min(scale, LIVE_MAX))
        scale = round(max(0.0, scale), 4)
        changed.append(adapter.model_copy(update={"scale": scale}))
    return tuple(changed)


def adapter_name(adapter: AdapterSpec) -> str:
    """The file name without its folder and .gguf: what a pane header has room for."""
    name = PurePath(adapter.source.split("@")[0] if adapter.source.startswith("hf:") else adapter.source).name
    return name[:-5] if name.lower().endswith(".gguf") else name


def adapters_label(adapters: Iterable[AdapterSpec]) -> str:
    """``+ name ×0.75`` for each adapter, joined: '' when there are none."""
    return " ".join(f"+{adapter_name(a)} ×{a.scale:g}" for a in adapters)


def adapter_records(adapters: Iterable[AdapterSpec]) -> list[dict]:
    """The JSON shape `--json` panes, history and reports use: [{"source": ..., "scale": ...}]."""
    return [{"source": a.source, "scale": a.scale} for a in adapters]


def records_label(records: Iterable[dict] | None) -> str:
    """adapters_label for the record shape (a --json pane, a history row, a report): '' for none;
    a malformed record (an old or edited history file) is left out rather than failing a report."""
    adapters = []
    for record in records or ():
        try:
            adapters.append(AdapterSpec(source=record["source"], scale=record.get("scale", 1.0)))
        except (KeyError, TypeError, AttributeError, ValidationError):
            continue
    return adapters_label(adapters)
