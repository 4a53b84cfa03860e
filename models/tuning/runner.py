"""run_tune(plan, on_progress, cancel): the parent's side of a fine-tune.

It writes the job into a fresh work folder of the store, starts the training child (child.py),
turns the child's JSON lines into TuneProgress events, asks the child to stop at the next step
when ``cancel`` is set, kills it at once when ``abandon`` is set, and when the child reports success writes the lineage record and
registers the folder as tuned:NAME in one rename (store.py). A child that dies (a ggml abort, the
OOM killer, kill -9, a full disk) ends the run with one line and leaves nothing registered.
"""

from __future__ import annotations

import collections
import datetime
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import models.tuning.estimate as estimate
import models.tuning.store as store
from models.errors import Cancelled, DuetError
from models.tuning.events import TuneProgress
from models.tuning.lineage import LINEAGE_FILE, DataRecord, EpochRecord, Lineage, SourceRecord, sha256_file
from models.tuning.plan import TunePlan, refuse_untrainable

SAVE_SECONDS_GUESS = 15.0


def job_for(plan: TunePlan, file_name: str) -> dict:
    s = plan.settings
    return {
        "name": s.name,
        "source": str(plan.source_path),
        "file": file_name,
        "context": s.context,
        "epochs": s.epochs,
        "learning_rate": s.learning_rate,
        "seed": s.seed,
        "last_blocks": s.last_blocks,
        "n_layer": plan.counts.n_layer,
        "threads": s.threads or estimate.cores(),
        "output": s.output,
        "train": [list(e.tokens) for e in plan.train],
        "held_out": [{"tokens": list(e.tokens), "answer": [int(a) for a in e.answer]} for e in plan.held_out],
    }


