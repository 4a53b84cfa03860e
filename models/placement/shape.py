"""A model's shape as placement sees it: bytes per layer, the output layer, attention numbers.

Read from a GGUF header's tensor table (models/files/gguf.py), or estimated from the catalog's
numbers for a file that is not on disk yet (the README's table of the catalog pairs).

llama.cpp's placement (llama-model.cpp, load_tensors): the input layer (token embeddings) always
stays on the CPU; with n_gpu_layers = k, the last k of the n_layer + 1 layers go to the GPU, and
the output layer (output norm and output matrix) is the first of them. A model without its own
output matrix (tied embeddings: Gemma, SmolLM2, Llama 3.2) gets a copy of the token embeddings
in the output layer, so offloading it costs the embeddings' size on the GPU.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.files.gguf import ArrayInfo, GGUFHeader, TensorInfo

_BLOCK = re.compile(r"^blk\.(\d+)\.")
_INPUT = ("token_embd.", "token_embd_norm.", "pos_embd.", "token_types.")  # stay on the CPU
# bits per weight of the two tensor types a Q4_K_M file is made of (llama.cpp's quantize)
_Q4_K_BITS, _Q6_K_BITS = 4.5, 6.5625


@dataclass(frozen=True)
class ModelShape:
    name: str
    layer_bytes: tuple[int, ...]  # weights of each repeating layer (blk.N)
    output_bytes: int  # weights of the output layer, on the GPU once anything is offloaded
    input_bytes: int  # token embeddings: always on the CPU
    tied_bytes: int  # of output_bytes, the copy of the embeddings a tied model's output layer gets (else 0)
    n_vocab: int
    n_embd: int
    n_head: int
    kv_width: tuple[int, ...]  # per layer: key + value elements per token (n_head_kv * (head_k + head_v))
    n_ff: int
    context_length: int | None

    @property
    def n_layer(self) -> int:
        return len(self.layer_bytes)

    @property
    def file_bytes(self) -> int:
        """The weights as the file holds them (a tied output matrix is the embeddings, stored once)."""
        return sum(self.layer_bytes) + self.output_bytes + self.input_bytes - self.tied_bytes

    @property
    def total_layers(self) -> int:
        """What llama.cpp counts: every repeating layer and the output layer."""
        return self.n_layer + 1


def shape_from_header(header: GGUFHeader, name: str) -> ModelShape | None:
    """The shape of a GGUF's model; None when its header lacks what placement needs."""
    arch = header.get("general.architecture")
    n_layer = _int(header.get(f"{arch}.block_count"))
    n_embd = _int(header.get(f"{arch}.embedding_length"))
    n_head = _head_count(header.get(f"{arch}.attention.head_count"))
    if not (isinstance(arch, str) and n_layer and n_embd and n_head and header.tensors):
        return None
    sizes = _tensor_sizes(header)
    layers = [0] * n_layer
    output = input_bytes = 0
    has_output_matrix = False
    for tensor, size in zip(header.tensors, sizes):
        name_ = tensor.name or ""
        block = _BLOCK.match(name_)
        if block and int(block[1]) < n_layer:
            layers[int(block[1])] += size
        elif name_.startswith(_INPUT):
            input_bytes += size
        else:  # output norm and matrix, and anything else outside a block (counted on the GPU: safe side)
            output += size
            has_output_matrix = has_output_matrix or name_ == "output.weight"
    embeddings = sum(s for t, s in zip(header.tensors, sizes) if t.name == "token_embd.weight")
    tied = 0 if has_output_matrix else embeddings  # the tied output matrix: a copy of the embeddings
    head_k = _int(header.get(f"{arch}.attention.key_length")) or n_embd // n_head
    head_v = _int(header.get(f"{arch}.attention.value_length")) or n_embd // n_head
    kv_heads = _per_layer(header.get(f"{arch}.attention.head_count_kv"), n_layer, n_head)
    return ModelShape(
        name=name,
        layer_bytes=tuple(layers),
        output_bytes=output + tied,
        input_bytes=input_bytes,
        tied_bytes=tied,
        n_vocab=_vocab_size(header, arch),
        n_embd=n_embd,
        n_head=n_head,
        kv_width=tuple(h * (head_k + head_v) for h in kv_heads),
        n_ff=_head_count(header.get(f"{arch}.feed_forward_length")) or 4 * n_embd,
        context_length=_int(header.get(f"{arch}.context_length")),
    )


def shape_from_numbers(
    name: str,
    *,
    file_size: int,
    n_layer: int,
    n_embd: int,
    n_vocab: int,
    n_head: int,
    n_kv_heads: int,
    head_dim: int,
    n_ff: int,
    tied_embeddings: bool,
    context_length: int | None = None,
) -> ModelShape:
    """An estimated shape of a Q4_K_M file from its size and architecture (a catalog entry).

    In a Q4_K_M file the output matrix is Q6_K and the token embeddings Q4_K, or Q6_K when the two
    are tied (llama.cpp's quantize); what is left of the file is spread evenly over the layers.
    """
    if tied_embeddings:
        embeddings = output = int(n_vocab * n_embd * _Q6_K_BITS / 8)
        in_file = embeddings
    else:
        embeddings = int(n_vocab * n_embd * _Q4_K_BITS / 8)
        output = int(n_vocab * n_embd * _Q6_K_BITS / 8)
        in_file = embeddings + output
    per_layer = max(0, file_size - in_file) // n_layer
    return ModelShape(
        name=name,
        layer_bytes=(per_layer,) * n_layer,
        output_bytes=output,
        input_bytes=embeddings,
        tied_bytes=embeddings if tied_embeddings else 0,
        n_vocab=n_vocab,
        n_embd=n_embd,
        n_head=n_head,
        kv_width=(2 * n_kv_heads * head_dim,) * n_layer,
        n_ff=n_ff,
        context_length=context_length,
    )


def _tensor_sizes(header: GGUFHeader) -> list[int]:
    """Each tensor's bytes: from its type, or (a type Duet does not know) up to the next tensor."""
    by_offset = sorted(header.tensors, key=lambda t: t.offset)
    data_bytes = header.file_size - header.data_start
    following: dict[int, int] = {}
    for this, after in zip(by_offset, [*by_offset[1:], None]):
        following[id(this)] = after.offset if after is not None else max(this.offset, data_bytes)
    return [_size(t, following[id(t)]) for t in header.tensors]


def _size(tensor: TensorInfo, next_offset: int) -> int:
    return tensor.nbytes if tensor.nbytes is not None else max(0, next_offset - tensor.offset)


def _vocab_size(header: GGUFHeader, arch: str) -> int:
    tokens = header.get("tokenizer.ggml.tokens")
    if isinstance(tokens, ArrayInfo):
        return tokens.length
    if isinstance(tokens, list):
        return len(tokens)
    return _int(header.get(f"{arch}.vocab_size")) or 0


def _per_layer(value, n_layer: int, default: int) -> list[int]:
    """A per-layer number that a GGUF stores as one integer or as an array of n_layer integers."""
    if isinstance(value, list) and len(value) == n_layer and all(_int(v) is not None for v in value):
        return [int(v) for v in value]
    number = _int(value)
    return [default if number is None else number] * n_layer


def _head_count(value) -> int | None:
    """A count stored as one integer or per layer (the largest, which sizes the buffers)."""
    if isinstance(value, list) and value:
        counts = [v for v in (_int(x) for x in value) if v]
        return max(counts) if counts else None
    return _int(value)


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
