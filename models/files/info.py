"""What Duet knows about a model file, read from its GGUF metadata."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from models.files.adapters import AdapterInfo
from models.files.gguf import FILE_TYPES, GGUFHeader
from models.placement.records import GpuPlan, ReportedBuffer

_QUANT_IN_NAME = re.compile(r"(?i)(I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32)(?=\.gguf$|[-.])")


class ModelInfo(BaseModel):
    path: str
    label: str
    architecture: str
    name: str
    size_label: str | None
    quantization: str | None
    context_length: int | None
    n_layers: int | None
    has_chat_template: bool
    chat_template: str | None = None
    file_size: int
    sliding_window: int | None = None  # attention window of SWA models (Gemma 2/3, ...)
    # Filled in once llama.cpp has loaded the model:
    gpu_offload_supported: bool | None = None
    gpu_layers: int | None = None  # what llama.cpp placed on a GPU, from its load log (engines/llama/load_log.py)
    gpu_layers_requested: int | None = None  # the n_gpu_layers it was asked for (-1: all)
    gpu_plan: GpuPlan | None = None  # the planner's split, when the panes were planned (models/placement)
    buffers: list[ReportedBuffer] = []  # the buffers llama.cpp reported while loading
    n_ctx: int | None = None
    n_threads: int | None = None  # pinned with --threads; None: a share of the cores (models/threads.py)
    cpu_cores: int | None = None
    adapters: list[AdapterInfo] = []  # LoRA adapters loaded on it (models/engines/llama/adapters.py)
    warnings: list[str] = []  # one line each, shown once (an adapter trained on another base model)

    @property
    def placement(self) -> str:
        """'CPU', how many layers went to the GPU, or 'server', for a pane header."""
        if self.architecture == "remote":
            return "server"
        total = (self.n_layers or 0) + 1  # llama.cpp counts the output layer too
        where = f"GPU {min(self.gpu_layers, total)}/{total} layers" if self.gpu_layers else "CPU"
        if self.gpu_plan is not None and self.gpu_plan.split and self.gpu_offload_supported:
            where += f" · {self.gpu_plan.note()}"  # why it is split: the plan of every pane
        return where

    def summary(self) -> str:
        parts = [self.name, self.size_label, self.quantization]
        return " · ".join(p for p in parts if p)


def model_info_from_header(header: GGUFHeader, label: str) -> ModelInfo:
    # Every value is typed by the file, not by its key: a field of the wrong type is left out.
    arch = _text(header.get("general.architecture")) or "unknown"
    template = header.get("tokenizer.chat_template")
    file_type = header.get("general.file_type")
    quant = FILE_TYPES.get(file_type) if isinstance(file_type, int) else None
    if quant is None:
        match = _QUANT_IN_NAME.search(Path(header.path).name)
        quant = match.group(1).upper() if match else None
    return ModelInfo(
        path=str(header.path),
        label=label,
        architecture=arch,
        name=readable_name(header) or label,
        size_label=_text(header.get("general.size_label")),
        quantization=quant,
        context_length=_positive_int(header.get(f"{arch}.context_length")),  # range-checked by gguf_checks
        n_layers=_positive_int(header.get(f"{arch}.block_count")),
        has_chat_template=isinstance(template, str) and bool(template.strip()),
        chat_template=template if isinstance(template, str) else None,
        file_size=header.file_size,
        sliding_window=_positive_int(header.get(f"{arch}.attention.sliding_window")),
    )


def readable_name(header: GGUFHeader) -> str | None:
    """The model's name as a person would say it: general.name, unless the converter built it from
    the fine-tune's run tag (SmolLM2's is "Smollm2 135M 8k Lc100K Mix1 Ep2", from general.finetune
    "8k-lc100k-mix1-ep2"): then general.basename ("smollm2"; summary() adds the size label)."""
    name = _text(header.get("general.name"))
    basename, finetune = _text(header.get("general.basename")), _text(header.get("general.finetune"))
    if name and basename and finetune and _squashed(finetune) in _squashed(name):
        return basename
    return name


def _squashed(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _positive_int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None
