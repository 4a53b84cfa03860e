"""What duet tune refuses, each in one line before any weight is read, and what happens when
llama.cpp aborts anyway: the training child dies, Duet reports it and carries on."""

import json
import sys
import threading

import pytest

from models.errors import DuetError
from models.tuning import TuneSettings, plan, store
from models.tuning.runner import _Progress, _run_child


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _chat(path, *pairs):
    lines = [
        json.dumps({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]})
        for q, a in pairs
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_gemma_3_is_refused_by_its_architecture_before_anything_loads():
    with pytest.raises(DuetError) as err:
        plan(TuneSettings(name="g", lesson=True, model="embedded:gemma-3-270m"))
    assert str(err.value).startswith("llama.cpp cannot fine-tune gemma-3-270m (gemma3): its GEGLU feed-forward")


def test_a_ggml_abort_in_training_kills_the_child_not_duet(data_dir):
    """Gemma 3 past the architecture check: llama.cpp aborts at the first backward pass
    (GEGLU), in the training child; the parent turns it into one line."""
    from models.files.embedded import embedded_path

    work = store.new_workdir("gemma")
    job = {
        "name": "gemma", "source": str(embedded_path("gemma-3-270m")), "file": "gemma.Q8_0.gguf", "context": 256,
        "epochs": 1, "learning_rate": 1e-5, "seed": 1, "last_blocks": None, "n_layer": 18, "threads": 2,
        "output": "q8_0", "train": [list(range(2, 300))], "held_out": [],
    }  # fmt: skip
    (work / "job.json").write_text(json.dumps(job))

    class _Plan:
        total_steps = 1
        settings = TuneSettings(name="gemma", lesson=True, epochs=1)

    with pytest.raises(DuetError) as err:
        _run_child(work, _Progress(_Plan(), lambda p: None), threading.Event())  # type: ignore[arg-type]
    message = str(err.value)
    assert message.startswith("fine-tuning failed: llama.cpp stopped the training process:")
    assert "backward pass" in message and "\n" not in message
    store.discard_workdir(work)
    assert not store.exists("gemma")


def test_examples_longer_than_the_context_are_dropped_and_counted(tmp_path):
    long_answer = "word " * 400
    data = _chat(tmp_path / "d.jsonl", ("short?", "Yes."), ("long?", long_answer), ("again?", "Yes."))
    the_plan = plan(TuneSettings(name="t", data=data, validation=0.0))
    assert the_plan.dropped == 1 and len(the_plan.train) == 2
    assert "1 dropped (longer than 256 tokens)" in the_plan.summary_lines()[1]


def test_when_every_example_is_too_long_the_run_is_refused(tmp_path):
    data = _chat(tmp_path / "d.jsonl", ("long?", "word " * 400))
    with pytest.raises(DuetError, match=r"every example of d.jsonl is longer than the 256-token context \(1 dropped\)"):
        plan(TuneSettings(name="t", data=data))


def test_a_server_adapters_and_a_taken_name_are_refused(tmp_path, data_dir):
    with pytest.raises(DuetError, match="is a server: Duet can only fine-tune a GGUF file"):
        plan(TuneSettings(name="t", lesson=True, model="http://127.0.0.1:8080/v1"))
    with pytest.raises(DuetError, match="has LoRA adapters on it"):
        plan(TuneSettings(name="t", lesson=True, adapters=("a.gguf",)))
    from tests.support.tuned_store import write_lineage

    write_lineage(store.new_workdir("taken"), "taken", register=True)
    with pytest.raises(DuetError, match="a tuned model named 'taken' exists"):
        plan(TuneSettings(name="taken", lesson=True))


def test_not_enough_memory_shows_both_numbers(monkeypatch):
    monkeypatch.setattr("models.tuning.estimate.available_memory", lambda: 500_000_000)
    with pytest.raises(DuetError) as err:
        plan(TuneSettings(name="t", lesson=True))
    assert str(err.value).startswith("not enough memory to fine-tune smollm2-135m-instruct: it needs about 2.")
    assert "but 500.0 MB is available" in str(err.value)


def test_not_enough_disk_shows_both_numbers(monkeypatch):
    # models.tuning.plan is also the name of the package's plan(): the module itself is patched
    monkeypatch.setattr(sys.modules["models.tuning.plan"], "free_space", lambda _folder: 100_000_000)
    with pytest.raises(
        DuetError, match=r"not enough disk space to fine-tune .* needs about 1.2 GB but 100.0 MB is free"
    ):
        plan(TuneSettings(name="t", lesson=True))


def test_the_first_lesson_example_marks_exactly_the_answer_as_the_answer():
    the_plan = plan(TuneSettings(name="t", lesson=True))
    first = the_plan.first_example
    answers = [text for text, is_answer in first.segments if is_answer]
    assert answers == ["My name is Sharon.<|im_end|>\n"]
    assert the_plan.first_example_marked().endswith("<|im_start|>assistant\n[[My name is Sharon.<|im_end|>\n]]")
    assert len(first.tokens) == len(first.answer) and 0 < first.answer_tokens < len(first.tokens)
    assert (len(the_plan.train), len(the_plan.held_out)) == (40, 6)
