"""Llama-architecture GGUF files of any shape, made with the `gguf` package: random weights or none.

``weights="random"``: every matrix is Q8_0 with random int8 values and small scales, the norms are
ones. llama.cpp loads and runs it like a real model (the answers are noise, which is all that GPU
placement and Duet's overhead need). ``weights="none"``: a Q4_K_M-like file (Q4_K matrices, Q6_K
for the output and for attn_v and ffn_down in some layers, as llama.cpp's quantize makes them) whose tensor data is a hole
in a sparse file: its header is exactly a real 7B model's, for the planner's tests, at no disk cost.

    python -m benchmarks.random_gguf OUT.gguf [--layers 4 --embd 256 --heads 8 --kv-heads 4 --ff 512 --vocab 2048]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, TokenType

Q = GGMLQuantizationType
_BLOCK_BYTES = {Q.Q8_0: (32, 34), Q.Q4_K: (256, 144), Q.Q6_K: (256, 210), Q.F32: (1, 4)}
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class LlamaShape:
    n_layer: int = 4
    n_embd: int = 256
    n_head: int = 8
    n_head_kv: int = 4
    n_ff: int = 512
    n_vocab: int = 2048
    context_length: int = 4096
    tied: bool = True  # no output.weight: llama.cpp uses the token embeddings as the output matrix


LLAMA_2_7B = LlamaShape(32, 4096, 32, 32, 11008, 32000, 4096, tied=False)
LLAMA_3_1_8B = LlamaShape(32, 4096, 32, 8, 14336, 128256, 131072, tied=False)


def write_llama(path: Path, shape: LlamaShape, weights: str = "random", seed: int = 0, name: str = "") -> Path:
    """A Llama GGUF of ``shape`` at ``path``: ``weights`` "random" (Q8_0, runnable) or "none" (sparse)."""
    if weights not in ("random", "none"):
        raise ValueError(f"weights must be 'random' or 'none', not {weights!r}")
    writer = GGUFWriter(path, arch="llama")
    _metadata(writer, shape, name or f"random llama {shape.n_layer}x{shape.n_embd}", 15 if weights == "none" else 7)
    tensors = _tensors(shape, quantized=weights == "none")
    rng = np.random.default_rng(seed)
    if weights == "none":
        for tensor_name, ne, qtype in tensors:
            nbytes = _nbytes(ne, qtype)
            writer.add_tensor_info(tensor_name, list(reversed(ne)), np.dtype(np.float32), nbytes, raw_dtype=qtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        writer.close()
        total = sum(_padded(_nbytes(ne, qtype)) for _, ne, qtype in tensors)
        with path.open("r+b") as fh:  # the data is a hole: a sparse file as large as the real one
            fh.seek(0, 2)
            fh.truncate(_align(fh.tell()) + total)
        return path
    for tensor_name, ne, qtype in tensors:
        writer.add_tensor(tensor_name, _random_data(rng, ne, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _metadata(writer: GGUFWriter, shape: LlamaShape, name: str, file_type: int) -> None:
    writer.add_name(name)
    writer.add_file_type(file_type)  # llama_ftype: 7 MOSTLY_Q8_0, 15 MOSTLY_Q4_K_M
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.n_embd // shape.n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(shape.n_vocab)
    tokens, scores, types = _vocabulary(shape.n_vocab)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_chat_template(CHATML)


def _vocabulary(n_vocab: int) -> tuple[list[str], list[float], list[int]]:
    """A SentencePiece vocabulary that tokenizes any text: the specials, 256 byte tokens, then pieces."""
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [TokenType.BYTE] * 256
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    pieces = ["\u2581", *letters, *(f"\u2581{c}" for c in letters)]
    pieces += [f"\u2581w{i}" for i in range(max(0, n_vocab - len(tokens) - len(pieces)))]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    if len(tokens) < n_vocab or n_vocab < 320:
        raise ValueError(f"a vocabulary needs at least 320 tokens, not {n_vocab}")
    tokens, types = tokens[:n_vocab], types[:n_vocab]
    scores = [0.0] * 261 + [-float(i) for i in range(n_vocab - 261)]
    return tokens, scores, [int(t) for t in types]


def _tensors(shape: LlamaShape, quantized: bool) -> list[tuple[str, tuple[int, ...], GGMLQuantizationType]]:
    """(name, ne, type) of every tensor, llama.cpp's ne order (columns first)."""
    matrix, heavy = (Q.Q4_K, Q.Q6_K) if quantized else (Q.Q8_0, Q.Q8_0)
    embd, ff = shape.n_embd, shape.n_ff
    kv = shape.n_head_kv * (embd // shape.n_head)
    out: list[tuple[str, tuple[int, ...], GGMLQuantizationType]] = [
        ("token_embd.weight", (embd, shape.n_vocab), heavy if shape.tied else matrix)
    ]
    for i in range(shape.n_layer):
        more = heavy if _more_bits(i, shape.n_layer) else matrix
        out += [
            (f"blk.{i}.attn_norm.weight", (embd,), Q.F32),
            (f"blk.{i}.attn_q.weight", (embd, embd), matrix),
            (f"blk.{i}.attn_k.weight", (embd, kv), matrix),
            (f"blk.{i}.attn_v.weight", (embd, kv), more),
            (f"blk.{i}.attn_output.weight", (embd, embd), matrix),
            (f"blk.{i}.ffn_norm.weight", (embd,), Q.F32),
            (f"blk.{i}.ffn_gate.weight", (embd, ff), matrix),
            (f"blk.{i}.ffn_up.weight", (embd, ff), matrix),
            (f"blk.{i}.ffn_down.weight", (ff, embd), more),
        ]
    out.append(("output_norm.weight", (embd,), Q.F32))
    if not shape.tied:
        out.append(("output.weight", (embd, shape.n_vocab), heavy))
    return out


def _more_bits(layer: int, n_layer: int) -> bool:
    """Q4_K_M's layers whose attn_v and ffn_down get Q6_K (llama-quant.cpp, use_more_bits)."""
    return layer < n_layer // 8 or layer >= 7 * n_layer // 8 or (layer - n_layer // 8) % 3 == 2


def _nbytes(ne: tuple[int, ...], qtype: GGMLQuantizationType) -> int:
    per_block, block_bytes = _BLOCK_BYTES[qtype]
    if ne[0] % per_block:
        raise ValueError(f"a {qtype.name} row holds whole blocks of {per_block}; {ne[0]} is not a multiple")
    return int(np.prod(ne)) // per_block * block_bytes


def _random_data(rng: np.random.Generator, ne: tuple[int, ...], qtype: GGMLQuantizationType) -> np.ndarray:
    """Tensor data as numpy expects it: F32 ones for norms, Q8_0 blocks of random int8 for matrices."""
    if qtype == Q.F32:
        return np.ones(tuple(reversed(ne)), dtype=np.float32)
    rows, blocks = int(np.prod(ne[1:])), ne[0] // 32
    data = np.empty((rows, blocks, 34), dtype=np.uint8)
    scale = np.float16(0.02 / 127 * 3)  # about N(0, 0.02) weights: activations stay finite
    data[:, :, :2] = np.frombuffer(scale.tobytes(), dtype=np.uint8)
    data[:, :, 2:] = rng.integers(-127, 128, size=(rows, blocks, 32), dtype=np.int8).view(np.uint8)
    return data.reshape(rows, blocks * 34)


def _padded(nbytes: int) -> int:
    return _align(nbytes)


def _align(offset: int, alignment: int = 32) -> int:
    return -(-offset // alignment) * alignment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.random_gguf", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--embd", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--untied", action="store_true", help="a separate output matrix")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shape = LlamaShape(
        args.layers, args.embd, args.heads, args.kv_heads, args.ff, args.vocab, args.ctx, not args.untied
    )
    path = write_llama(args.out, shape, "random", args.seed)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB, {shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
