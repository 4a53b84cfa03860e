"""Figure 12's bare side: llama.cpp's own training loop, one llama_opt_epoch per epoch over a
dataset of every window, on the F32 copy of the source, as llama.cpp's examples/training does
it. ``python -m benchmarks.tuning_bare WORKDIR`` reads WORKDIR/job.json (benchmarks/tuning.py
writes it) and prints {"tokens", "seconds", "tokens_per_second"}.

Only the struct declarations come from Duet (models/tuning/opt_api.py): the 0.3.36 binding's
llama_opt_params lacks a field, so no bare loop can call llama_opt_init through it."""

from __future__ import annotations

import ctypes
import json
import sys
import time
from pathlib import Path


def main() -> int:
    import llama_cpp

    import models.tuning.opt_api as opt_api

    work = Path(sys.argv[1])
    job = json.loads((work / "job.json").read_text())
    low, api = llama_cpp.llama_cpp, opt_api.load(llama_cpp)
    f32 = work / "f32.gguf"
    q = low.llama_model_quantize_default_params()
    q.ftype, q.nthread, q.allow_requantize = 0, job["threads"], True
    assert low.llama_model_quantize(job["source"].encode(), str(f32).encode(), ctypes.byref(q)) == 0
    mp = low.llama_model_default_params()
    mp.load_mode, mp.use_extra_bufts = low.LLAMA_LOAD_MODE_NONE, False
    model = low.llama_model_load_from_file(str(f32).encode(), mp)
    n = job["context"]
    cp = low.llama_context_default_params()
    cp.n_ctx = cp.n_batch = cp.n_ubatch = n
    cp.n_threads = cp.n_threads_batch = job["threads"]
    cp.flash_attn_type, cp.type_k, cp.type_v = low.LLAMA_FLASH_ATTN_TYPE_DISABLED, 0, 0
    ctx = low.llama_init_from_model(model, cp)
    last, n_layer = job["last_blocks"], job["n_layer"]

    @opt_api.PARAM_FILTER
    def keep(tensor, _ud) -> bool:
        name = api.tensor_name(tensor).decode()
        if last is None or not name.startswith("blk."):
            return last is None or name.startswith(("output_norm.", "output."))
        return int(name.split(".")[1]) >= n_layer - last

    optimizer = api.default_optimizer_params(None)
    optimizer.adamw.alpha = job["learning_rate"]
    params = opt_api.OptParams(
        0, keep, None, api.constant_optimizer_params, ctypes.cast(ctypes.pointer(optimizer), ctypes.c_void_p), 0
    )
    api.opt_init(ctx, model, params)
    result, null = api.result_init(), opt_api.EPOCH_CALLBACK()
    seconds, tokens = 0.0, 0
    for windows in job["epochs"]:
        dataset = api.dataset_init(opt_api.GGML_TYPE_I32, opt_api.GGML_TYPE_I32, n, n, len(windows), 1)
        data = ctypes.cast(api.tensor_data(api.dataset_data(dataset)), ctypes.POINTER(ctypes.c_int32))
        labels = ctypes.cast(api.tensor_data(api.dataset_labels(dataset)), ctypes.POINTER(ctypes.c_int32))
        for i, window in enumerate(windows):
            for j in range(n):
                data[i * n + j], labels[i * n + j] = window[j], window[j + 1]
        started = time.perf_counter()
        api.opt_epoch(ctx, dataset, result, None, len(windows), null, null)
        seconds += time.perf_counter() - started
        tokens += n * len(windows)
        api.result_reset(result)
        api.dataset_free(dataset)
    print(json.dumps({"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
