"""Placement for the catalog's pairs on GPUs of a given size, without downloading them.

An embedded model is planned from its own header; a hub model from the catalog's numbers (its file
size and architecture, models/files/catalog.toml), as `shape_from_numbers` estimates a Q4_K_M file.
`python -m benchmarks.placement_table` prints the README's table from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.files.catalog import CatalogModel, CatalogPair
from models.placement.costs import context_size
from models.placement.planner import PaneAllotment, PlanRequest, plan
from models.placement.shape import ModelShape, shape_from_header, shape_from_numbers
from models.settings import DEFAULT_N_CTX


def catalog_shape(model: CatalogModel) -> ModelShape | None:
    """The model's shape: its header when embedded, else estimated from its catalog numbers."""
    if model.embedded is not None:
        from models.files.embedded import embedded_path
        from models.files.gguf import read_header

        return shape_from_header(read_header(embedded_path(model.embedded)), model.name)
    if model.n_embd is None or model.n_heads is None or model.n_ff is None or model.n_vocab is None:
        return None
    return shape_from_numbers(
        model.name,
        file_size=model.size,
        n_layer=model.n_layers,
        n_embd=model.n_embd,
        n_vocab=model.n_vocab,
        n_head=model.n_heads,
        n_kv_heads=model.n_kv_heads,
        head_dim=model.head_dim,
        n_ff=model.n_ff,
        tied_embeddings=bool(model.tied_embeddings),
        context_length=model.context_length,
    )


@dataclass(frozen=True)
class PairPlan:
    pair: str
    budget: int
    shapes: tuple[ModelShape, ModelShape]
    allotments: tuple[PaneAllotment, PaneAllotment]


def plan_pair(pair: CatalogPair, budget: int, n_ctx: int = DEFAULT_N_CTX) -> PairPlan | None:
    """Both members of ``pair`` planned together within ``budget`` bytes (None: numbers missing)."""
    base, chat = catalog_shape(pair.base), catalog_shape(pair.chat)
    if base is None or chat is None:
        return None
    requests = [PlanRequest(s, context_size(n_ctx, s.context_length)) for s in (base, chat)]
    first, second = plan(requests, budget)
    return PairPlan(pair.name, budget, (base, chat), (first, second))
