"""What a model costs on the GPU with k of its layers there: weights, KV cache, compute buffers.

Each figure is llama.cpp's own arithmetic, checked against what it logs while loading
(`python -m benchmarks.placement_check` prints formula and log side by side; measured on the
embedded models and random-weight Llama files, CPU build, llama-cpp-python 0.3.36):

- weights: the tensors' bytes from the GGUF header; the sum matches llama.cpp's "model buffer size"
  to the hundredth of a MiB (Gemma 3 270M 235.16 MiB, SmolLM2 135M 92.10 MiB).
- KV cache: f16 keys and values, n_ctx cells in every layer (llama-cpp-python keeps the full-size
  cache for sliding-window layers too), on the device of its layer (offload_kqv, the default).
- compute: the scheduler reserves the worst case, a 512-token batch (n_ubatch) with an output for
  every token (n_outputs_max), and the graph allocator reuses memory, so the buffer is the largest
  of three moments of that graph, each with the attention mask (n_ctx x n_ubatch floats): the
  logits (n_vocab x n_ubatch floats) beside a few hidden-state tensors (n_embd x n_ubatch); one
  layer's attention scores (n_head x n_ctx x n_ubatch) beside the batch's hidden states, keys and
  values; the feed-forward activations (3 x n_ff x n_ubatch). The allocator's exact packing is not
  modelled, so the hidden-state counts are the largest seen. Checked on 22 loads (the embedded
  pair at n_ctx 256 to 8192, four random-weight Llama shapes with 8 to 32 heads and vocabularies
  of 2k to 128k at 512 to 4096): never under llama.cpp's figure, and at most 19 MiB over (Gemma at
  8192: 4 %; SmolLM2 at 4096: 9 MiB, 9 %). Gemma 3 270M at n_ctx 2048: 521.25 MiB (llama.cpp: 514.50, the
  logits of its 262k vocabulary); SmolLM2 135M at 8192: 166.63 (166.38, the attention); a 7B's
  attention (32 heads) at 4096: 320.25 (320.01).
"""

from __future__ import annotations

from models.placement.records import MIB
from models.placement.shape import ModelShape

N_UBATCH = 512  # llama-cpp-python's n_ubatch; Duet's n_batch is min(512, n_ctx)
_F32, _F16 = 4, 2
# Per model on a GPU, beyond its buffers: the CUDA backend's cuBLAS handle and workspace, the
# pinned staging of the output, CUDA graphs. Not in llama.cpp's log; measured on a GPU in Part 2
# of issue 18 (benchmarks/gpu_check.sh), until then a round figure on the safe side.
GPU_OVERHEAD_BYTES = 160 * MIB
# Left free of a device's reported free memory when no --gpu-memory is given: the driver, the
# desktop and the next allocation's fragmentation need some.
FREE_MEMORY_MARGIN_BYTES = 256 * MIB
_ALIGNMENT_ALLOWANCE = MIB // 4  # the allocator's tensor alignment: llama.cpp's figure was up to 0.01 MiB over


def context_size(requested: int, context_length: int | None) -> int:
    """The n_ctx a model is loaded with: llama.cpp pads to 256, capped at the model's own context."""
    n_ctx = -(-requested // 256) * 256
    if context_length and context_length >= 256:
        n_ctx = min(n_ctx, context_length)
    return n_ctx


def ubatch(n_ctx: int) -> int:
    return min(N_UBATCH, n_ctx)


def weight_bytes(shape: ModelShape, gpu_layers: int) -> int:
    """The weights of the last ``gpu_layers`` layers (the output layer first), which go to the GPU."""
    gpu_layers = max(0, min(gpu_layers, shape.total_layers))
    if gpu_layers == 0:
        return 0
    blocks = gpu_layers - 1  # the output layer is the first to go
    return shape.output_bytes + sum(shape.layer_bytes[shape.n_layer - blocks :])


def kv_bytes(shape: ModelShape, n_ctx: int, gpu_layers: int | None = None) -> int:
    """f16 keys and values of the repeating layers on the GPU (all of them when ``gpu_layers`` is None)."""
    widths = shape.kv_width
    if gpu_layers is not None:
        blocks = max(0, min(gpu_layers, shape.total_layers) - 1)
        widths = widths[shape.n_layer - blocks :] if blocks else ()
    return sum(widths) * n_ctx * _F16


def compute_bytes(shape: ModelShape, n_ctx: int) -> int:
    """The scheduler's compute buffer for a 512-token batch (llama.cpp's "compute buffer size")."""
    batch, mask = ubatch(n_ctx), n_ctx  # the attention mask: n_ctx x n_ubatch floats, alive throughout
    logits = shape.n_vocab + 4 * shape.n_embd + mask
    attention = shape.n_head * n_ctx + mask + 5 * shape.n_embd + max(shape.kv_width, default=0)
    feed_forward = 3 * shape.n_ff + 4 * shape.n_embd + mask
    return max(logits, attention, feed_forward) * batch * _F32 + _ALIGNMENT_ALLOWANCE


def gpu_bytes(shape: ModelShape, n_ctx: int, gpu_layers: int, op_offload: bool = True) -> int:
    """Everything one model puts on the GPU with ``gpu_layers`` there.

    At 0 layers the compute buffer and the overhead still count when ``op_offload`` is on (llama.cpp's
    default): its scheduler runs a CPU model's large matrix products of a prompt on the GPU, in a
    GPU compute buffer. A pane the plan leaves on the CPU is loaded with op_offload off: nothing.
    """
    if gpu_layers == 0 and not op_offload:
        return 0
    return (
        weight_bytes(shape, gpu_layers)
        + kv_bytes(shape, n_ctx, gpu_layers)
        + compute_bytes(shape, n_ctx)
        + GPU_OVERHEAD_BYTES
    )
