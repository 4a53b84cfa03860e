"""GPU placement without a GPU: the embedded models' real headers, 7B-size synthetic headers (sparse
GGUF files written with the `gguf` package), the planner, and llama.cpp's load log read for the truth.

The reference buffer sizes are what llama.cpp 0.3.36 (CPU build) logged loading the embedded
models (`python -m benchmarks.placement_check --ctx 2048 8192`).
"""

from __future__ import annotations

import threading

import pytest

from benchmarks.random_gguf import LLAMA_2_7B, LLAMA_3_1_8B, LlamaShape, write_llama
from models.engines.llama.load_log import LoadReport, capture, feed
from models.errors import DuetError
from models.files.gguf import read_header
from models.files.info import ModelInfo
from models.placement.costs import GPU_OVERHEAD_BYTES, compute_bytes, context_size, gpu_bytes, kv_bytes, weight_bytes
from models.placement.panes import layers_for_load, plan_specs
from models.placement.planner import PlanRequest, parse_memory, plan
from models.placement.records import GIB, MIB, GpuPlan
from models.placement.shape import shape_from_header
from models.settings import ModelSpec

# llama.cpp's own figures for the embedded models, CPU build (MiB)
GEMMA = {"model": 235.16, "kv_2048": 36.00, "compute_2048": 514.50, "compute_8192": 514.50}
SMOLLM2 = {"model": 92.10, "kv_2048": 45.00, "compute_2048": 99.38, "compute_8192": 166.38}


@pytest.fixture(scope="module")
def gemma(base_path):
    return shape_from_header(read_header(base_path), "gemma")


@pytest.fixture(scope="module")
def smollm2(chat_path):
    return shape_from_header(read_header(chat_path), "smollm2")


@pytest.fixture(scope="module")
def llama7b(tmp_path_factory):
    path = write_llama(tmp_path_factory.mktemp("gguf") / "llama-2-7b.Q4_K_M.gguf", LLAMA_2_7B, weights="none")
    return path, shape_from_header(read_header(path), "llama-2-7b")


def mib(size: int) -> float:
    return round(size / MIB, 2)


# -- the shapes, from real headers --------------------------------------------------------------
def test_embedded_headers_give_llama_cpps_model_buffer_to_the_hundredth(gemma, smollm2):
    assert mib(gemma.file_bytes) == GEMMA["model"]
    assert mib(smollm2.file_bytes) == SMOLLM2["model"]
    # both tie their output matrix to the embeddings: offloading the output layer uploads a copy
    assert gemma.tied_bytes == gemma.input_bytes > 100 * MIB
    assert (gemma.n_layer, gemma.total_layers, gemma.n_vocab, gemma.n_embd) == (18, 19, 262144, 640)
    assert (smollm2.n_layer, smollm2.n_head, smollm2.kv_width[0]) == (30, 9, 2 * 3 * 64)


def test_kv_cache_matches_llama_cpp_exactly(gemma, smollm2):
    assert mib(kv_bytes(gemma, 2048)) == GEMMA["kv_2048"]
    assert mib(kv_bytes(smollm2, 2048)) == SMOLLM2["kv_2048"]
    # only the layers on the GPU have their cache there: the last 10 blocks of SmolLM2 at 11 layers
    assert kv_bytes(smollm2, 2048, 11) == kv_bytes(smollm2, 2048) // 3
    assert kv_bytes(smollm2, 2048, 1) == 0  # the output layer alone has no cache


@pytest.mark.parametrize(
    ("which", "n_ctx", "reported"),
    [("gemma", 2048, GEMMA["compute_2048"]), ("gemma", 8192, GEMMA["compute_8192"]),
     ("smollm2", 2048, SMOLLM2["compute_2048"]), ("smollm2", 8192, SMOLLM2["compute_8192"])],
)  # fmt: skip
def test_compute_buffer_is_never_under_llama_cpps_and_close(which, n_ctx, reported, request):
    shape = request.getfixturevalue(which)
    estimate = mib(compute_bytes(shape, n_ctx))
    assert reported <= estimate <= reported + 20  # MiB: the allocator packs tighter than the formula


def test_gemmas_compute_buffer_is_its_vocabulary(gemma):
    # 262,144 logits for each of 512 tokens are 512 MiB of the 514.5 llama.cpp reserves
    assert compute_bytes(gemma, 2048) >= gemma.n_vocab * 512 * 4


