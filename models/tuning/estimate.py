"""What a fine-tune will cost before it starts: memory, disk and time.

Memory is what llama.cpp's training holds at once: every weight in F32 (the model is trained in
F32, dequantized from the file), and for each trained weight its gradient and AdamW's two moments
(3 more F32 copies), plus the activations of one step: the logits and their gradient, and per
token and block the attention and feed-forward intermediates, kept for the backward pass. Checked
against runs of the embedded SmolLM2 at a 256-token context (peak RSS 2.55 GB for all blocks,
1.25 GB for the last 6, issue 24; 1.21 GB for the last 4 here): the estimate comes out 1-12 % above.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from models.files.gguf import GGUFHeader

_BLOCK = re.compile(r"^blk\.(\d+)\.")
NEVER_TRAINED = ("token_embd.", "rope_freqs.")  # llama.cpp's opt_init skips them whatever the filter says
RUNTIME_BYTES = 200 * 2**20  # the child's interpreter, llama.cpp's code and buffers
# Bytes of each output type per weight (Q8_0: 34 bytes per 32 weights; Q4_K_M mixes Q4_K and Q6_K).
OUTPUT_BYTES_PER_WEIGHT = {"q8_0": 34 / 32, "f16": 2.0, "q4_k_m": 0.62}
# F32 multiply-adds per second a step reaches per core, from the SmolLM2 runs above (2 busy cores:
# 5.1 s a step for all blocks, 1.8 s for the last 6).
FLOPS_PER_CORE = 20e9


@dataclass(frozen=True)
class ModelCounts:
    """Weights of a model, counted from its header's tensor table."""

    total: int
    trainable: int  # what the chosen blocks train
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_vocab: int


def count_weights(header: GGUFHeader, last_blocks: int | None) -> ModelCounts:
    arch = header.get("general.architecture")
    n_layer = _int(header.get(f"{arch}.block_count"))
    total = trainable = 0
    n_vocab = 0
    for tensor in header.tensors:
        name = tensor.name or ""
        total += tensor.elements
        if name.startswith("token_embd."):
            n_vocab = tensor.elements // max(1, _int(header.get(f"{arch}.embedding_length")))
        if trained(name, n_layer, last_blocks):
            trainable += tensor.elements
    n_embd = _int(header.get(f"{arch}.embedding_length"))
    return ModelCounts(
        total=total,
        trainable=trainable,
        n_layer=n_layer,
        n_embd=n_embd,
        n_ff=_int(header.get(f"{arch}.feed_forward_length")),
        n_head=_int(header.get(f"{arch}.attention.head_count")),
        n_vocab=n_vocab,
    )


def trained(name: str, n_layer: int, last_blocks: int | None) -> bool:
    """Whether the tensor ``name`` learns: every one llama.cpp trains, or only the last N blocks
    (and the output norm and matrix after them)."""
    if name.startswith(NEVER_TRAINED):
        return False
    if last_blocks is None:
        return True
    block = _BLOCK.match(name)
    if block is None:
        return name.startswith(("output_norm.", "output."))
    return int(block.group(1)) >= n_layer - last_blocks


@dataclass(frozen=True)
class Estimate:
    memory_bytes: int
    memory_available: int | None
    disk_bytes: int
    disk_free: int
    seconds: float
    steps: int

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def training_memory(counts: ModelCounts, n_ctx: int, last_blocks: int | None) -> int:
    weights = 4 * counts.total
    optimizer = 3 * 4 * counts.trainable  # gradient, AdamW m and v
    logits = 3 * 4 * n_ctx * counts.n_vocab  # logits, softmax, their gradient
    per_token_block = 8 * counts.n_embd + 3 * counts.n_ff + 2 * counts.n_head * n_ctx
    trained_blocks = counts.n_layer if last_blocks is None else min(last_blocks, counts.n_layer)
    # F32 intermediates of every block's forward pass and of the trained blocks' backward pass,
    # about half of them alive at once (ggml's allocator reuses what the backward pass is done with).
    activations = 2 * n_ctx * per_token_block * (counts.n_layer + trained_blocks)
    return weights + optimizer + logits + activations + RUNTIME_BYTES


def disk_needed(counts: ModelCounts, output: str) -> int:
    """The F32 working copy, the trained F32 file llama.cpp saves, and the output beside them."""
    return int(2 * 4 * counts.total + OUTPUT_BYTES_PER_WEIGHT[output] * counts.total * 1.02)


def seconds_per_step(counts: ModelCounts, n_ctx: int, cores: int) -> float:
    """A forward pass (2 flops a weight a token) and the backward pass of what is trained (4)."""
    flops = (2 * counts.total + 4 * counts.trainable) * n_ctx
    return flops / (FLOPS_PER_CORE * max(1, cores))


def available_memory() -> int | None:
    """What this process may still allocate: the system's MemAvailable, or the cgroup's limit."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _int(value) -> int:
    """An integer metadata value; per-layer arrays (Gemma's head counts) count at their largest."""
    if isinstance(value, list):
        return max((_int(v) for v in value), default=0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
