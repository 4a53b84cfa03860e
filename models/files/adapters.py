"""LoRA adapter files: where one is on disk, and whether it can go on a given model.

Checked here, from the GGUF header (models/files/gguf.py, bounded), before llama.cpp sees the
file, so each refusal is one line that names the file and the fix: a missing file, a file that is
not an adapter, an adapter that is not a LoRA, an activated LoRA (aLoRA: llama.cpp applies it only
after its invocation tokens, which Duet's generation does not track), and one made for another
architecture. A shape mismatch (another model size) is found by llama.cpp while it loads the
tensors; models/engines/llama/adapters.py words that one.

llama.cpp's converter (convert_lora_to_gguf.py) names the model an adapter was trained on in
``general.base_model.0.name``; when that differs from the loaded model's ``general.name`` the
adapter still loads (shapes can match across checkpoints) with a one-line warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from models.errors import DuetError
from models.files.gguf import ADAPTER_FILE, read_header
from models.files.hub_spec import HF_PREFIX, parse_hf_spec

ALORA_KEY = "adapter.alora.invocation_tokens"


class AdapterInfo(BaseModel):
    """What a loaded adapter is, for `duet info` and the pane: from its header."""

    source: str
    path: str
    name: str
    alpha: float | None
    base_model: str | None  # general.base_model.0.name, when the converter wrote it
    tensors: int


@dataclass(frozen=True)
class AdapterFile:
    info: AdapterInfo
    architecture: str


def adapter_path(source: str) -> Path:
    """The file behind an adapter source (a path, or an hf: spec already pulled); never the network."""
    source = source.strip()
    if source.startswith(HF_PREFIX):
        from models.hub import cached_path

        hub = parse_hf_spec(source)
        path = cached_path(hub)
        if path is None:
            raise DuetError(f"the adapter {hub.spec} is not downloaded yet; run: duet models pull {hub.spec}")
        return path
    path = Path(source).expanduser()
    if not path.exists():
        raise DuetError(
            f"adapter file {path} does not exist; give the path of a LoRA adapter .gguf "
            "(llama.cpp's convert_lora_to_gguf.py makes one from a PEFT adapter) or hf:OWNER/REPO/FILE.gguf"
        )
    return path


def read_adapter(source: str) -> AdapterFile:
    """The adapter's header, checked; DuetError naming the file and the fix when it is unusable."""
    path = adapter_path(source)
    header = read_header(path, ADAPTER_FILE)  # its errors say "adapter file", not "model file"
    kind = _text(header.get("general.type"))
    if kind != "adapter":
        what = f"general.type is '{kind}'" if kind else "it has no general.type"
        raise DuetError(
            f"{path} is not a LoRA adapter ({what}); pass a model with --base/--chat, "
            "and an adapter .gguf (convert_lora_to_gguf.py output) with --base-lora/--chat-lora"
        )
    adapter_type = _text(header.get("adapter.type"))
    if adapter_type != "lora":
        raise DuetError(
            f"{path} is a '{adapter_type or 'unknown'}' adapter, not a LoRA; Duet applies LoRA adapters only "
            "(a control vector, say, is not one)"
        )
    if ALORA_KEY in header.metadata:
        raise DuetError(
            f"{path} is an activated LoRA (aLoRA), which Duet does not support; "
            "convert the adapter as a plain LoRA (without alora_invocation_tokens)"
        )
    alpha = header.get("adapter.lora.alpha")
    info = AdapterInfo(
        source=source,
        path=str(path),
        name=_text(header.get("general.name")) or path.name,
        alpha=float(alpha) if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) else None,
        base_model=_text(header.get("general.base_model.0.name")),
        tensors=header.tensor_count,
    )
    return AdapterFile(info, _text(header.get("general.architecture")) or "unknown")


def check_fits(adapter: AdapterFile, architecture: str) -> None:
    """DuetError when the adapter was made for another architecture than the loaded model's."""
    if adapter.architecture != architecture:
        raise DuetError(
            f"{adapter.info.path} is an adapter for {adapter.architecture} models but this pane runs a "
            f"{architecture} model; load it on the model it was trained from"
        )


def base_model_warning(adapter: AdapterInfo, model_name: str) -> str | None:
    """One line when the adapter names a base model other than the loaded one (None: same, or unnamed)."""
    if adapter.base_model is None or _normal(adapter.base_model) == _normal(model_name):
        return None
    return (
        f"the adapter {Path(adapter.path).name} was trained on '{adapter.base_model}' but this pane runs "
        f"'{model_name}': the shapes match, so it is applied, but its effect may not be what it was trained for"
    )


def _normal(name: str) -> str:
    return re.sub(r"[\s_.-]+", "", name).lower()


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