def test_weights_go_from_the_output_layer_down(smollm2):
    assert weight_bytes(smollm2, 0) == 0
    assert weight_bytes(smollm2, 1) == smollm2.output_bytes
    assert weight_bytes(smollm2, 2) == smollm2.output_bytes + smollm2.layer_bytes[-1]
    everything = sum(smollm2.layer_bytes) + smollm2.output_bytes
    assert weight_bytes(smollm2, -1 + smollm2.total_layers) == everything - smollm2.layer_bytes[0]
    assert weight_bytes(smollm2, 999) == everything  # capped at every layer


def test_context_size_is_what_the_engine_loads():
    assert context_size(2048, 32768) == 2048
    assert context_size(2000, 32768) == 2048  # padded to 256
    assert context_size(8192, 2048) == 2048  # the model's own is smaller


# -- 7B-size synthetic headers -----------------------------------------------------------------
def test_a_synthetic_llama_2_7b_header_is_the_real_files_size(llama7b):
    path, shape = llama7b
    assert abs(path.stat().st_size - 4_081_004_224) < 200_000  # TheBloke's llama-2-7b.Q4_K_M.gguf
    assert shape.tied_bytes == 0 and shape.total_layers == 33
    assert mib(kv_bytes(shape, 2048)) == 1024.0  # 32 layers x 2048 x 4096 x 2 (K, V) x f16


def test_two_7b_models_on_an_8_gb_gpu_are_split_alike(llama7b):
    _, shape = llama7b
    requests = [PlanRequest(shape, 2048), PlanRequest(shape, 2048)]
    first, second = plan(requests, 8 * GIB)
    assert first.bytes + second.bytes <= 8 * GIB
    assert 20 <= second.layers <= first.layers <= second.layers + 1 < 33
    # no further layer would fit in either
    assert first.bytes + gpu_bytes(shape, 2048, second.layers + 1) > 8 * GIB
    # the same file in two panes costs it twice: one pane alone gets every layer
    (alone,) = plan(requests[:1], 8 * GIB)
    assert alone.layers == 33


def test_the_plan_grows_with_the_gpu(llama7b):
    _, shape = llama7b
    layers = [plan([PlanRequest(shape, 2048)] * 2, gb * GIB)[0].layers for gb in (6, 8, 12, 24)]
    assert layers == sorted(layers) and layers[0] < layers[1] < 33 == layers[2] == layers[3]


def test_a_bigger_vocabulary_and_context_cost_more(tmp_path, llama7b):
    _, small = llama7b
    big = shape_from_header(read_header(write_llama(tmp_path / "8b.gguf", LLAMA_3_1_8B, "none")), "8b")
    assert compute_bytes(big, 2048) > compute_bytes(small, 2048)  # 128k logits
    assert gpu_bytes(small, 4096, 33) - gpu_bytes(small, 2048, 33) >= 1024 * MIB  # the KV cache doubles
    assert kv_bytes(big, 2048) == kv_bytes(small, 2048) // 4  # 8 KV heads instead of 32


def test_a_fixed_pane_keeps_its_layers_and_the_other_gets_the_rest(llama7b, smollm2):
    _, shape = llama7b
    fixed, planned = plan([PlanRequest(shape, 2048, fixed_layers=-1), PlanRequest(shape, 2048)], 8 * GIB)
    assert fixed.layers == 33
    assert 0 < planned.layers < 20 and fixed.bytes + planned.bytes <= 8 * GIB


def test_a_pane_that_cannot_fit_one_layer_takes_nothing(gemma, smollm2):
    # 0.7 GB: Gemma's first layer (its 170 MiB tied output) with its compute buffer does not fit
    gemma_plan, smol_plan = plan([PlanRequest(gemma, 2048), PlanRequest(smollm2, 2048)], int(0.7 * GIB))
    assert (gemma_plan.layers, gemma_plan.bytes) == (0, 0)
    assert smol_plan.layers == 31
    assert smol_plan.bytes == gpu_bytes(smollm2, 2048, 31) and smol_plan.bytes > GPU_OVERHEAD_BYTES


def test_a_small_model_shape_from_numbers_is_close_to_its_header(chat_path, smollm2):
    from models.placement.shape import shape_from_numbers

    estimate = shape_from_numbers(
        "smollm2", file_size=chat_path.stat().st_size, n_layer=30, n_embd=576, n_vocab=49152,
        n_head=9, n_kv_heads=3, head_dim=64, n_ff=1536, tied_embeddings=True,
    )  # fmt: skip
    whole = gpu_bytes(smollm2, 2048, 31)
    assert abs(gpu_bytes(estimate, 2048, 31) - whole) < 0.03 * whole


# -- plans for the panes (specs) ----------------------------------------------------------------
def specs(*sources: str, **values) -> list[ModelSpec]:
    return [ModelSpec(source=s, **values) for s in sources]


