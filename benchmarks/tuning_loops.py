"""Figure 12's measurement: Duet's training loop against a bare llama_opt_epoch loop, alternating
epoch by epoch on one F32 model and training context, in one child process, so that both sides
meet the same machine at the same moments (a shared 2-core machine moves a step's time by 2x).

- duet: models/tuning/trainer.py's train_epochs, what `duet tune` runs: the epoch's examples
  packed into windows, one llama_opt_epoch per window, the stop check and a progress event
  (written to /dev/null here) between steps.
- bare: the same windows in one ggml_opt_dataset and one llama_opt_epoch over all of them, as
  llama.cpp's examples/training does (the ctypes declarations come from models/tuning/opt_api.py:
  the 0.3.36 binding's llama_opt_params lacks a field, so no bare loop can call llama_opt_init
  through it).

``python -m benchmarks.tuning_loops WORKDIR`` reads WORKDIR/job.json (benchmarks/tuning.py writes
it) and prints {"duet": {"tokens", "seconds"}, "bare": {...}, "rounds": [...], "warm_up": {...}} as
JSON; the warm-up epoch before the rounds counts for neither side.
"""

from __future__ import annotations

import ctypes
import json
import sys
import threading
import time
from pathlib import Path


def bare_epoch(training, windows: list[list[int]]) -> float:
    """One llama_opt_epoch over a dataset of every window; its seconds."""
    import models.tuning.opt_api as opt_api

    api, n = training.api, training.context
    dataset = api.dataset_init(opt_api.GGML_TYPE_I32, opt_api.GGML_TYPE_I32, n, n, len(windows), 1)
    data = ctypes.cast(api.tensor_data(api.dataset_data(dataset)), ctypes.POINTER(ctypes.c_int32))
    labels = ctypes.cast(api.tensor_data(api.dataset_labels(dataset)), ctypes.POINTER(ctypes.c_int32))
    for i, window in enumerate(windows):
        ctypes.memmove(ctypes.byref(data.contents, 4 * i * n), (ctypes.c_int32 * n)(*window[:n]), 4 * n)
        ctypes.memmove(ctypes.byref(labels.contents, 4 * i * n), (ctypes.c_int32 * n)(*window[1 : n + 1]), 4 * n)
    null = opt_api.EPOCH_CALLBACK()
    started = time.perf_counter()
    api.opt_epoch(training.ctx, dataset, training.result, None, len(windows), null, null)
    seconds = time.perf_counter() - started
    api.result_reset(training.result)
    api.dataset_free(dataset)
    return seconds


def main() -> int:
    import llama_cpp

    from models.tuning.child import FTYPES
    from models.tuning.trainer import Training, convert, train_epochs, windows

    work = Path(sys.argv[1])
    job = json.loads((work / "job.json").read_text())
    f32 = work / "f32.gguf"
    convert(llama_cpp, Path(job["source"]), f32, FTYPES["f32"], job["threads"])
    training = Training(llama_cpp, f32, job["context"], job["threads"])
    training.init_optimizer(job["learning_rate"], job["n_layer"], job["last_blocks"])
    examples, seed = job["train"], job["seed"]
    sides = {"duet": {"tokens": 0, "seconds": 0.0}, "bare": {"tokens": 0, "seconds": 0.0}}
    # One epoch measured in neither side: a process's first llama_opt_epoch builds the optimizer's
    # graphs and touches its buffers for the first time, which cost 15-20 % of that epoch's time on
    # an idle EPYC, and the first epoch of round 0 was always Duet's.
    warm_up = list(windows(examples, training.context, seed, 1))
    warm_up_s = bare_epoch(training, warm_up)
    rounds = []
    for r in range(job["rounds"]):
        first, second = ("duet", "bare") if r % 2 == 0 else ("bare", "duet")  # who goes first alternates
        this = {}
        for side in (first, second):
            epoch = 2 * r + (1 if side == first else 2)
            if side == "duet":
                report = train_epochs(training, examples, [], 1, seed + epoch, threading.Event(), lambda _e: None)
                tokens, seconds = report.tokens, report.train_seconds
            else:
                batch = list(windows(examples, training.context, seed + epoch, 1))
                tokens, seconds = training.context * len(batch), bare_epoch(training, batch)
            sides[side]["tokens"] += tokens
            sides[side]["seconds"] += seconds
            this[side] = tokens / seconds
        rounds.append(this)
    training.close()
    warm = {"tokens": training.context * len(warm_up), "seconds": warm_up_s}
    print(json.dumps(sides | {"rounds": rounds, "warm_up": warm}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
