"""GPU placement through real llama.cpp loads: the layer count llama.cpp reports, the buffers it
reserved beside the planner's formulas (the mapped file and, on AVX2 builds, the repacked copy of
some matrices: models/placement/repack.py), and a random-weight Llama GGUF (the model the GPU check
makes) loading and answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.random_gguf import LlamaShape, write_llama
from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import gpu_offload_supported
from models.files.gguf import read_header
from models.placement.costs import compute_bytes, kv_bytes
from models.placement.panes import plan_specs
from models.placement.records import GIB, MIB
from models.placement.repack import CpuKernels, cpu_weights, loaded_kernels
from models.placement.shape import shape_from_header
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from tests.support.repack_gguf import write_repackable


def loaded(spec: ModelSpec) -> LlamaEngine:
    engine = LlamaEngine(spec)
    engine.load()
    return engine


def reported(engine: LlamaEngine, kind: str) -> float:
    assert engine.info is not None
    return sum(b.mib for b in engine.info.buffers if b.kind == kind)


@pytest.mark.skipif(gpu_offload_supported(), reason="a GPU build may place layers on a GPU")
def test_a_cpu_build_reports_cpu_whatever_was_planned_or_asked(base_path, chat_path):
    # a plan that puts every SmolLM2 layer on a GPU, and a request for all of Gemma's
    planned = plan_specs(
        [ModelSpec(source=str(base_path), n_gpu_layers=-1), ModelSpec(source=str(chat_path), gpu_memory=6 * GIB)],
        free_memory=lambda: None,
    )
    assert planned[1].gpu_plan is not None and planned[1].gpu_plan.layers == 31
    for spec in planned:
        engine = loaded(spec)
        try:
            assert engine.info is not None
            assert engine.info.gpu_layers == 0 and engine.info.placement == "CPU"
            assert engine.info.gpu_layers_requested in (-1, 31)
        finally:
            engine.close()


def model_buffers(engine: LlamaEngine) -> dict[str, float]:
    """llama.cpp's "model buffer size" lines by buffer name (CPU_Mapped, CPU_REPACK, ...)."""
    assert engine.info is not None
    return {b.device: b.mib for b in engine.info.buffers if b.kind == "model"}


def test_llama_cpps_buffers_match_the_formulas(base_path, chat_path):
    # On an AMX build Duet loads without extra buffers: the weights are the file alone. On an AVX2
    # build (AMD EPYC) Gemma's 27 Q4_K matrices are also copied to CPU_REPACK: 235.16 + 12.66 MiB.
    kernels = loaded_kernels()
    for path in (base_path, chat_path):
        header = read_header(path)
        shape = shape_from_header(header, path.name)
        assert shape is not None
        weights = cpu_weights(header, kernels)
        if weights.unmodelled:
            pytest.skip("DUET_LLAMA_EXTRA_BUFFERS=1 on an AMX build: the AMX buffer's packing is not modelled")
        engine = loaded(ModelSpec(source=str(path), n_ctx=2048))
        try:
            assert reported(engine, "KV") == round(kv_bytes(shape, 2048) / MIB, 2)
            buffers = model_buffers(engine)
            assert buffers.pop("CPU_REPACK", 0.0) == round(weights.repacked / MIB, 2)
            assert list(buffers.values()) == [round(weights.mapped / MIB, 2)]  # the mapped file
            assert round(shape.file_bytes / MIB, 2) == round(weights.mapped / MIB, 2)  # what the planner counts
            compute = compute_bytes(shape, 2048) / MIB
            assert reported(engine, "compute") <= compute <= reported(engine, "compute") + 20
        finally:
            engine.close()


def test_gemmas_q4_k_matrices_are_what_an_avx2_build_repacks(base_path):
    header = read_header(base_path)
    avx2 = cpu_weights(header, CpuKernels(extra_buffers=True, avx2=True, avx512=True))
    assert round(avx2.repacked / MIB, 2) == 12.66 and round(avx2.total / MIB, 2) == 247.82  # issue 23, AMD EPYC
    assert cpu_weights(header, CpuKernels(extra_buffers=False, avx2=True, amx=True)).repacked == 0  # Duet on AMX
    assert cpu_weights(header, CpuKernels(extra_buffers=True, avx2=True, amx=True)).unmodelled


@pytest.mark.skipif(not loaded_kernels().avx2, reason="x86 repacking needs an AVX2 build")
def test_the_repack_buffer_llama_cpp_reports_matches_the_formula(tmp_path):
    # Extra buffers on, in a process of its own (Duet decides them once, at import): IQ4_NL has no
    # AMX kernel, so an AMX build repacks it like an AMD one; rows not a multiple of 8 stay mapped.
    path = write_repackable(tmp_path / "repackable.gguf")
    script = (
        "import json, sys\n"
        "from models.engines.llama.engine import LlamaEngine\n"
        "from models.settings import ModelSpec\n"
        "engine = LlamaEngine(ModelSpec(source=sys.argv[1], n_ctx=256))\n"
        "engine.load()\n"
        "print(json.dumps({b.device: b.mib for b in engine.info.buffers if b.kind == 'model'}))\n"
        "engine.close()\n"
    )
    env = {**os.environ, "DUET_LLAMA_EXTRA_BUFFERS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    buffers = json.loads(done.stdout.strip().splitlines()[-1])
    kernels = CpuKernels(extra_buffers=True, avx2=True, avx512=loaded_kernels().avx512, amx=loaded_kernels().amx)
    weights = cpu_weights(read_header(path), kernels)
    # the blocks' attention matrices and the tied output's copy of the embeddings; not ffn_gate/up (260 rows)
    assert weights.repacked == 2 * (2 * 256 * 256 + 2 * 256 * 128) // 32 * 18 + 2048 * 256 // 32 * 18
    assert buffers == {"CPU_Mapped": round(weights.mapped / MIB, 2), "CPU_REPACK": round(weights.repacked / MIB, 2)}


def test_a_random_weight_llama_loads_and_answers(tmp_path):
    path = write_llama(
        tmp_path / "random.gguf", LlamaShape(n_layer=2, n_embd=128, n_head=4, n_head_kv=2, n_ff=256, n_vocab=512)
    )
    session = PaneSession("base", ModelSpec(source=str(path), n_ctx=256), "raw", SamplingSettings(max_tokens=8))
    try:
        info = session.load().result(timeout=120)
        assert info.architecture == "llama" and info.n_layers == 2
        turn = session.send("Hello there").result(timeout=120)
        assert turn.error is None and turn.metrics.tokens > 0
    finally:
        session.close()
