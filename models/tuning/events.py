"""What a running fine-tune reports, as an engine streams events: one TuneProgress per step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from models.tuning.lineage import EpochRecord

Phase = Literal["convert", "train", "evaluate", "save", "done"]


@dataclass(frozen=True)
class TuneProgress:
    """Where a fine-tune is. ``phase``: convert (the F32 working copy), train, evaluate (held-out
    answer loss), save (the trained file requantized and its metadata restored), done."""

    phase: Phase
    step: int  # optimizer steps done, over every epoch
    total_steps: int
    epoch: int  # 1-based; 0 before the first
    epochs: int
    elapsed_s: float
    remaining_s: float | None  # None until a step has been timed
    train_loss: float | None  # the last step's loss
    held_out_before: float | None  # held-out answer loss of the untrained model
    epoch_losses: tuple[EpochRecord, ...] = field(default=())  # every finished epoch
    step_losses: tuple[float, ...] = field(default=())  # every step's train loss so far (a curve)
    message: str = ""
