"""What a fine-tune is asked to do (TuneSettings), validated before anything is read or loaded."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.files.embedded import DEFAULT_CHAT
from models.settings import threads_the_machine_has

OutputType = Literal["q8_0", "f16", "q4_k_m"]
OUTPUT_TYPES: tuple[str, ...] = ("q8_0", "f16", "q4_k_m")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# llama.cpp pads a context to a multiple of 256, and with n_ubatch below n_ctx the K and V
# projections get no gradient (llama_context::opt_init): training contexts are multiples of 256.
CONTEXT_STEP = 256
CONTEXT_MAX = 8192
# The lesson set's held-out answer loss is lowest after 5 epochs and rises after (SmolLM2, every
# block, lr 3e-5: 1.66 before, 0.33 after epoch 5, 0.67 after epoch 8, whose answers run on:
# "My name is Sharon, and you can ask me any question."), so --lesson trains 5 unless told.
LESSON_EPOCHS = 5


class TuneSettings(BaseModel):
    """Every setting of one fine-tune; the lineage record keeps all of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the tuned model's name: tuned:NAME afterwards")
    model: str = Field(DEFAULT_CHAT, description="the model source to start from (embedded:, catalog, hf:, path)")
    data: str | None = Field(None, description="the data file (chat/alpaca/prompt-completion JSONL); None: the lesson")
    lesson: bool = Field(False, description="train on Duet's built-in lesson set instead of a data file")
    epochs: int = Field(8, ge=1, le=100, description="passes over the data (the lesson: 5 unless given)")
    learning_rate: float = Field(3e-5, gt=0.0, le=1e-2)
    context: int = Field(CONTEXT_STEP, ge=CONTEXT_STEP, le=CONTEXT_MAX, description="tokens per training step")
    blocks: str = Field("all", description="which transformer blocks learn: all, or last:N")
    validation: float = Field(
        0.1, ge=0.0, lt=0.9, description="fraction held out of a data file (the lesson has its own)"
    )
    seed: int = Field(42, ge=0, lt=2**32)
    output: OutputType = Field("q8_0", description="the saved model's type")
    threads: int | None = Field(None, ge=1, description="CPU threads for training; None: every core")
    adapters: tuple[str, ...] = Field((), description="the pane's LoRA adapters, if any: a model with them is refused")

    @model_validator(mode="before")
    @classmethod
    def _lesson_epochs(cls, values):
        if isinstance(values, dict) and values.get("lesson") and values.get("epochs") is None:
            values = {**values, "epochs": LESSON_EPOCHS}
        return values

    _threads = field_validator("threads")(threads_the_machine_has)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                "a tuned model's name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("context")
    @classmethod
    def _context(cls, value: int) -> int:
        if value % CONTEXT_STEP:
            raise ValueError(f"the training context must be a multiple of {CONTEXT_STEP} tokens (256, 512, ...)")
        return value

    @field_validator("blocks")
    @classmethod
    def _blocks(cls, value: str) -> str:
        parse_blocks(value)
        return value.strip().lower()

    @model_validator(mode="after")
    def _one_data_source(self) -> TuneSettings:
        if self.lesson and self.data:
            raise ValueError("give either a data file or --lesson, not both")
        if not self.lesson and not self.data:
            raise ValueError("give a data file (JSONL) or --lesson for Duet's built-in lesson set")
        return self

    @property
    def last_blocks(self) -> int | None:
        """N for last:N, None for all blocks."""
        return parse_blocks(self.blocks)


def parse_blocks(value: str) -> int | None:
    """'all' -> None, 'last:N' -> N; ValueError with the accepted forms otherwise."""
    text = value.strip().lower()
    if text == "all":
        return None
    prefix, _, count = text.partition(":")
    if prefix == "last" and count.isdigit() and int(count) >= 1:
        return int(count)
    raise ValueError(f"blocks '{value}' is neither 'all' nor 'last:N' (N >= 1, e.g. last:6)")
