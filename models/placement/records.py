"""The placement facts a pane carries: the plan it was loaded with, and the buffers llama.cpp reported.

Plain pydantic records with no imports of the rest of Duet, so that ModelSpec and ModelInfo can hold
them without a cycle.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

GIB = 1 << 30
MIB = 1 << 20
BudgetFrom = Literal["--gpu-memory", "free device memory"]


class GpuPlan(BaseModel):
    """How many layers of one pane's model the planner put on the GPU, and why.

    Decided before the load for all panes together (models/placement/panes.py): ``layers`` is what
    llama.cpp is asked for; the pane header and ``duet info`` report what llama.cpp placed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="the model source this plan was made for; another source is planned again")
    n_ctx: int = Field(description="the context size the KV cache was sized for")
    layers: int = Field(ge=0, description="layers to offload, the output layer counted (llama.cpp's n_gpu_layers)")
    total_layers: int = Field(ge=1, description="n_layer + 1: every layer and the output layer")
    pane_bytes: int = Field(ge=0, description="this pane's planned GPU memory: weights, KV cache, compute, overhead")
    others_bytes: int = Field(0, ge=0, description="the other panes' planned GPU memory")
    budget_bytes: int = Field(gt=0, description="the GPU memory all panes may use")
    budget_from: BudgetFrom

    @property
    def plan_bytes(self) -> int:
        """What every pane together is planned to use."""
        return self.pane_bytes + self.others_bytes

    @property
    def split(self) -> bool:
        return self.layers < self.total_layers

    def note(self) -> str:
        """'plan 7.6 of 8 GB' (GB are GiB here, as an '8 GB' GPU has 8 GiB)."""
        return f"plan {gigabytes(self.plan_bytes)} of {gigabytes(self.budget_bytes)} GB"


class ReportedBuffer(BaseModel):
    """One buffer llama.cpp logged while loading: 'sched_reserve: CUDA0 compute buffer size = 514.50 MiB'."""

    model_config = ConfigDict(frozen=True)

    stage: str  # load_tensors, llama_kv_cache, llama_context, sched_reserve
    device: str  # CPU, CPU_Mapped, CUDA0, CUDA_Host, ...
    kind: str  # model, KV, compute, output
    mib: float


def gigabytes(size: int) -> str:
    """A size in GiB with one decimal, without a trailing .0 (8, 7.6, 0.3)."""
    text = f"{size / GIB:.1f}"
    return text[:-2] if text.endswith(".0") else text
