"""A small Llama GGUF whose matrices x86 llama.cpp repacks (IQ4_NL: an AVX2 CPU_REPACK type that has no
AMX kernel, so an AMX build's AMX buffer leaves it to the repack buffer too), with a feed-forward
width that is not a multiple of 8 rows (left mapped) and tied embeddings (the output layer's copy
is repacked). The tensor data is a hole in a sparse file: llama.cpp loads it without running it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter

from benchmarks.random_gguf import LlamaShape, _align, _metadata

Q = GGMLQuantizationType
SHAPE = LlamaShape(n_layer=2, n_embd=256, n_head=8, n_head_kv=4, n_ff=260, n_vocab=2048, tied=True)
_BLOCKS = {Q.IQ4_NL: (32, 18), Q.F16: (1, 2), Q.F32: (1, 4)}


def tensors(shape: LlamaShape = SHAPE) -> list[tuple[str, tuple[int, ...], GGMLQuantizationType]]:
    embd, ff, kv = shape.n_embd, shape.n_ff, shape.n_head_kv * (shape.n_embd // shape.n_head)
    out = [("token_embd.weight", (embd, shape.n_vocab), Q.IQ4_NL)]
    for i in range(shape.n_layer):
        out += [
            (f"blk.{i}.attn_norm.weight", (embd,), Q.F32),
            (f"blk.{i}.attn_q.weight", (embd, embd), Q.IQ4_NL),
            (f"blk.{i}.attn_k.weight", (embd, kv), Q.IQ4_NL),
            (f"blk.{i}.attn_v.weight", (embd, kv), Q.IQ4_NL),
            (f"blk.{i}.attn_output.weight", (embd, embd), Q.IQ4_NL),
            (f"blk.{i}.ffn_norm.weight", (embd,), Q.F32),
            (f"blk.{i}.ffn_gate.weight", (embd, ff), Q.IQ4_NL),  # 260 rows: not repacked
            (f"blk.{i}.ffn_up.weight", (embd, ff), Q.IQ4_NL),
            (f"blk.{i}.ffn_down.weight", (ff, embd), Q.F16),  # 260 columns: no IQ4_NL blocks
        ]
    return [*out, ("output_norm.weight", (embd,), Q.F32)]


def write_repackable(path: Path) -> Path:
    writer = GGUFWriter(path, arch="llama")
    _metadata(writer, SHAPE, "repackable llama", 25)  # llama_ftype 25: MOSTLY_IQ4_NL
    total = 0
    for name, ne, qtype in tensors():
        per_block, block_bytes = _BLOCKS[qtype]
        nbytes = int(np.prod(ne)) // per_block * block_bytes
        writer.add_tensor_info(name, list(reversed(ne)), np.dtype(np.float32), nbytes, raw_dtype=qtype)
        total += _align(nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with path.open("r+b") as fh:
        fh.seek(0, 2)
        fh.truncate(_align(fh.tell()) + total)
    return path
