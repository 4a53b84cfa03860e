"""LoRA adapter GGUFs made in the tests, for the embedded SmolLM2 135M, with the `gguf` package.

The layout is llama.cpp's (src/llama-adapter.cpp): ``general.type = "adapter"``,
``adapter.type = "lora"``, ``adapter.lora.alpha``, ``general.architecture`` the base model's, and
per adapted weight ``W`` (ne = [n_in, n_out]) two tensors, ``W.lora_a`` with ne [n_in, rank] and
``W.lora_b`` with ne [rank, n_out] (numpy shapes (rank, n_in) and (n_out, rank)). llama.cpp adds
``scale * alpha / rank * B @ A @ x`` to ``W @ x``.

The deltas are random low-rank matrices (seeded): they change the answers without training
anything, which is what the tests need. Run as a script to write one for the README's example::

    python -m tests.support.lora_gguf demo-lora.gguf
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFValueType, GGUFWriter


def smollm2_path() -> Path:
    from models.files.embedded import embedded_path

    return embedded_path("smollm2-135m-instruct")


@lru_cache(maxsize=4)
def model_layout(model: Path) -> tuple[str, dict[str, tuple[int, int]]]:
    """A model file's architecture and its 2-D weights: name -> (n_in, n_out), llama.cpp's ne[0], ne[1]."""
    reader = GGUFReader(model)
    arch = str(reader.fields["general.architecture"].contents())
    return arch, {t.name: (int(t.shape[0]), int(t.shape[1])) for t in reader.tensors if len(t.shape) == 2}


def write_lora(
    dst: Path,
    *,
    model: Path | None = None,
    targets: Iterable[str] = ("attn_q", "attn_v"),
    layers: Iterable[int] | None = None,
    rank: int = 8,
    alpha: float = 16.0,
    std: float = 0.05,
    seed: int = 0,
    architecture: str | None = None,
    general_type: str = "adapter",
    adapter_type: str = "lora",
    n_in: int | None = None,
    base_model_name: str | None = None,
    alora_invocation_tokens: list[int] | None = None,
) -> Path:
    """A LoRA adapter for ``model`` (the embedded SmolLM2 by default) adapting ``targets`` in
    ``layers`` (all). The other arguments make the broken kinds: another architecture, a file
    that is not an adapter or not a LoRA, another model size (``n_in``: the input width the
    adapter claims), a named base model, an aLoRA (its invocation tokens)."""
    model = model or smollm2_path()
    model_arch, shapes = model_layout(model)
    writer = GGUFWriter(dst, arch=architecture or model_arch)
    writer.add_type(general_type)
    writer.add_name("duet test adapter")
    if adapter_type:
        writer.add_string("adapter.type", adapter_type)
    writer.add_float32("adapter.lora.alpha", alpha)
    if base_model_name is not None:
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, base_model_name)
    if alora_invocation_tokens is not None:
        writer.add_key_value(
            "adapter.alora.invocation_tokens",
            alora_invocation_tokens,
            GGUFValueType.ARRAY,
            sub_type=GGUFValueType.UINT32,
        )
    rng = np.random.default_rng(seed)
    n_layers = 1 + max(int(name.split(".")[1]) for name in shapes if name.startswith("blk."))
    for layer in layers if layers is not None else range(n_layers):
        for target in targets:
            name = f"blk.{layer}.{target}.weight"
            width, height = shapes[name]
            width = n_in or width
            writer.add_tensor(f"{name}.lora_a", (rng.standard_normal((rank, width)) * std).astype(np.float32))
            writer.add_tensor(f"{name}.lora_b", (rng.standard_normal((height, rank)) * std).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-lora.gguf")
    write_lora(out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes): a rank-8 LoRA on attn_q and attn_v of SmolLM2 135M")
