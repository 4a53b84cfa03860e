"""LoRA adapters on one llama.cpp model, through llama.cpp's adapter API.

Not ``Llama(lora_path=...)``: that takes one adapter, turns mmap off (the second pane of the same
file would then cost a full copy of the weights), and tests the ctypes pointer it gets against
None, which a NULL pointer never is, so a file llama.cpp rejected would be applied as a null
adapter. Here every adapter is loaded with ``llama_adapter_lora_init`` and a NULL result is an
error; which adapters the context applies, at what scale, is set with ``llama_set_adapters_lora``.

llama.cpp leaves an adapter whose scale is 0 out of the graph altogether, so scale 0 computes
exactly what the model alone does. A new set of scales changes every key and value the model
would compute, so the caller forgets the KV cache after `apply` (LlamaEngine.set_adapters).

Everything here runs on the pane's worker thread, like every other call on the model.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.engines.llama import runtime
from models.errors import DuetError
from models.files.adapters import AdapterInfo, base_model_warning, check_fits, read_adapter
from models.files.info import ModelInfo
from models.settings import AdapterSpec

if TYPE_CHECKING:
    from llama_cpp import Llama

_REFUSAL = "failed to apply lora adapter:"  # what llama.cpp logs before the reason


class LoadedAdapters:
    """The adapters loaded on one model (each file once), and the set its context applies now."""

    def __init__(self, llama: Llama, model: ModelInfo) -> None:
        self._lib = runtime.llama_cpp().llama_cpp
        self._llama = llama
        self._model = model
        self._loaded: dict[str, tuple[Any, AdapterInfo]] = {}  # by source: the pointer and its header
        self.applied: tuple[AdapterSpec, ...] = ()
        self.warnings: list[str] = []

    def infos(self, adapters: Sequence[AdapterSpec]) -> list[AdapterInfo]:
        return [self._loaded[a.source][1] for a in adapters if a.source in self._loaded]

    def apply(self, adapters: Sequence[AdapterSpec]) -> None:
        """Load the adapters not loaded yet, then make exactly these, at these scales, the ones the
        context applies. DuetError (one line naming the file and the fix) when one cannot be
        loaded; the set applied before stays as it was."""
        sources = [a.source for a in adapters]
        twice = next((s for s in sources if sources.count(s) > 1), None)
        if twice is not None:
            raise DuetError(f"the adapter {twice} is given twice for one pane; give it once, with the scale you want")
        for adapter in adapters:
            if adapter.source not in self._loaded:
                self._load(adapter.source)
        pointers = [self._loaded[a.source][0] for a in adapters]
        array = (self._lib.llama_adapter_lora_p_ctypes * len(pointers))(*pointers)
        scales = (ctypes.c_float * len(pointers))(*(a.scale for a in adapters))
        if self._lib.llama_set_adapters_lora(self._llama.ctx, array, len(pointers), scales) != 0:
            raise DuetError(f"llama.cpp refused to apply the adapters {', '.join(sources)} to {self._model.path}")
        self.applied = tuple(adapters)

    def _load(self, source: str) -> None:
        adapter = read_adapter(source)
        check_fits(adapter, self._model.architecture)
        path = adapter.info.path
        runtime.clear_log()
        pointer = self._lib.llama_adapter_lora_init(self._llama.model, path.encode("utf-8"))
        if not pointer:  # a NULL LP_c_void_p is falsy but never None
            raise DuetError(_refusal(path, self._model))
        self._loaded[source] = (pointer, adapter.info)
        warning = base_model_warning(adapter.info, self._model.name)
        if warning:
            self.warnings.append(warning)

    def free(self) -> None:
        """Take every adapter off the context and free it (before the model itself is closed)."""
        if not self._loaded:
            return
        self._lib.llama_set_adapters_lora(self._llama.ctx, None, 0, None)
        for pointer, _info in self._loaded.values():
            self._lib.llama_adapter_lora_free(pointer)
        self._loaded.clear()
        self.applied = ()


def _refusal(path: str, model: ModelInfo) -> str:
    """llama.cpp's reason for refusing an adapter (from its log), as one line with the fix."""
    reason = next(
        (line.split(_REFUSAL, 1)[1].strip() for line in reversed(runtime.recent_log()) if _REFUSAL in line),
        "",
    )
    name = Path(path).name
    if "incorrect shape" in reason or "does not exist in base model" in reason:
        detail = reason.split(" (hint", 1)[0]
        return (
            f"the adapter {name} does not fit {model.label}: {detail}; it was made for another model or "
            f"model size; use an adapter trained on {model.name}"
        )
    return (
        f"llama.cpp could not load the adapter {path}: {reason or 'no reason given'}; "
        "the file may be damaged or need a newer llama-cpp-python"
    )
