"""One name per model wherever a saved conversation lists it (F6, `duet history list`).

A pane records its model's label once the model is loaded (the catalog or embedded name, the file
name of a path, the file of an hf: source) and its source string when the load failed, so the
same model could be listed as "gemma-3-270m", "embedded:gemma-3-270m" or
"/home/me/models/gemma-3-270m-q4_k_m.gguf". Listed, the prefix and the folders go.
"""

from __future__ import annotations

from pathlib import PurePath

_PREFIXES = ("embedded:", "hf:")


def model_name(model: str) -> str:
    """``embedded:NAME`` -> NAME; a path or an hf: file -> its file name; anything else as it is."""
    name = model.strip()
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name.lower().endswith(".gguf") or "/" in name:
        name = PurePath(name.split("@", 1)[0]).name or name
    return name


def model_names(conversation: dict) -> str:
    """A conversation's models (of its latest turn), pane by pane: ``gemma-3-270m vs smollm2-135m-instruct``."""
    return " vs ".join(model_name(str(m)) for m in (conversation.get("models") or {}).values())
