"""What llama.cpp says it did while loading a model: where each layer went, and its buffers.

llama.cpp has no API that tells where the layers of a loaded model are, so the truth is read from
its load log. For every layer (the output layer too, as number n_layer) it logs

    load_tensors: layer  17 assigned to device CUDA0, is_swa = 0

and, on a build that can offload, a summary line "offloaded N/M layers to GPU". The summary is not
the truth: it prints min(n_gpu_layers, n_layer + 1) even when no GPU device was found (a CUDA
build on a machine without one places every layer on the CPU, llama-model.cpp, load_tensors). The
per-layer lines are what the placement is made of, so they win; the summary is kept as a fallback
for a build whose log lacks them. A CPU-only build logs neither line with a GPU device: 0 layers.

The buffer lines ("CUDA0 model buffer size = 1234.56 MiB", "... KV buffer size", "... compute
buffer size") are what the planner's estimates are checked against (models/placement/).

Two panes load at once on two threads, and llama.cpp calls the log callback on the thread that
logs, so each load collects its own lines in a thread-local report (models/engines/llama/runtime.py
feeds every line here).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from models.placement.records import ReportedBuffer

_LAYER = re.compile(r"load_tensors: layer\s+(\d+) assigned to device (\S+?),")
_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_BUFFER = re.compile(r"^(\w+):\s+(\S+)\s+(model|KV|compute|output) buffer size =\s+([\d.]+) MiB")
_HOST_DEVICES = ("CPU",)  # ggml's CPU device; every other device name (CUDA0, Metal, Vulkan0) is a GPU


@dataclass
class LoadReport:
    """The placement lines of one model load, as llama.cpp logged them."""

    layer_devices: dict[int, str] = field(default_factory=dict)
    offloaded: tuple[int, int] | None = None  # the "offloaded N/M layers to GPU" line, when logged
    buffers: list[ReportedBuffer] = field(default_factory=list)

    def feed(self, line: str) -> None:
        if match := _LAYER.search(line):
            self.layer_devices[int(match[1])] = match[2]
        elif match := _OFFLOADED.search(line):
            self.offloaded = (int(match[1]), int(match[2]))
        elif match := _BUFFER.search(line.strip()):
            self.buffers.append(ReportedBuffer(stage=match[1], device=match[2], kind=match[3], mib=float(match[4])))

    @property
    def gpu_layers(self) -> int:
        """How many layers (the output layer counted) llama.cpp placed on a GPU device."""
        if self.layer_devices:
            return sum(1 for device in self.layer_devices.values() if device not in _HOST_DEVICES)
        return self.offloaded[0] if self.offloaded else 0

    @property
    def total_layers(self) -> int | None:
        """Layers llama.cpp counts (n_layer + 1, the output layer included), when it said."""
        if self.layer_devices:
            return max(self.layer_devices) + 1
        return self.offloaded[1] if self.offloaded else None


_active = threading.local()


@contextmanager
def capture() -> Iterator[LoadReport]:
    """Collect what llama.cpp logs on this thread inside the block (one model load)."""
    report = LoadReport()
    previous = getattr(_active, "report", None)
    _active.report = report
    try:
        yield report
    finally:
        _active.report = previous


def feed(text: str) -> None:
    """One log line from llama.cpp's callback: kept when this thread is capturing a load."""
    report = getattr(_active, "report", None)
    if report is not None:
        report.feed(text)
