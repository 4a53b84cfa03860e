"""The plan for the panes of one comparison, made before any of them loads, and used by each load.

`plan_specs` runs once for all panes (models/pair.py, open_sessions): it reads each local model's
GGUF header, sizes what it needs on the GPU at its n_ctx, and writes the result into each spec
(`ModelSpec.gpu_plan`). `layers_for_load` is what the llama engine asks llama.cpp for: the user's
--gpu-layers when given, else the plan; a pane switched to another model since (the model screen)
is planned again in what the other panes left of the budget.

The budget is --gpu-memory when given (also on a machine without a GPU, so the plan can be tried
and tested anywhere; llama.cpp then places nothing on a GPU and the pane header says CPU), else
the free memory the GPU reports now, less a margin. No GPU and no --gpu-memory: no plan, and
llama.cpp is asked for every layer, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from models.errors import DuetError
from models.files.gguf import read_header
from models.files.sources import is_remote_source as _is_remote
from models.files.sources import resolve_source
from models.placement.costs import FREE_MEMORY_MARGIN_BYTES, context_size
from models.placement.planner import PlanRequest, plan
from models.placement.records import BudgetFrom, GpuPlan
from models.placement.shape import ModelShape, shape_from_header
from models.settings import ModelSpec

ALL_LAYERS = -1


def plan_specs(specs: list[ModelSpec], free_memory: Callable[[], int | None] | None = None) -> list[ModelSpec]:
    """The specs with a GPU plan for each local model whose layers the user did not fix.

    ``free_memory``: the GPU's free bytes, None without a GPU (default: asked of llama.cpp's ggml).
    """
    if not any(s.n_gpu_layers is None and not _is_remote(s.source) for s in specs):
        return specs  # nothing to plan: no local model, or every count fixed by the user
    budget = _budget(next((s.gpu_memory for s in specs if s.gpu_memory), None), free_memory or device_free_memory)
    if budget is None:
        return specs
    budget_bytes, budget_from = budget
    requests: dict[int, PlanRequest] = {}
    for index, spec in enumerate(specs):
        shape = _local_shape(spec)
        if shape is not None:
            n_ctx = context_size(spec.n_ctx, shape.context_length)
            requests[index] = PlanRequest(shape, n_ctx, spec.n_gpu_layers)
    if not any(r.fixed_layers is None for r in requests.values()):
        return specs
    allotments = dict(zip(requests, plan(list(requests.values()), budget_bytes)))
    total = sum(a.bytes for a in allotments.values())
    planned = list(specs)
    for index, allotment in allotments.items():
        spec, request = specs[index], requests[index]
        if spec.n_gpu_layers is not None:
            continue  # the user's count wins; its memory was taken off the budget
        gpu_plan = GpuPlan(
            source=spec.source,
            n_ctx=request.n_ctx,
            layers=allotment.layers,
            total_layers=request.shape.total_layers,
            pane_bytes=allotment.bytes,
            others_bytes=total - allotment.bytes,
            budget_bytes=budget_bytes,
            budget_from=budget_from,
        )
        planned[index] = spec.model_copy(update={"gpu_plan": gpu_plan})
    return planned


def layers_for_load(spec: ModelSpec, shape: ModelShape | None, n_ctx: int) -> tuple[int, GpuPlan | None]:
    """What llama.cpp is asked for (n_gpu_layers), and the plan behind it (None: the user's or all)."""
    if spec.n_gpu_layers is not None:
        return spec.n_gpu_layers, None
    current = spec.gpu_plan
    if current is None or shape is None:
        return ALL_LAYERS, None
    if current.source == spec.source and current.n_ctx == n_ctx:
        return current.layers, current
    # another model in this pane since the plan: it gets what the other panes left
    room = current.budget_bytes - current.others_bytes
    layers = used = 0
    if room > 0:
        allotment = plan([PlanRequest(shape, n_ctx)], room)[0]
        layers, used = allotment.layers, allotment.bytes
    replanned = current.model_copy(
        update={
            "source": spec.source,
            "n_ctx": n_ctx,
            "layers": layers,
            "total_layers": shape.total_layers,
            "pane_bytes": used,
        }
    )
    return layers, replanned


def device_free_memory() -> int | None:
    """What the GPUs llama.cpp offloads to have free now; None on a CPU-only build or without a GPU."""
    from models.engines.llama.gpu_memory import free_gpu_memory
    from models.engines.llama.runtime import gpu_offload_supported

    return free_gpu_memory() if gpu_offload_supported() else None


def _budget(gpu_memory: int | None, free_memory: Callable[[], int | None]) -> tuple[int, BudgetFrom] | None:
    """(bytes, where the figure comes from), or None when there is nothing to plan for."""
    free = free_memory()
    if gpu_memory is not None:
        if free is not None and free < gpu_memory:
            return max(free - FREE_MEMORY_MARGIN_BYTES, 1), "free device memory"
        return gpu_memory, "--gpu-memory"
    if free is None:
        return None
    return max(free - FREE_MEMORY_MARGIN_BYTES, 1), "free device memory"


def _local_shape(spec: ModelSpec) -> ModelShape | None:
    """The shape of a local GGUF pane; None for a server, or a file that cannot be read (its load says why)."""
    if _is_remote(spec.source):
        return None
    try:
        resolved = resolve_source(spec.source)
        return shape_from_header(read_header(Path(resolved.path)), resolved.label)
    except DuetError:
        return None
