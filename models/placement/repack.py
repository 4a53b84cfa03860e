"""A CPU model's weight buffers: the file mapped as it is, and the copy llama.cpp repacks.

On an x86 build with AVX2 (every AMD EPYC and Ryzen, Intel without AMX) llama.cpp's CPU backend
offers an extra buffer type, "CPU_REPACK" (ggml-cpu/repack.cpp), and every matrix it has a faster
interleaved kernel for is loaded into it: a second copy of those weights, the same size, in
anonymous memory. The mapped buffer ("CPU_Mapped") still spans the file from its first to its last
remaining tensor, so the repacked ones sit in both: llama.cpp's "model buffer size" lines add up to
more than the file. For Gemma 3 270M Q4_K_M that is its 27 Q4_K matrices (18 attn_output, 9 of
the ffn_down): 235.16 + 12.66 = 247.82 MiB, the figure of issue 23 on an AMD EPYC. SmolLM2 135M
(Q4_1, Q8_0) has nothing x86 repacks.

Duet turns the extra buffers off on AMX builds (models/engines/llama/runtime.py,
keep_weights_out_of_amx), so there the weights are the file alone. With them forced on
(DUET_LLAMA_EXTRA_BUFFERS=1) an AMX build puts the types it has AMX kernels for in an "AMX" buffer
first, whose packed size is not modelled here (``CpuWeights.unmodelled``).

Only the x86 rules are modelled (ARM's NEON/SVE rules repack Q4_0, Q4_K, Q5_K, Q6_K, Q8_0, IQ4_NL
by other conditions). GPU placement is unaffected: offloaded layers use the GPU's buffers, and the
repacked copy of the layers left on the CPU is host memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.files.gguf_header import GGUFHeader, TensorInfo

# ggml_type numbers (ggml.h)
Q4_0, Q4_1, Q8_0, Q2_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4 = 2, 3, 8, 10, 12, 13, 14, 20, 23, 39
# ggml_repack_get_optimal_repack_type on x86: the type, the CPU feature its kernel needs; every one
# also needs ne[1] % 8 == 0 (8 rows interleaved)
_X86_REPACK = {Q4_0: "avx2", Q4_K: "avx2", IQ4_NL: "avx2", MXFP4: "avx2", Q2_K: "avx512"}
_AMX_TYPES = {Q4_0, Q4_1, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS}  # qtype_has_amx_kernels (ggml-cpu/amx/common.h)
_INPUT = ("token_embd.", "token_embd_norm.", "pos_embd.", "token_types.")  # GET_ROWS, not matrix products


@dataclass(frozen=True)
class CpuKernels:
    """What the loaded CPU backend was built for, and whether Duet loads with extra buffers."""

    extra_buffers: bool
    avx2: bool = False
    avx512: bool = False
    amx: bool = False

    def has(self, feature: str) -> bool:
        return bool(getattr(self, feature))


@dataclass(frozen=True)
class CpuWeights:
    """The model buffers of a model loaded wholly on the CPU with mmap, in bytes."""

    mapped: int  # "CPU_Mapped": the file's span from the first to the last tensor not repacked
    repacked: int  # "CPU_REPACK": the matrices copied into the interleaved layout
    unmodelled: bool = False  # some matrices go to an AMX buffer, whose size is not modelled

    @property
    def total(self) -> int:
        return self.mapped + self.repacked


def loaded_kernels() -> CpuKernels:
    """The kernels of the llama.cpp build this process loads, and Duet's extra-buffer choice."""
    from models.engines.llama import runtime

    module = runtime.llama_cpp()
    return CpuKernels(
        extra_buffers=runtime.extra_buffers_on(module),
        avx2=runtime.cpu_has(module, "avx2"),
        avx512=runtime.cpu_has(module, "avx512"),
        amx=runtime.amx_build(module),
    )


def matrix_product_weight(tensor: TensorInfo) -> bool:
    """A 2-D weight that llama.cpp multiplies with (MUL_MAT): what an extra buffer may take."""
    name = tensor.name or ""
    return len(tensor.dims) == 2 and not name.startswith(_INPUT)


def repacks(tensor: TensorInfo, kernels: CpuKernels) -> bool:
    """Whether llama.cpp's CPU backend puts ``tensor`` in its CPU_REPACK buffer."""
    if not kernels.extra_buffers or not matrix_product_weight(tensor):
        return False
    if kernels.amx and tensor.ggml_type in _AMX_TYPES:
        return False  # the AMX buffer comes first in the list and takes it
    feature = _X86_REPACK.get(tensor.ggml_type)
    return feature is not None and kernels.has(feature) and tensor.dims[1] % 8 == 0


def cpu_weights(header: GGUFHeader, kernels: CpuKernels) -> CpuWeights:
    """The CPU model buffers llama.cpp reports for ``header``'s model loaded on the CPU."""
    kept = [t for t in header.tensors if not repacks(t, kernels)]
    repacked = sum(t.nbytes or 0 for t in header.tensors if repacks(t, kernels))
    repacked += _tied_output_copy(header, kernels)
    ends = [t.offset + (t.nbytes or 0) for t in kept]
    mapped = max(ends) - min(t.offset for t in kept) if kept else 0
    unmodelled = (
        kernels.extra_buffers
        and kernels.amx
        and any(matrix_product_weight(t) and t.ggml_type in _AMX_TYPES for t in header.tensors)
    )
    return CpuWeights(mapped, repacked, unmodelled)


def _tied_output_copy(header: GGUFHeader, kernels: CpuKernels) -> int:
    """A model without output.weight multiplies with its token embeddings: llama.cpp makes the
    output layer's matrix a duplicate of them, and when its type repacks the duplicate is a copy
    in CPU_REPACK (the embeddings themselves stay mapped, for the row lookups)."""
    names = {t.name for t in header.tensors}
    if "output.weight" in names:
        return 0
    embeddings = next((t for t in header.tensors if t.name == "token_embd.weight"), None)
    if embeddings is None or len(embeddings.dims) != 2:
        return 0
    as_output = TensorInfo(
        "output.weight", embeddings.elements, embeddings.ggml_type, 0, embeddings.nbytes, embeddings.dims
    )
    return (embeddings.nbytes or 0) if repacks(as_output, kernels) else 0
