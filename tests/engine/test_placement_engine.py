"""GPU placement through real llama.cpp loads: the layer count llama.cpp reports, the buffers it
reserved beside the planner's formulas, and a random-weight Llama GGUF (the model the GPU check
makes) loading and answering."""

from __future__ import annotations

import pytest

from benchmarks.random_gguf import LlamaShape, write_llama
from models.engines.llama.engine import LlamaEngine
from models.engines.llama.runtime import gpu_offload_supported
from models.files.gguf import read_header
from models.placement.costs import compute_bytes, kv_bytes
from models.placement.panes import plan_specs
from models.placement.records import GIB, MIB
from models.placement.shape import shape_from_header
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings


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


def test_llama_cpps_buffers_match_the_formulas(base_path, chat_path):
    for path in (base_path, chat_path):
        shape = shape_from_header(read_header(path), path.name)
        assert shape is not None
        engine = loaded(ModelSpec(source=str(path), n_ctx=2048))
        try:
            assert reported(engine, "KV") == round(kv_bytes(shape, 2048) / MIB, 2)
            assert reported(engine, "model") == round(shape.file_bytes / MIB, 2)
            compute = compute_bytes(shape, 2048) / MIB
            assert reported(engine, "compute") <= compute <= reported(engine, "compute") + 20
        finally:
            engine.close()


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
