"""A tuned model's store entry for tests of listing, removing and resolving (models/tuning/store.py):
a lineage record beside a model file. The file is a copy of the embedded SmolLM2 when a test loads
it, and a stand-in otherwise; real training is tested in tests/engine/test_tuning_train.py."""

from __future__ import annotations

import shutil
from pathlib import Path

from models.tuning import store
from models.tuning.lineage import DataRecord, EpochRecord, Lineage, SourceRecord
from models.tuning.settings import TuneSettings


def write_lineage(work: Path, name: str, register: bool = False, model_file: Path | None = None) -> Lineage:
    gguf = work / f"{name}.Q8_0.gguf"
    if model_file is not None:
        shutil.copyfile(model_file, gguf)
    elif not gguf.exists():
        gguf.write_bytes(b"GGUF stand-in")
    lineage = Lineage(
        name=name,
        created="2026-12-04T21:00:00+00:00",
        file=gguf.name,
        file_sha256="0" * 64,
        file_size=gguf.stat().st_size,
        output="q8_0",
        source=SourceRecord(
            source="embedded:smollm2-135m-instruct",
            label="smollm2-135m-instruct",
            path="/dev/null",
            sha256="1" * 64,
            architecture="llama",
            name="SmolLM2 135M",
        ),
        data=DataRecord(
            file="the lesson set",
            sha256="2" * 64,
            formats=["chat"],
            train_examples=40,
            held_out_examples=6,
            dropped_examples=0,
            train_tokens=1902,
            train_answer_tokens=405,
            held_out_answer_tokens=62,
        ),
        settings=TuneSettings(name=name, lesson=True),
        trained_tensors=272,
        trained_weights=106_000_000,
        total_weights=134_000_000,
        steps=64,
        held_out_loss_before=1.66,
        epochs=[EpochRecord(epoch=1, train_loss=1.0, held_out_loss=0.9)],
        wall_seconds=180.0,
        train_seconds=150.0,
        train_tokens_per_second=110.0,
        peak_rss_bytes=2_500_000_000,
        llama_cpp_python="0.3.36",
        ggml_version="0.25.3",
        ggml_commit="test",
    )
    (work / "lineage.json").write_text(lineage.model_dump_json(), encoding="utf-8")
    if register:
        store.register(work, name)
    return lineage