def test_no_gpu_and_no_budget_means_no_plan(base_path, chat_path):
    given = specs(str(base_path), str(chat_path))
    assert plan_specs(given, free_memory=lambda: None) == given


def test_a_budget_plans_even_without_a_gpu(base_path, chat_path):
    planned = plan_specs(specs(str(base_path), str(chat_path), gpu_memory=int(0.7 * GIB)), free_memory=lambda: None)
    gemma_plan, smol_plan = (s.gpu_plan for s in planned)
    assert gemma_plan is not None and smol_plan is not None
    assert (gemma_plan.layers, smol_plan.layers, smol_plan.total_layers) == (0, 31, 31)
    assert gemma_plan.budget_from == "--gpu-memory" and gemma_plan.budget_bytes == int(0.7 * GIB)
    assert gemma_plan.others_bytes == smol_plan.pane_bytes and gemma_plan.plan_bytes == smol_plan.plan_bytes


def test_the_gpus_free_memory_is_the_budget_less_a_margin_and_caps_a_bigger_one(base_path, chat_path):
    planned = plan_specs(specs(str(base_path), str(chat_path), gpu_memory=8 * GIB), free_memory=lambda: 1 * GIB)
    gpu_plan = planned[0].gpu_plan
    assert gpu_plan is not None and gpu_plan.budget_from == "free device memory"
    assert gpu_plan.budget_bytes == 1 * GIB - 256 * MIB


def test_the_users_gpu_layers_and_servers_are_not_planned(base_path, chat_path):
    given = [ModelSpec(source=str(base_path), n_gpu_layers=5), ModelSpec(source="http://127.0.0.1:9/v1#m")]
    assert plan_specs(given, free_memory=lambda: 8 * GIB) == given
    mixed = plan_specs(
        [ModelSpec(source=str(base_path), n_gpu_layers=-1), ModelSpec(source=str(chat_path))],
        free_memory=lambda: int(1.1 * GIB),
    )
    assert mixed[0].gpu_plan is None
    assert mixed[1].gpu_plan is not None and mixed[1].gpu_plan.others_bytes > 500 * MIB  # Gemma's, counted


def test_an_unreadable_model_is_left_to_its_load(tmp_path, chat_path):
    given = specs(str(tmp_path / "missing.gguf"), str(chat_path), gpu_memory=6 * GIB)
    planned = plan_specs(given, free_memory=lambda: None)
    assert planned[0] == given[0] and planned[1].gpu_plan is not None


def test_the_load_asks_for_the_users_count_else_the_plan(smollm2):
    gpu_plan = GpuPlan(
        source="a.gguf",
        n_ctx=2048,
        layers=7,
        total_layers=31,
        pane_bytes=1,
        budget_bytes=GIB,
        budget_from="--gpu-memory",
    )
    assert layers_for_load(ModelSpec(source="a.gguf", n_gpu_layers=3, gpu_plan=gpu_plan), smollm2, 2048) == (3, None)
    assert layers_for_load(ModelSpec(source="a.gguf", gpu_plan=gpu_plan), smollm2, 2048) == (7, gpu_plan)
    assert layers_for_load(ModelSpec(source="a.gguf"), smollm2, 2048) == (-1, None)


def test_a_model_switched_in_later_gets_what_the_other_panes_left(smollm2):
    stale = GpuPlan(
        source="old.gguf", n_ctx=2048, layers=33, total_layers=33, pane_bytes=6 * GIB,
        others_bytes=GIB, budget_bytes=GIB + int(0.35 * GIB), budget_from="--gpu-memory",
    )  # fmt: skip
    layers, replanned = layers_for_load(ModelSpec(source="new.gguf", gpu_plan=stale), smollm2, 2048)
    assert replanned is not None and replanned.source == "new.gguf" and replanned.total_layers == 31
    assert 0 < layers == replanned.layers < 31  # 0.35 GB left: SmolLM2 split
    assert replanned.pane_bytes <= int(0.35 * GIB) and replanned.others_bytes == GIB


# -- what the header says --------------------------------------------------------------------
def info(**values) -> ModelInfo:
    base = dict(path="m.gguf", label="m", architecture="llama", name="m", size_label=None, quantization=None,
                context_length=4096, n_layers=32, has_chat_template=False, file_size=1)  # fmt: skip
    return ModelInfo(**{**base, **values})


def split_plan(layers: int = 20) -> GpuPlan:
    return GpuPlan(
        source="m.gguf", n_ctx=2048, layers=layers, total_layers=33, pane_bytes=int(3.8 * GIB),
        others_bytes=int(3.8 * GIB), budget_bytes=8 * GIB, budget_from="--gpu-memory",
    )  # fmt: skip


