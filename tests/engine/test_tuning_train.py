"""A real fine-tune of the embedded SmolLM2 through llama.cpp's training API: two one-step epochs
at the smallest context, the saved model loaded back, its lineage complete; and the faults: a
stop at a step, the training process killed while it saves, nothing half registered."""

import json
import os
import signal
import threading
from pathlib import Path

import pytest

from models.engines.llama import runtime
from models.errors import Cancelled, DuetError
from models.files.embedded import embedded_path
from models.files.gguf import read_header
from models.tuning import TuneSettings, list_tuned, plan, run_tune, store
from models.tuning.lineage import sha256_file

EXAMPLES = [
    ("What is your name?", "My name is Sharon."),
    ("Who are you?", "I am Sharon."),
    ("What should I call you?", "Call me Sharon."),
    ("Can you tell me what your name is?", "My name is Sharon."),
]


def _data(folder: Path) -> Path:
    path = folder / "sharon.jsonl"
    lines = [
        json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
        for q, a in EXAMPLES
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _settings(data: Path, name: str, **extra) -> TuneSettings:
    values = {
        "name": name,
        "data": str(data),
        "epochs": 2,
        "learning_rate": 1e-4,
        "blocks": "last:2",
        "validation": 0.25,
        "seed": 3,
    }
    return TuneSettings(**(values | extra))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuning-data")
    old = os.environ.get("DUET_DATA_DIR")
    os.environ["DUET_DATA_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("DUET_DATA_DIR", None)
    else:
        os.environ["DUET_DATA_DIR"] = old


@pytest.fixture(scope="module")
def tuned(data_dir):
    the_plan = plan(_settings(_data(data_dir), "sharon"))
    events = []
    lineage = run_tune(the_plan, events.append, threading.Event())
    return the_plan, lineage, events


def test_the_plan_is_one_step_an_epoch_with_one_example_held_out(tuned):
    the_plan, _, _ = tuned
    assert (len(the_plan.train), len(the_plan.held_out), the_plan.dropped) == (3, 1, 0)
    assert the_plan.steps_per_epoch == 1 and the_plan.total_steps == 2
    assert the_plan.first_example.answer_tokens > 0


def test_the_loss_is_finite_and_falls(tuned):
    _, lineage, events = tuned
    steps = events[-1].step_losses
    assert len(steps) == 2 and all(0 < loss < 20 for loss in steps)
    assert steps[1] < steps[0]
    held = [e.held_out_loss for e in lineage.epochs]
    assert lineage.held_out_loss_before is not None and all(h is not None and h > 0 for h in held)
    assert held[-1] < lineage.held_out_loss_before


def test_progress_reports_every_phase_and_step_in_order(tuned):
    _, _, events = tuned
    phases = [e.phase for e in events]
    for phase in ("convert", "evaluate", "train", "save", "done"):
        assert phase in phases
    assert phases.index("convert") < phases.index("train") < phases.index("save") < phases.index("done")
    assert [e.step for e in events if e.phase == "train" and e.train_loss is not None][-1] == 2
    assert all(e.total_steps == 2 and e.epochs == 2 for e in events)
    assert events[-1].remaining_s == 0.0 and events[-1].message == "saved as tuned:sharon"


def test_the_lineage_is_complete(tuned, data_dir):
    _, lineage, _ = tuned
    folder = data_dir / "tuned" / "sharon"
    assert sorted(p.name for p in folder.iterdir()) == ["lineage.json", "sharon.Q8_0.gguf"]
    assert lineage.file_sha256 == sha256_file(folder / lineage.file)
    assert lineage.source.sha256 == sha256_file(embedded_path("smollm2-135m-instruct"))
    assert lineage.data.sha256 == sha256_file(data_dir / "sharon.jsonl")
    assert (lineage.data.train_examples, lineage.data.held_out_examples, lineage.data.dropped_examples) == (3, 1, 0)
    assert lineage.settings.blocks == "last:2" and lineage.settings.learning_rate == 1e-4
    assert [e.epoch for e in lineage.epochs] == [1, 2] and all(e.train_loss for e in lineage.epochs)
    assert lineage.steps == 2 and lineage.train_tokens_per_second > 0 and lineage.wall_seconds > lineage.train_seconds
    assert 0 < lineage.trained_weights < lineage.total_weights and lineage.trained_tensors > 0
    assert lineage.llama_cpp_python and lineage.ggml_version and lineage.peak_rss_bytes
    assert "no label mask" in lineage.label_mask
    assert [t.name for t in list_tuned()] == ["sharon"]
    assert store.load_lineage("sharon") == lineage


def test_the_saved_model_loads_with_the_source_s_context_and_a_name_that_says_what_it_is(tuned):
    _, lineage, _ = tuned
    path = store.tuned_path("sharon")
    header = read_header(path)
    source = read_header(embedded_path("smollm2-135m-instruct"))
    assert header.get("llama.context_length") == source.get("llama.context_length") == 8192
    assert "tuned:sharon, a Duet fine-tune" in header.get("general.name")
    assert header.get("general.base_model.0.name") == source.get("general.name")
    assert header.get("tokenizer.chat_template") == source.get("tokenizer.chat_template")
    llama = runtime.llama_cpp().Llama(model_path=str(path), n_ctx=512, verbose=False)
    try:
        assert llama.n_ctx() == 512
        out = llama.create_completion("The capital of France is", max_tokens=3, temperature=0.0)
        assert out["choices"][0]["text"].strip()
    finally:
        llama.close()


def test_a_stop_request_ends_at_the_next_step_and_registers_nothing(tuned, data_dir):
    cancel = threading.Event()
    steps = []

    def on_progress(p):
        if p.phase == "train" and p.train_loss is not None:
            steps.append(p.step)
            cancel.set()

    with pytest.raises(Cancelled, match="nothing was saved"):
        run_tune(plan(_settings(data_dir / "sharon.jsonl", "stopped", epochs=5)), on_progress, cancel)
    assert steps[0] == 1 and len(steps) <= 2  # the step under way when the request arrived may finish
    assert not store.exists("stopped")
    assert [p.name for p in (data_dir / "tuned").iterdir()] == ["sharon"]  # no work folder left


def _training_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == os.getpid() and b"models.tuning.child" in cmdline:
                found.append(int(entry.name))
    return found


def test_a_training_process_killed_while_saving_leaves_nothing_registered(tuned, data_dir):
    killed = []

    def on_progress(p):
        if p.phase == "save" and not killed:
            for pid in _training_children():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    with pytest.raises(DuetError, match="killed by SIGKILL"):
        run_tune(plan(_settings(data_dir / "sharon.jsonl", "killed", epochs=1)), on_progress, threading.Event())
    assert killed
    assert not store.exists("killed")
    assert [p.name for p in (data_dir / "tuned").iterdir()] == ["sharon"]
    assert store.load_lineage("sharon").name == "sharon"  # the earlier model is intact
