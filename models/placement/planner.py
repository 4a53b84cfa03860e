"""Dividing one GPU's memory among the panes' models: how many layers of each go there.

A pane with any layer on the GPU costs its compute buffer and overhead there, and each layer its
weights and KV cache (models/placement/costs.py); the output layer is the first to go (llama.cpp offloads the last n_gpu_layers layers). The planner hands out layers one
at a time to the pane with the smallest share of its model offloaded whose next layer still fits,
so two models that do not both fit end up offloaded in about the same proportion (both panes
about as fast, which is what a side-by-side comparison wants), and what is left over still goes
to a pane it fits in. A pane left with no layer is loaded with llama.cpp's op_offload off, so that
it puts nothing on the GPU (the engine does that). A pane whose layers the user fixed (--gpu-layers) keeps them; its memory is
taken off the budget first. Two panes on one file are two copies of its weights: each pane's
llama.cpp uploads its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.errors import DuetError
from models.placement.costs import gpu_bytes
from models.placement.records import GIB, MIB
from models.placement.shape import ModelShape


@dataclass(frozen=True)
class PlanRequest:
    shape: ModelShape
    n_ctx: int
    fixed_layers: int | None = None  # the user's --gpu-layers (-1: all); None: planned


@dataclass(frozen=True)
class PaneAllotment:
    layers: int
    bytes: int


def plan(requests: list[PlanRequest], budget: int) -> list[PaneAllotment]:
    """Layers (llama.cpp's n_gpu_layers) and GPU bytes for each request, within ``budget`` bytes."""
    layers = [_fixed(r) if r.fixed_layers is not None else 0 for r in requests]
    # a fixed pane keeps llama.cpp's op_offload (its GPU compute buffer even at 0 layers); a planned
    # pane left at 0 layers is loaded without it and takes nothing on the GPU
    cost = [gpu_bytes(r.shape, r.n_ctx, k, op_offload=r.fixed_layers is not None) for r, k in zip(requests, layers)]
    open_ = [i for i, r in enumerate(requests) if r.fixed_layers is None]
    while open_:
        i = min(open_, key=lambda j: ((layers[j] + 1) / requests[j].shape.total_layers, j))
        grown = gpu_bytes(requests[i].shape, requests[i].n_ctx, layers[i] + 1)
        if sum(cost) - cost[i] + grown > budget:
            open_.remove(i)  # llama.cpp offloads whole layers from the end: this pane is done
            continue
        layers[i], cost[i] = layers[i] + 1, grown
        if layers[i] == requests[i].shape.total_layers:
            open_.remove(i)
    return [PaneAllotment(k, c) for k, c in zip(layers, cost)]


def _fixed(request: PlanRequest) -> int:
    total = request.shape.total_layers
    layers = request.fixed_layers if request.fixed_layers is not None else total
    return total if layers < 0 else min(layers, total)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:(G|GB|GiB)|(M|MB|MiB))?\s*$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """'6GB', '6.5G', '7000MiB', '6' (GB) -> bytes. GB means GiB: an '8 GB' GPU has 8 GiB."""
    match = _SIZE.match(text)
    if not match:
        raise DuetError(f"'{text}' is not a memory size; write it like 6GB, 6.5GB or 7000MB")
    size = float(match[1]) * (MIB if match[3] else GIB)
    if size < 64 * MIB:
        raise DuetError(f"a GPU memory budget of '{text}' is too small to hold any model; give at least 64MB")
    return int(size)
