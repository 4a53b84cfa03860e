"""Importing llama_cpp the way a two-pane terminal app needs it.

llama-cpp-python silences llama.cpp by dup2-ing file descriptors 1 and 2 onto /dev/null while a
model loads. That is process-wide: with two panes loading in two threads, one thread can "restore"
the other's /dev/null and lose the terminal for good, and while the TUI draws, frames vanish. So the
fd juggling is replaced by a no-op and llama.cpp's log goes to a callback that keeps recent lines
in memory (they make load errors explainable) and prints nothing.

llama-cpp-python also compiles every chat template a GGUF carries, in this process, while the
model loads (for its create_chat_completion, which Duet never calls). A template is a stranger's
code, and Duet renders it only in a bounded helper process (template_sandbox.py), so the
formatter llama-cpp-python's loader sees keeps the template as text and compiles nothing.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import threading
from pathlib import Path
from types import ModuleType

from models.engines.llama import load_log

_lock = threading.Lock()
_module: ModuleType | None = None
_recent_log: collections.deque[str] = collections.deque(maxlen=50)
_log_callback = None  # kept referenced so ctypes does not free it


class _NoSuppress(contextlib.AbstractContextManager):
    def __init__(self, disable: bool = True):
        pass

    def __exit__(self, *exc) -> None:
        return None


class _UncompiledTemplate:
    """What Llama() gets instead of a Jinja2ChatFormatter: the template, never compiled."""

    def __init__(self, template: str, **_ignored) -> None:
        self.template = template

    def to_chat_handler(self):
        def refuse(*_args, **_kwargs):
            raise RuntimeError("Duet renders chat templates in its sandbox, not through llama-cpp-python")

        return refuse


class _ChatFormatsCompilingNothing:
    """llama_cpp.llama_chat_format as llama_cpp.llama sees it, less the in-process template compiler."""

    Jinja2ChatFormatter = _UncompiledTemplate

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)


def llama_cpp() -> ModuleType:
    """The llama_cpp module, imported once, quiet and thread-safe."""
    global _module, _log_callback
    with _lock:
        if _module is None:
            import llama_cpp as module
            import llama_cpp._internals as internals
            import llama_cpp.llama as llama_module

            for patched in (llama_module, internals):  # module globals, looked up at each load
                vars(patched)["suppress_stdout_stderr"] = _NoSuppress
            vars(llama_module)["llama_chat_format"] = _ChatFormatsCompilingNothing(llama_module.llama_chat_format)

            @module.llama_log_callback
            def _keep(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
                line = text.decode("utf-8", errors="replace")
                _recent_log.append(line)
                load_log.feed(line)  # where the layers went, for the load on this thread

            _log_callback = _keep
            module.llama_log_set(_log_callback, ctypes.c_void_p(0))
            keep_weights_out_of_amx(module)
            _module = module
        return _module


def keep_weights_out_of_amx(module: ModuleType) -> None:
    """Keep model weights out of llama.cpp's AMX buffers when the build has AMX kernels.

    A build from source targets the machine it is built on (GGML_NATIVE), so on a Xeon with AMX
    it puts every quantized weight in an "AMX" extra buffer. On the 2-core Xeon VMs this project
    is built and tested on, the first decode through those kernels crashes the process with a
    segmentation fault (bare llama-cpp-python too: `Llama(...)` then any completion), for both
    embedded models; without the extra buffer types the same build answers normally. The extra
    buffers are an optimisation (weights repacked for the CPU's widest kernels), so they are
    turned off for AMX builds only; DUET_LLAMA_EXTRA_BUFFERS=1 turns them back on.
    """
    if os.environ.get("DUET_LLAMA_EXTRA_BUFFERS") == "1" or not amx_build(module):
        return
    defaults = module.llama_cpp.llama_model_default_params

    def model_params_without_extra_buffers():
        params = defaults()
        params.use_extra_bufts = False
        return params

    # llama_cpp.llama reads the function from the llama_cpp.llama_cpp module at every load
    module.llama_cpp.llama_model_default_params = model_params_without_extra_buffers


def amx_build(module: ModuleType) -> bool:
    """Whether the CPU backend llama-cpp-python loaded was compiled with AMX kernels."""
    return cpu_has(module, "amx_int8")


def cpu_has(module: ModuleType, feature: str) -> bool:
    """ggml_cpu_has_<feature>() of the CPU backend llama-cpp-python loaded ("avx2", "avx512",
    "amx_int8"): what the build was compiled for, which decides its kernels and weight repacking."""
    folder = Path(module.__file__ or "").parent / "lib"
    for name in ("libggml-cpu.so", "libggml-cpu.dylib", "ggml-cpu.dll"):
        if (folder / name).exists():
            try:
                library = ctypes.CDLL(str(folder / name))
                return bool(getattr(library, f"ggml_cpu_has_{feature}")())
            except (OSError, AttributeError):
                return False
    return False


def extra_buffers_on(module: ModuleType) -> bool:
    """Whether models load with llama.cpp's extra (repacked) weight buffers: off on AMX builds
    (keep_weights_out_of_amx) unless DUET_LLAMA_EXTRA_BUFFERS=1."""
    return os.environ.get("DUET_LLAMA_EXTRA_BUFFERS") == "1" or not amx_build(module)


def recent_log_error() -> str | None:
    """The last llama.cpp log line that reads like an error, to explain a failed load."""
    for line in reversed(_recent_log):
        lowered = line.lower()
        if "error" in lowered or "failed" in lowered or "unknown" in lowered:
            return line.strip()
    return None


def recent_log() -> list[str]:
    """llama.cpp's last log lines (at most 50), oldest first."""
    return list(_recent_log)


def clear_log() -> None:
    _recent_log.clear()


def gpu_offload_supported() -> bool:
    return bool(llama_cpp().llama_supports_gpu_offload())