def test_the_header_says_why_a_model_is_split():
    assert info(gpu_offload_supported=True, gpu_layers=20, gpu_plan=split_plan()).placement == (
        "GPU 20/33 layers · plan 7.6 of 8 GB"
    )
    assert info(gpu_offload_supported=True, gpu_layers=33, gpu_plan=split_plan(33)).placement == "GPU 33/33 layers"


def test_the_header_tells_the_truth_not_the_plan():
    # a CPU-only build: llama.cpp placed nothing, whatever was planned or asked
    assert info(gpu_offload_supported=False, gpu_layers=0, gpu_plan=split_plan()).placement == "CPU"
    # fewer layers than planned went to the GPU: the header shows llama.cpp's count
    assert info(gpu_offload_supported=True, gpu_layers=12, gpu_plan=split_plan()).placement.startswith("GPU 12/33")


# -- the load log --------------------------------------------------------------------------------
CPU_LOG = [
    "load_tensors: layer   0 assigned to device CPU, is_swa = 1\n",
    "load_tensors: layer  18 assigned to device CPU, is_swa = 0\n",
    "load_tensors:   CPU_Mapped model buffer size =   235.16 MiB\n",
    "llama_kv_cache:        CPU KV buffer size =     6.00 MiB\n",
    "sched_reserve:        CPU compute buffer size =   514.50 MiB\n",
]


def cuda_log(on_gpu: int, total: int, device: str = "CUDA0") -> list[str]:
    lines = [
        f"load_tensors: layer {i:3d} assigned to device {device if i >= total - on_gpu else 'CPU'}, is_swa = 0\n"
        for i in range(total)
    ]
    return [*lines, f"load_tensors: offloaded {on_gpu}/{total} layers to GPU\n"]


def test_a_cpu_build_placed_nothing():
    report = LoadReport()
    for line in CPU_LOG:
        report.feed(line)
    assert (report.gpu_layers, report.total_layers, report.offloaded) == (0, 19, None)
    assert [(b.device, b.kind, b.mib) for b in report.buffers] == [
        ("CPU_Mapped", "model", 235.16), ("CPU", "KV", 6.0), ("CPU", "compute", 514.5)
    ]  # fmt: skip


def test_the_layers_assigned_to_a_gpu_are_counted():
    report = LoadReport()
    for line in cuda_log(20, 33):
        report.feed(line)
    assert (report.gpu_layers, report.total_layers, report.offloaded) == (20, 33, (20, 33))


def test_a_gpu_build_without_a_gpu_is_cpu_whatever_the_summary_says():
    # llama.cpp prints "offloaded 33/33" from the request even when it found no GPU device
    report = LoadReport()
    for line in [*cuda_log(0, 33)[:-1], "load_tensors: offloaded 33/33 layers to GPU\n"]:
        report.feed(line)
    assert report.gpu_layers == 0 and report.offloaded == (33, 33)


def test_the_summary_line_serves_when_the_per_layer_lines_are_missing():
    report = LoadReport()
    report.feed("load_tensors: offloaded 7/31 layers to GPU\n")
    assert (report.gpu_layers, report.total_layers) == (7, 31)


def test_two_loads_on_two_threads_keep_their_own_lines():
    results: dict[str, int] = {}
    barrier = threading.Barrier(2)

    def load(name: str, on_gpu: int) -> None:
        with capture() as report:
            barrier.wait()
            for line in cuda_log(on_gpu, 19):
                feed(line)
                barrier.wait()  # interleave the two threads line by line
        results[name] = report.gpu_layers

    threads = [threading.Thread(target=load, args=("a", 19)), threading.Thread(target=load, args=("b", 4))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == {"a": 19, "b": 4}
    feed("load_tensors: offloaded 5/5 layers to GPU\n")  # outside any load: kept nowhere, no error


# -- --gpu-memory ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "size"),
    [("6GB", 6 * GIB), ("6", 6 * GIB), ("6.5G", int(6.5 * GIB)), ("7000MB", 7000 * MIB), ("8 GiB", 8 * GIB)],
)
def test_memory_sizes(text, size):
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["six", "6TB", "-1GB", "10MB", ""])
def test_bad_memory_sizes_are_one_line(text):
    with pytest.raises(DuetError, match="memory"):
        parse_memory(text)


def test_a_k_quant_row_must_hold_whole_blocks(tmp_path):
    with pytest.raises(ValueError, match="multiple"):
        write_llama(tmp_path / "x.gguf", LlamaShape(n_embd=100, n_head=4, n_head_kv=4), "none")
