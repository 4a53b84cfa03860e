"""Fine-tuning inside Duet: teach a model from your own examples on this CPU (issue 24).

llama.cpp's own training API (llama_opt_init / llama_opt_epoch, through ctypes: opt_api.py)
trains an F32 copy of the model in a child process (child.py, trainer.py), so an abort inside
ggml never takes Duet with it; the result is requantized and registered in the model store as
tuned:NAME with its lineage record (store.py, lineage.py, saving.py).

The API the command (tui/cli/tune.py) and the Tune screen drive:

    from models.tuning import TuneSettings, plan, run_tune, TuneProgress
    settings = TuneSettings(name="sharon", lesson=True)       # or data="my.jsonl"; pydantic, frozen
    the_plan = plan(settings)        # cheap (under a second for the lesson): every refusal is a
                                     # DuetError with one line; TunePlan.summary_lines(),
                                     # .first_example_marked() ("[[" answer "]]"), .first_example
                                     # (.segments: (text, is_answer) pairs), .train/.held_out,
                                     # .dropped, .steps_per_epoch, .total_steps, .estimate
                                     # (memory_bytes, memory_available, disk_bytes, disk_free,
                                     # seconds), .notes (what the run summary must say)
    lineage = run_tune(the_plan, on_progress, cancel)   # blocking: call it on a worker thread.
        # on_progress(TuneProgress) is called from that thread for every phase change and step:
        # phase (convert/train/evaluate/save/done), step/total_steps, epoch/epochs, elapsed_s,
        # remaining_s, train_loss (last step), held_out_before, epoch_losses (EpochRecord:
        # epoch, train_loss, held_out_loss), step_losses (the curve), message.
        # cancel: a threading.Event; set it and the run stops at the next step and raises
        # models.errors.Cancelled, nothing registered. abandon (optional, an Event too): set it and
        # the child is killed at once, its work folder removed, Cancelled raised. Failures: DuetError, one line.
        # Returns the Lineage (lineage.py) of the registered model.

    from models.tuning import list_tuned, load_lineage, remove_tuned, tuned_path
    list_tuned() -> list[Lineage]; load_lineage(name) -> Lineage; tuned_path(name) -> Path;
    remove_tuned(name) -> bytes freed. Lineage.summary(): "a fine-tune of X by Duet, N examples";
    Lineage.source.source is the source model's spec (the left pane of the before/after pair).
    "tuned:NAME" is a model source everywhere (models/files/sources.py).

llama.cpp has no label mask: every token of an example is trained on (lineage.NO_LABEL_MASK says
so); Duet computes the held-out loss over the answer tokens itself.
"""

from __future__ import annotations

from models.files.sources import TUNED_PREFIX
from models.tuning.events import TuneProgress
from models.tuning.lineage import EpochRecord, Lineage
from models.tuning.plan import TunePlan, plan
from models.tuning.settings import TuneSettings
from models.tuning.store import list_tuned, load_lineage, remove_tuned, tuned_path

__all__ = [
    "TUNED_PREFIX",
    "EpochRecord",
    "Lineage",
    "TunePlan",
    "TuneProgress",
    "TuneSettings",
    "list_tuned",
    "load_lineage",
    "plan",
    "remove_tuned",
    "run_tune",
    "tuned_path",
]


def run_tune(the_plan: TunePlan, on_progress, cancel, abandon=None) -> Lineage:
    """Run a planned fine-tune (runner.py); see the module docstring."""
    from models.tuning.runner import run_tune as run

    return run(the_plan, on_progress, cancel, abandon)
