"""The lineage record beside every tuned model: where it came from and how it was made.

Everything needed to tell what a fine-tune is and to make it again: the source model and its
SHA-256, the data file's SHA-256 and example counts, every setting, the loss of every epoch, the
times, and the llama.cpp that trained it. Written as lineage.json in the model's folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from models.tuning.settings import TuneSettings

LINEAGE_FILE = "lineage.json"
LINEAGE_VERSION = 1
NO_LABEL_MASK = (
    "llama.cpp's training API has no label mask, so every token of each example is trained on "
    "(prompts and template markers too); Duet computes the held-out loss on the answer tokens only"
)


class SourceRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str  # as the user gave it
    label: str
    path: str
    sha256: str
    architecture: str
    name: str  # general.name of the source


class DataRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file: str  # the path, or "the lesson set"
    sha256: str  # of the training file (the lesson: of its train and held-out files together)
    formats: list[str]
    train_examples: int
    held_out_examples: int
    dropped_examples: int  # longer than the context
    train_tokens: int
    train_answer_tokens: int
    held_out_answer_tokens: int


class EpochRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    epoch: int
    train_loss: float | None  # llama.cpp's mean cross-entropy over every trained token of the epoch
    held_out_loss: float | None  # Duet's mean cross-entropy over the held-out answers' tokens


class Lineage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: int = LINEAGE_VERSION
    name: str
    created: str  # ISO 8601, UTC
    file: str  # the GGUF's file name in the model's folder
    file_sha256: str
    file_size: int
    output: str
    source: SourceRecord
    data: DataRecord
    settings: TuneSettings
    trained_tensors: int
    trained_weights: int
    total_weights: int
    steps: int
    held_out_loss_before: float | None
    epochs: list[EpochRecord]
    label_mask: str = NO_LABEL_MASK
    wall_seconds: float
    train_seconds: float
    train_tokens_per_second: float
    peak_rss_bytes: int | None
    llama_cpp_python: str
    ggml_version: str
    ggml_commit: str

    def summary(self) -> str:
        """One line for headers and lists: 'a fine-tune of X by Duet, N examples'."""
        return f"a fine-tune of {self.source.label} by Duet, {self.data.train_examples} examples"

    def loss_table(self) -> list[tuple[str, str, str]]:
        rows = [("before", "", _fmt(self.held_out_loss_before))]
        rows += [(str(e.epoch), _fmt(e.train_loss), _fmt(e.held_out_loss)) for e in self.epochs]
        return rows


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(4 * 2**20):
            digest.update(block)
    return digest.hexdigest()
