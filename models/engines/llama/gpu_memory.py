"""Free and total memory of the GPUs llama.cpp would offload to, asked through ggml with ctypes.

llama-cpp-python binds llama.cpp but not ggml's device registry, so `ggml_backend_dev_count`,
`ggml_backend_dev_get`, `ggml_backend_dev_type`, `ggml_backend_dev_name` and
`ggml_backend_dev_memory` are bound here from the libggml it ships (dlsym on libggml finds the
ones libggml-base defines). llama.cpp offloads to the devices of type GPU, or to the integrated
GPUs when there is none (llama.cpp, llama_model_load_from_file_impl); so does the sum here.
A CPU-only build has neither: no GPU memory (None).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from models.engines.llama import runtime

_TYPE_GPU, _TYPE_IGPU = 1, 2  # enum ggml_backend_dev_type: CPU, GPU, IGPU, ACCEL, META


@dataclass(frozen=True)
class DeviceMemory:
    name: str
    free: int
    total: int


def gpu_devices() -> list[DeviceMemory]:
    """The GPUs llama.cpp offloads to, with the free memory each reports now; [] on a CPU build."""
    rows = all_devices()
    for kind in (_TYPE_GPU, _TYPE_IGPU):
        chosen = [DeviceMemory(name, free, total) for name, type_, free, total in rows if type_ == kind]
        if chosen:
            return chosen
    return []


def free_gpu_memory() -> int | None:
    """Bytes free on the offload devices together, or None when there is no GPU."""
    devices = gpu_devices()
    return sum(d.free for d in devices) if devices else None


_lib: ctypes.CDLL | None = None


def _bind() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        from llama_cpp._ggml import libggml

        libggml.ggml_backend_dev_count.restype = ctypes.c_size_t
        libggml.ggml_backend_dev_count.argtypes = []
        libggml.ggml_backend_dev_get.restype = ctypes.c_void_p
        libggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
        libggml.ggml_backend_dev_type.restype = ctypes.c_int
        libggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
        libggml.ggml_backend_dev_name.restype = ctypes.c_char_p
        libggml.ggml_backend_dev_name.argtypes = [ctypes.c_void_p]
        libggml.ggml_backend_dev_memory.restype = None
        libggml.ggml_backend_dev_memory.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.POINTER(ctypes.c_size_t),
        ]
        _lib = libggml
    return _lib


def all_devices() -> list[tuple[str, int, int, int]]:
    """Every ggml device: (name, type, free, total), the CPU's included."""
    runtime.llama_cpp()  # loads the backends (llama_backend_init) before the registry is asked
    lib = _bind()
    rows = []
    for index in range(lib.ggml_backend_dev_count()):
        device = lib.ggml_backend_dev_get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(device, ctypes.byref(free), ctypes.byref(total))
        name = (lib.ggml_backend_dev_name(device) or b"?").decode("utf-8", errors="replace")
        rows.append((name, lib.ggml_backend_dev_type(device), free.value, total.value))
    return rows
