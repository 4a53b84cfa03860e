"""What the Tune screen writes: the plan's preview, the progress line and the loss curve's points.

Plain functions of models/tuning's values, so the screen's lines are tested without a screen.
Every text that came from a file (the examples, the data file's path) goes through neutralize:
a training file is as untrusted as a model's answer.
"""

from __future__ import annotations

import math

from rich.text import Text

from models.tuning import TunePlan, TuneProgress
from tui.text.safe_text import neutralize
from tui.widgets.loss_curve import Curves

ANSWER_STYLE = "bold reverse"
PHASES = {
    "convert": "making the F32 working copy",
    "train": "training",
    "evaluate": "held-out loss",
    "save": "saving",
    "done": "done",
}


def plan_text(plan: TunePlan) -> Text:
    """The preview: what will be trained, the estimates, and the first example with its answer marked."""
    text = Text()
    for line in plan.summary_lines():
        text.append(neutralize(line) + "\n")
    for note in plan.notes:
        text.append(neutralize(note) + "\n", style="dim")
    first = plan.first_example
    text.append(
        f"\nthe first example as the model reads it ({len(first.tokens)} tokens, "
        f"{first.answer_tokens} of them the answer, highlighted):\n",
        style="bold",
    )
    for piece, answer in first.segments:
        text.append(neutralize(piece), style=ANSWER_STYLE if answer else "")
    return text


def clock(seconds: float | None) -> str:
    """m:ss (h:mm:ss past an hour), as LlamaBoard and tqdm write elapsed and remaining times."""
    if seconds is None:
        return "?"
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def last_held_out(progress: TuneProgress) -> float | None:
    for record in reversed(progress.epoch_losses):
        if record.held_out_loss is not None:
            return record.held_out_loss
    return progress.held_out_before


def progress_line(progress: TuneProgress) -> Text:
    """E.g. ``training · step 12/40 · epoch 2/8 · 0:23 < 1:10 · loss 0.842 · held-out 0.913 (before 1.204)``."""
    text = Text()
    text.append(PHASES.get(progress.phase, progress.phase), style="bold")
    text.append(f" · step {progress.step}/{progress.total_steps} · epoch {progress.epoch}/{progress.epochs} · ")
    text.append(f"{clock(progress.elapsed_s)} < {clock(progress.remaining_s)}")
    if progress.train_loss is not None:
        text.append(" · loss ")
        text.append(f"{progress.train_loss:.3f}", style="bold")
    held = last_held_out(progress)
    if held is not None:
        text.append(f" · held-out {held:.3f}")
        if progress.held_out_before is not None and progress.epoch_losses:
            text.append(f" (before {progress.held_out_before:.3f})", style="dim")
    if progress.message:
        text.append(f"\n{neutralize(progress.message)}", style="dim")
    return text


def curves_of(progress: TuneProgress) -> Curves:
    """The loss curve's points: every step's train loss, the held-out loss before training (step
    0) and after every epoch (at the epoch's last step)."""
    per_epoch = progress.total_steps / max(1, progress.epochs)
    held = [] if progress.held_out_before is None else [(0, progress.held_out_before)]
    held += [
        (round(record.epoch * per_epoch), record.held_out_loss)
        for record in progress.epoch_losses
        if record.held_out_loss is not None and math.isfinite(record.held_out_loss)
    ]
    train = [(step, loss) for step, loss in enumerate(progress.step_losses, start=1) if math.isfinite(loss)]
    return Curves(total_steps=max(1, progress.total_steps), train=train, held_out=held)