class _Progress:
    """The running totals every TuneProgress carries."""

    def __init__(self, plan: TunePlan, on_progress: Callable[[TuneProgress], None]) -> None:
        self.plan, self.on_progress = plan, on_progress
        self.started = time.monotonic()
        self.phase = "convert"
        self.step, self.epoch = 0, 0
        self.step_seconds: list[float] = []
        self.step_losses: list[float] = []
        self.epochs: list[EpochRecord] = []
        self.before: float | None = None
        self.trained = (0, 0)

    def remaining(self) -> float | None:
        if not self.step_seconds:
            return None
        per_step = sum(self.step_seconds[-8:]) / len(self.step_seconds[-8:])
        left = self.plan.total_steps - self.step
        return left * per_step * 1.05 + SAVE_SECONDS_GUESS

    def feed(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "phase":
            self.phase = event["phase"]
            self.epoch = max(self.epoch, int(event.get("epoch", self.epoch)))
        elif kind == "trained":
            self.trained = (int(event["tensors"]), int(event["weights"]))
        elif kind == "before":
            self.before = event["held_out_loss"]
        elif kind == "step":
            self.phase, self.step, self.epoch = "train", int(event["step"]), int(event["epoch"])
            self.step_seconds.append(float(event["seconds"]))
            if event["loss"] is not None:
                self.step_losses.append(float(event["loss"]))
        elif kind == "epoch":
            self.epochs.append(EpochRecord(**{k: event[k] for k in ("epoch", "train_loss", "held_out_loss")}))
        else:
            return
        self.report()

    def report(self, message: str = "") -> None:
        self.on_progress(
            TuneProgress(
                phase=self.phase,  # type: ignore[arg-type]
                step=self.step,
                total_steps=self.plan.total_steps,
                epoch=self.epoch,
                epochs=self.plan.settings.epochs,
                elapsed_s=time.monotonic() - self.started,
                remaining_s=0.0 if self.phase == "done" else self.remaining(),
                train_loss=self.step_losses[-1] if self.step_losses else None,
                held_out_before=self.before,
                epoch_losses=tuple(self.epochs),
                step_losses=tuple(self.step_losses),
                message=message,
            )
        )


def run_tune(
    plan: TunePlan,
    on_progress: Callable[[TuneProgress], None],
    cancel: threading.Event,
    abandon: threading.Event | None = None,
) -> Lineage:
    """Train, save and register the planned fine-tune; see models/tuning/__init__.py."""
    name = plan.settings.name
    refuse_untrainable(plan.architecture, plan.source_label)
    if store.exists(name):
        raise DuetError(
            f"a tuned model named '{name}' exists; pick another name or remove it: duet models remove tuned:{name}"
        )
    work = store.new_workdir(name)
    progress = _Progress(plan, on_progress)
    progress.report("starting")
    file_name = f"{name}.{plan.settings.output.upper()}.gguf"
    try:
        (work / "job.json").write_text(json.dumps(job_for(plan, file_name)), encoding="utf-8")
        done = _run_child(work, progress, cancel, abandon)
        lineage = _lineage(plan, progress, done, work / file_name)
        (work / "job.json").unlink()
        _write_lineage(work, lineage)
        store.register(work, name)
    except OSError as err:
        store.discard_workdir(work)
        raise DuetError(
            f"the fine-tune could not write to {work.parent} ({err.strerror}); free some disk space"
        ) from None
    except BaseException:
        store.discard_workdir(work)
        raise
    progress.phase = "done"
    progress.report(f"saved as tuned:{name}")
    return lineage


def _start_child(work: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["GGML_NO_BACKTRACE"] = "1"  # an abort prints its one line, not a debugger's stack dump
    return subprocess.Popen(
        [sys.executable, "-B", "-m", "models.tuning.child", str(work)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=work,
        start_new_session=True,  # Ctrl+C in the terminal reaches Duet, which asks the child to stop
        close_fds=True,
    )


def _run_child(
    work: Path, progress: _Progress, cancel: threading.Event, abandon: threading.Event | None = None
) -> dict:
    child = _start_child(work)
    events: queue.Queue[dict | None] = queue.Queue()
    log: collections.deque[str] = collections.deque(maxlen=80)
    threading.Thread(target=_read_events, args=(child, events), daemon=True, name="duet-tune-events").start()
    threading.Thread(target=_read_log, args=(child, log), daemon=True, name="duet-tune-log").start()
    asked_to_stop = False
    result: dict | None = None
    try:
        while True:
            if cancel.is_set() and not asked_to_stop:
                asked_to_stop = _ask_to_stop(child)
            if abandon is not None and abandon.is_set():  # a second Ctrl+C: no waiting for the step
                raise Cancelled("fine-tuning abandoned; nothing was saved")
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if event is None:
                break
            if event.get("type") in ("done", "stopped", "error"):
                result = event
            progress.feed(event)
    except BaseException:  # KeyboardInterrupt in the parent, or a callback that failed
        child.kill()
        child.wait()
        raise
    code = child.wait()
    return _outcome(result, code, log, asked_to_stop)


def _ask_to_stop(child: subprocess.Popen) -> bool:
    try:
        assert child.stdin is not None
        child.stdin.write(b"stop\n")
        child.stdin.flush()
    except (OSError, ValueError):
        pass
    return True


def _read_events(child: subprocess.Popen, events: queue.Queue) -> None:
    assert child.stdout is not None
    for raw in child.stdout:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.put(event)
    events.put(None)


def _read_log(child: subprocess.Popen, log: collections.deque) -> None:
    assert child.stderr is not None
    for raw in child.stderr:
        log.append(raw.decode("utf-8", "replace").rstrip())


def _outcome(result: dict | None, code: int, log: collections.deque, asked_to_stop: bool) -> dict:
    if result is not None and result["type"] == "done" and code == 0:
        return result
    if asked_to_stop and (result is None or result["type"] == "stopped"):
        raise Cancelled("fine-tuning stopped; nothing was saved")
    if result is not None and result["type"] == "error":
        raise DuetError(f"fine-tuning failed: {result['message']}; nothing was saved")
    raise DuetError(f"fine-tuning failed: {_death(code, log)}; nothing was saved")


_ABORT_LINE = re.compile(r"\.(?:c|cpp|h):\d+: ")  # FILE.c:LINE: how GGML_ABORT and GGML_ASSERT begin


def _death(code: int, log: collections.deque) -> str:
    lines = [line.strip() for line in log if line.strip() and not line.lstrip().startswith("#")]
    if any("no space left" in line.lower() for line in lines):
        return "the disk is full (free some space or set DUET_DATA_DIR elsewhere)"
    for line in reversed(lines):
        if _ABORT_LINE.search(line):
            return f"llama.cpp stopped the training process: {line[-200:]}"
    for line in reversed(lines):
        if "error" in line.lower() or "failed" in line.lower():
            return f"llama.cpp stopped the training process: {line[-200:]}"
    if code < 0:
        try:
            how = signal.Signals(-code).name
        except ValueError:
            how = f"signal {-code}"
        extra = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the training process was killed by {how}{extra}"
    return f"the training process ended with exit code {code}" + (f": {lines[-1][-200:]}" if lines else "")


def _lineage(plan: TunePlan, progress: _Progress, done: dict, path: Path) -> Lineage:
    import llama_cpp

    from models.tuning.opt_api import ggml_version

    s = plan.settings
    version, commit = ggml_version(llama_cpp)
    train_seconds = float(done["train_seconds"])
    return Lineage(
        name=s.name,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        file=path.name,
        file_sha256=sha256_file(path),
        file_size=path.stat().st_size,
        output=s.output,
        source=SourceRecord(
            source=s.model,
            label=plan.source_label,
            path=str(plan.source_path),
            sha256=sha256_file(plan.source_path),
            architecture=plan.architecture,
            name=plan.source_name,
        ),
        data=DataRecord(
            file=plan.data_label,
            sha256=plan.data_sha256,
            formats=plan.formats,
            train_examples=len(plan.train),
            held_out_examples=len(plan.held_out),
            dropped_examples=plan.dropped,
            train_tokens=plan.train_tokens,
            train_answer_tokens=sum(e.answer_tokens for e in plan.train),
            held_out_answer_tokens=sum(e.answer_tokens for e in plan.held_out),
        ),
        settings=s,
        trained_tensors=progress.trained[0],
        trained_weights=progress.trained[1],
        total_weights=plan.counts.total,
        steps=int(done["steps"]),
        held_out_loss_before=progress.before,
        epochs=progress.epochs,
        wall_seconds=time.monotonic() - progress.started,
        train_seconds=train_seconds,
        train_tokens_per_second=int(done["tokens"]) / train_seconds if train_seconds > 0 else 0.0,
        peak_rss_bytes=done.get("peak_rss_bytes"),
        llama_cpp_python=getattr(llama_cpp, "__version__", "unknown"),
        ggml_version=version,
        ggml_commit=commit,
    )


def _write_lineage(work: Path, lineage: Lineage) -> None:
    tmp = work / (LINEAGE_FILE + ".tmp")
    tmp.write_text(lineage.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, work / LINEAGE_FILE)
