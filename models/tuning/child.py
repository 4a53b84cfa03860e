"""The training child: ``python -m models.tuning.child WORKDIR`` runs the job in WORKDIR/job.json.

A process of its own, so that an abort inside ggml (an op without a backward pass) or the
kernel's OOM killer ends this process and never Duet. Events go to the parent as JSON lines on
the stdout Duet was started with (file descriptor 1 is pointed at stderr first, so nothing
llama.cpp prints can mix into them); a line "stop" on stdin, or stdin closing because the parent
is gone, stops training at the next step.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

FTYPES = {"f32": 0, "f16": 1, "q8_0": 7, "q4_k_m": 15}  # llama.h enum llama_ftype
F32_COPY, TRAINED_F32, QUANTIZED = "source-f32.gguf", "trained-f32.gguf", "trained-quantized.gguf"


def _events_out():
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # llama.cpp's and ggml's prints go to stderr
    return events


def _listen(stop: threading.Event) -> None:
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()  # "stop", or stdin closed: the parent is gone


def main() -> int:
    work = Path(sys.argv[1])
    events = _events_out()

    def emit(event: dict) -> None:
        events.write(json.dumps(event) + "\n")

    stop = threading.Event()
    threading.Thread(target=_listen, args=(stop,), daemon=True).start()
    job = json.loads((work / "job.json").read_text(encoding="utf-8"))
    from models.tuning.trainer import Stopped

    try:
        emit({"type": "done", **run_job(job, work, stop, emit)})
    except Stopped:
        emit({"type": "stopped"})
    except (RuntimeError, OSError, ValueError) as err:
        emit({"type": "error", "message": str(err)})
        return 1
    return 0


def run_job(job: dict, work: Path, stop: threading.Event, emit) -> dict:
    import llama_cpp

    from models.tuning.saving import restore_metadata
    from models.tuning.trainer import HeldOut, Stopped, Training, convert, train_epochs

    threads = int(job["threads"])
    source = Path(job["source"])
    emit({"type": "phase", "phase": "convert"})
    llama_cpp.llama_backend_init()
    convert(llama_cpp, source, work / F32_COPY, FTYPES["f32"], threads)
    if stop.is_set():
        raise Stopped
    training = Training(llama_cpp, work / F32_COPY, int(job["context"]), threads)
    tensors, weights = training.init_optimizer(float(job["learning_rate"]), int(job["n_layer"]), job["last_blocks"])
    emit({"type": "trained", "tensors": tensors, "weights": weights})
    held_out = [HeldOut(tuple(e["tokens"]), tuple(bool(a) for a in e["answer"])) for e in job["held_out"]]
    emit({"type": "phase", "phase": "evaluate", "epoch": 0})
    before = training.answer_loss(held_out) if held_out else None
    emit({"type": "before", "held_out_loss": before})
    emit({"type": "phase", "phase": "train"})
    report = train_epochs(training, job["train"], held_out, int(job["epochs"]), int(job["seed"]), stop, emit)
    emit({"type": "phase", "phase": "save"})
    started = time.perf_counter()
    training.save(work / TRAINED_F32)
    training.close()
    (work / F32_COPY).unlink()
    convert(llama_cpp, work / TRAINED_F32, work / QUANTIZED, FTYPES[job["output"]], threads)
    (work / TRAINED_F32).unlink()
    restore_metadata(work / QUANTIZED, source, work / job["file"], job["name"])
    (work / QUANTIZED).unlink()
    return {
        "steps": report.steps,
        "train_seconds": report.train_seconds,
        "tokens": report.tokens,
        "save_seconds": time.perf_counter() - started,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


if __name__ == "__main__":
    sys.exit(main())
