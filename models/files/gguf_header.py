"""What a GGUF header holds, as Duet keeps it: the types that the reader (gguf.py) fills in and
the checks (gguf_checks.py) and GPU placement (models/placement/) read. They live apart from the
reader so that the checks depend on the types alone, not on the reader that calls them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GGUF_STRING = 8  # the GGUF value type of a string


@dataclass(frozen=True)
class ArrayInfo:
    """A metadata array too long to keep: its element count and element type."""

    length: int
    item_type: int = GGUF_STRING


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: what GPU placement plans with (models/placement/)."""

    name: str | None  # None when longer than ggml's 64-byte limit (llama.cpp refuses such a file)
    elements: int
    ggml_type: int
    offset: int  # from the start of the tensor data
    nbytes: int | None  # None when the type is unknown to Duet
    dims: tuple[int, ...] = ()  # ne[0], ne[1], ...: llama.cpp's CPU repack needs ne[1] (models/placement/repack.py)


@dataclass
class GGUFHeader:
    path: Path
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    tensor_count: int = 0
    file_size: int = 0
    data_end: int | None = None  # where the last tensor ends; None if a tensor type is unknown
    array_types: dict[str, int] = field(default_factory=dict)  # element type of every array value
    tensors: list[TensorInfo] = field(default_factory=list)  # in file order
    data_start: int = 0  # where the tensor data begins (tensor offsets count from here)
    # (token count, SHA-256 of the token-texts array's bytes): which vocabulary this is, if it has one
    vocabulary: tuple[int, str] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)
