"""The planner's memory formulas beside what llama.cpp reports while loading, model by model.

    python -m benchmarks.placement_check [--ctx 2048 8192] [--gpu-layers -1] [--json OUT] [MODEL.gguf ...]

Each model (the embedded pair by default) is loaded once per n_ctx and n_gpu_layers, and its
buffers as llama.cpp logs them (models/engines/llama/load_log.py) are set beside the formulas of
models/placement/costs.py. On a CPU-only build every buffer is on the CPU, so the whole model is
compared; on a GPU build, what is on the GPU devices (model, KV, compute) and the layer count
llama.cpp reports beside the plan's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.placement.costs import compute_bytes, context_size, kv_bytes, weight_bytes
from models.placement.records import MIB, ReportedBuffer
from models.placement.shape import ModelShape, shape_from_header

_HOST = ("CPU", "CPU_Mapped", "CPU_REPACK", "CUDA_Host")


def measure(path: Path, n_ctx: int, gpu_layers: int) -> dict:
    """Load ``path`` once and return the formulas and llama.cpp's report side by side (MiB)."""
    from models.engines.llama import load_log, runtime
    from models.files.gguf import read_header

    shape = shape_from_header(read_header(path), path.name)
    if shape is None:
        raise SystemExit(f"{path}: its header lacks what placement needs")
    n_ctx = context_size(n_ctx, shape.context_length)
    lib = runtime.llama_cpp()
    with load_log.capture() as report:
        llama = lib.Llama(
            model_path=str(path), n_ctx=n_ctx, n_batch=min(512, n_ctx), n_gpu_layers=gpu_layers, verbose=False
        )
    llama.close()
    on_gpu = report.gpu_layers
    return {
        "model": path.name,
        "n_ctx": n_ctx,
        "n_gpu_layers": gpu_layers,
        "llama_cpp_gpu_layers": on_gpu,
        "total_layers": shape.total_layers,
        "offloaded_line": report.offloaded,
        "formula_mib": _formulas(shape, n_ctx, on_gpu),
        "llama_cpp_mib": _reported(report.buffers, on_gpu),
    }


def _formulas(shape: ModelShape, n_ctx: int, on_gpu: int) -> dict[str, float]:
    if on_gpu:  # what the planner counts on the GPU for this many layers
        weights, kv = weight_bytes(shape, on_gpu), kv_bytes(shape, n_ctx, on_gpu)
    else:  # everything on the CPU: the whole file (llama.cpp maps it once)
        weights, kv = shape.file_bytes, kv_bytes(shape, n_ctx)
    return {"model": _mib(weights), "KV": _mib(kv), "compute": _mib(compute_bytes(shape, n_ctx))}


def _reported(buffers: list[ReportedBuffer], on_gpu: int) -> dict[str, float]:
    """llama.cpp's buffers by kind: on the GPU devices when layers went there, else everywhere."""
    totals: dict[str, float] = {}
    for buffer in buffers:
        if buffer.kind == "output" or (on_gpu and buffer.device in _HOST):
            continue
        if buffer.kind == "compute" and not on_gpu:  # one CPU compute buffer
            totals["compute"] = max(totals.get("compute", 0.0), buffer.mib)
            continue
        totals[buffer.kind] = round(totals.get(buffer.kind, 0.0) + buffer.mib, 2)
    return totals


def _mib(size: int) -> float:
    return round(size / MIB, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.placement_check", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="GGUF files (default: the embedded pair)")
    parser.add_argument("--ctx", type=int, nargs="+", default=[2048])
    parser.add_argument("--gpu-layers", type=int, nargs="+", default=[-1])
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args(argv)
    paths = args.models
    if not paths:
        from models.files.embedded import embedded_path

        paths = [embedded_path("gemma-3-270m"), embedded_path("smollm2-135m-instruct")]
    rows = [measure(p, n_ctx, k) for p in paths for n_ctx in args.ctx for k in args.gpu_layers]
    for row in rows:
        layers = f"{row['llama_cpp_gpu_layers']}/{row['total_layers']} on GPU"
        print(f"{row['model']}  n_ctx {row['n_ctx']}  asked {row['n_gpu_layers']}: {layers}")
        for kind in ("model", "KV", "compute"):
            print(
                f"  {kind:<8} formula {row['formula_mib'][kind]:>9.2f} MiB"
                f"   llama.cpp {row['llama_cpp_mib'].get(kind, 0.0):>9.2f} MiB"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
