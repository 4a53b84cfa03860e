"""llama.cpp's training API through ctypes, declared from the header the wheel was built from.

llama-cpp-python 0.3.36 binds ``llama_opt_init`` with a ``llama_opt_params`` that lacks the
vendored llama.h's trailing ``optimizer_type`` field, so its binding passes a struct one field
short: the struct and the function are declared again here, from the header
(site-packages/include/llama.h; tests/unit/test_tuning_struct.py compares the two). The dataset,
result and optimizer-parameter functions live in libggml-base, beside libllama.

ctypes callbacks cannot return a struct by value, so the optimizer-parameter callback is
llama.cpp's own ``ggml_opt_get_constant_optimizer_params``, whose user data points at an
``OptimizerParams`` this process owns: writing a new learning rate into it between steps is the
schedule.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

GGML_TYPE_I32 = 26  # ggml.h enum ggml_type
GGML_OPT_OPTIMIZER_TYPE_ADAMW = 0  # ggml-opt.h enum ggml_opt_optimizer_type


class AdamW(ctypes.Structure):
    _fields_ = [
        ("alpha", ctypes.c_float),  # learning rate
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("wd", ctypes.c_float),  # weight decay
    ]


class SGD(ctypes.Structure):
    _fields_ = [("alpha", ctypes.c_float), ("wd", ctypes.c_float)]


class OptimizerParams(ctypes.Structure):
    """ggml-opt.h ``struct ggml_opt_optimizer_params``."""

    _fields_ = [("adamw", AdamW), ("sgd", SGD)]


PARAM_FILTER = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p, ctypes.c_void_p)
EPOCH_CALLBACK = ctypes.CFUNCTYPE(
    None,
    ctypes.c_bool,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_void_p,
    ctypes.c_int64,
    ctypes.c_int64,
    ctypes.c_int64,
)


class OptParams(ctypes.Structure):
    """llama.h ``struct llama_opt_params``, every field of it (optimizer_type included)."""

    _fields_ = [
        ("n_ctx_train", ctypes.c_uint32),
        ("param_filter", PARAM_FILTER),
        ("param_filter_ud", ctypes.c_void_p),
        ("get_opt_pars", ctypes.c_void_p),  # ggml_opt_get_optimizer_params
        ("get_opt_pars_ud", ctypes.c_void_p),
        ("optimizer_type", ctypes.c_int),  # enum ggml_opt_optimizer_type
    ]


@dataclass
class OptApi:
    """The training functions, each a fresh ctypes function object (the binding's are untouched)."""

    llama: ctypes.CDLL
    ggml_base: ctypes.CDLL

    def __post_init__(self) -> None:
        p, i64 = ctypes.c_void_p, ctypes.c_int64
        self.opt_init = _fn(self.llama, "llama_opt_init", None, p, p, OptParams)
        self.opt_epoch = _fn(self.llama, "llama_opt_epoch", None, p, p, p, p, i64, EPOCH_CALLBACK, EPOCH_CALLBACK)
        self.filter_all = _fn(self.llama, "llama_opt_param_filter_all", ctypes.c_bool, p, p)
        base = self.ggml_base
        self.dataset_init = _fn(base, "ggml_opt_dataset_init", p, ctypes.c_int, ctypes.c_int, i64, i64, i64, i64)
        self.dataset_free = _fn(base, "ggml_opt_dataset_free", None, p)
        self.dataset_data = _fn(base, "ggml_opt_dataset_data", p, p)
        self.dataset_labels = _fn(base, "ggml_opt_dataset_labels", p, p)
        self.result_init = _fn(base, "ggml_opt_result_init", p)
        self.result_free = _fn(base, "ggml_opt_result_free", None, p)
        self.result_reset = _fn(base, "ggml_opt_result_reset", None, p)
        self.result_loss = _fn(
            base, "ggml_opt_result_loss", None, p, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double)
        )
        self.result_ndata = _fn(base, "ggml_opt_result_ndata", None, p, ctypes.POINTER(ctypes.c_int64))
        self.tensor_data = _fn(base, "ggml_get_data", p, p)
        self.tensor_name = _fn(base, "ggml_get_name", ctypes.c_char_p, p)
        self.tensor_elements = _fn(base, "ggml_nelements", ctypes.c_int64, p)
        # The address of the callback llama.cpp calls, never called from Python.
        self.constant_optimizer_params = ctypes.cast(base.ggml_opt_get_constant_optimizer_params, ctypes.c_void_p).value
        default = _fn(base, "ggml_opt_get_default_optimizer_params", OptimizerParams, p)
        self.default_optimizer_params = default

    def loss(self, result: int) -> float:
        """The mean loss a result holds (NaN when it holds nothing yet)."""
        loss, unc = ctypes.c_double(), ctypes.c_double()
        self.result_loss(result, ctypes.byref(loss), ctypes.byref(unc))
        return loss.value


def _fn(lib: ctypes.CDLL, name: str, restype, *argtypes):
    proto = ctypes.CFUNCTYPE(restype, *argtypes)
    return proto((name, lib))


def load(llama_cpp: ModuleType) -> OptApi:
    """The API from the llama_cpp package's own libraries (libllama and libggml-base beside it)."""
    lib_dir = Path(llama_cpp.__file__ or "").parent / "lib"
    llama = llama_cpp.llama_cpp._lib
    for name in ("libggml-base.so", "libggml-base.dylib", "ggml-base.dll"):
        if (lib_dir / name).exists():
            return OptApi(llama, ctypes.CDLL(str(lib_dir / name)))
    raise OSError(f"libggml-base is not in {lib_dir}")


def ggml_version(llama_cpp: ModuleType) -> tuple[str, str]:
    """ggml's version and commit, as the library reports them (the llama.cpp that trained)."""
    try:
        base = load(llama_cpp).ggml_base
        version = _fn(base, "ggml_version", ctypes.c_char_p)()
        commit = _fn(base, "ggml_commit", ctypes.c_char_p)()
    except (OSError, AttributeError):
        return "unknown", "unknown"
    return (version or b"unknown").decode(), (commit or b"unknown").decode()
