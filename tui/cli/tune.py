"""`duet tune`: fine-tune a model on your own examples, on this CPU (models/tuning/)."""

from __future__ import annotations

import argparse
import itertools
import json
import signal
import sys
import threading
from pathlib import Path

from models.errors import Cancelled, DuetError, first_field_error
from tui.text.safe_text import neutralize

DESCRIPTION = (
    "Fine-tune a chat model on your own examples with llama.cpp's training API, on this CPU, and save it in "
    'Duet\'s model store as tuned:NAME with its lineage. DATA is a JSONL file of chat ({"messages": [...]}), '
    "alpaca (instruction/input/output) or prompt/completion examples; --lesson uses Duet's built-in lesson set. "
    "llama.cpp has no label mask: every token of an example is trained on, and the held-out loss is reported "
    "on the answers' tokens."
)


def register(subparsers) -> None:
    tune = subparsers.add_parser(
        "tune", help="fine-tune a model on your examples (or --lesson) into tuned:NAME", description=DESCRIPTION
    )
    tune.add_argument(
        "data", metavar="DATA", nargs="?", help="the examples: a .jsonl file (chat, alpaca or prompt/completion)"
    )
    tune.add_argument(
        "--model", metavar="SPEC", default=None, help="the model to start from (default: the embedded SmolLM2)"
    )
    tune.add_argument("--name", metavar="NAME", help="the tuned model's name (open it as tuned:NAME)")
    tune.add_argument(
        "--lesson", action="store_true", help="train on Duet's built-in lesson set (the assistant Sharon)"
    )
    tune.add_argument(
        "--epochs", type=int, default=None, metavar="N", help="passes over the data (default 8; the lesson 5)"
    )
    tune.add_argument(
        "--learning-rate", type=float, default=None, metavar="LR", help="AdamW's learning rate (default 3e-5)"
    )
    tune.add_argument(
        "--context", type=int, default=None, metavar="N", help="tokens per step, a multiple of 256 (default 256)"
    )
    tune.add_argument(
        "--blocks", default=None, metavar="all|last:N", help="which transformer blocks learn (default all)"
    )
    tune.add_argument(
        "--validation", type=float, default=None, metavar="F", help="fraction of DATA held out (default 0.1)"
    )
    tune.add_argument(
        "--seed", type=int, default=None, metavar="N", help="for the held-out split and the order (default 42)"
    )
    tune.add_argument(
        "--output", choices=("q8_0", "f16", "q4_k_m"), default=None, help="the saved model's type (default q8_0)"
    )
    tune.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: every core)")
    tune.add_argument(
        "--dry-run",
        action="store_true",
        help="show the first rendered example, the counts and estimates; train nothing",
    )
    tune.add_argument(
        "--export",
        nargs="+",
        metavar="PATH",
        help="[DATA] OUT.jsonl: write the examples as chat JSONL for Axolotl, TRL, LLaMA-Factory or Unsloth; train nothing",
    )
    tune.add_argument("--json", action="store_true", help="print the lineage record (or the plan) as JSON")
    tune.set_defaults(func=cmd_tune)


def _settings(args: argparse.Namespace, name: str):
    from pydantic import ValidationError

    from models.tuning import TuneSettings

    given = {
        "name": name,
        "model": args.model,
        "data": args.data,
        "lesson": args.lesson,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "context": args.context,
        "blocks": args.blocks,
        "validation": args.validation,
        "seed": args.seed,
        "output": args.output,
        "threads": args.threads,
    }
    try:
        return TuneSettings(**{k: v for k, v in given.items() if v is not None and v is not False})
    except ValidationError as err:
        field, message = first_field_error(err)
        where = f"--{field.replace('_', '-')}: " if field and field != "data" else ""
        raise DuetError(f"{where}{message}") from None


def cmd_tune(args: argparse.Namespace) -> int:
    try:
        if args.export:
            return _export(args)
        if not args.name and not args.dry_run:
            raise DuetError("give the tuned model a name with --name NAME (it becomes tuned:NAME)")
        settings = _settings(args, args.name or "preview")
        from models.tuning import plan

        the_plan = plan(settings)
        if args.dry_run:
            _print_plan(the_plan, args.json)
            return 0
        for line in the_plan.summary_lines():  # stderr with --json: stdout is the lineage alone
            print(neutralize(line), file=sys.stderr if args.json else sys.stdout)
        lineage = _train(the_plan)
    except Cancelled as err:
        print(f"duet: {neutralize(str(err))}", file=sys.stderr)
        return 130
    except DuetError as err:
        print(f"duet: {neutralize(str(err))}", file=sys.stderr)
        return 1
    if args.json:
        print(lineage.model_dump_json(indent=2))
    else:
        _print_summary(lineage)
    return 0


def _print_plan(the_plan, as_json: bool) -> None:
    if as_json:
        print(json.dumps(plan_dict(the_plan), ensure_ascii=True, indent=2))
        return
    for line in the_plan.summary_lines():
        print(neutralize(line))
    print("\nthe first example as the model sees it ([[ ]] marks the answer; llama.cpp trains on every token):")
    print(neutralize(the_plan.first_example_marked()))
    for note in the_plan.notes:
        print(neutralize(f"\nnote: {note}"))


def plan_dict(the_plan) -> dict:
    first = the_plan.first_example
    return {
        "settings": the_plan.settings.model_dump(mode="json"),
        "model": {
            "label": the_plan.source_label,
            "architecture": the_plan.architecture,
            "weights": the_plan.counts.total,
        },
        "trainable_weights": the_plan.counts.trainable,
        "examples": {"train": len(the_plan.train), "held_out": len(the_plan.held_out), "dropped": the_plan.dropped},
        "tokens": {
            "train": the_plan.train_tokens,
            "train_answers": sum(e.answer_tokens for e in the_plan.train),
            "held_out_answers": sum(e.answer_tokens for e in the_plan.held_out),
        },
        "steps": {"per_epoch": the_plan.steps_per_epoch, "total": the_plan.total_steps},
        "first_example": {
            "segments": [{"text": t, "answer": a} for t, a in first.segments],
            "tokens": len(first.tokens),
        },
        "estimate": the_plan.estimate.as_dict(),
        "notes": the_plan.notes,
    }


class _Printer:
    """Progress on stderr: one rewritten line on a terminal, a line per epoch otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.epochs_shown = 0
        self.phase = ""

    def __call__(self, p) -> None:
        if p.phase != self.phase and p.phase in ("convert", "save"):
            self._line({"convert": "making the F32 working copy", "save": "saving and requantizing"}[p.phase], p)
        self.phase = p.phase
        if p.phase == "train" and self.tty:
            loss = f"{p.train_loss:.3f}" if p.train_loss is not None else "-"
            left = _clock(p.remaining_s) if p.remaining_s is not None else "?"
            text = f"step {p.step}/{p.total_steps} · epoch {p.epoch}/{p.epochs} · loss {loss} · {_clock(p.elapsed_s)} < {left}"
            sys.stderr.write(f"\r{text:<78}")
            sys.stderr.flush()
        while self.epochs_shown < len(p.epoch_losses):
            e = p.epoch_losses[self.epochs_shown]
            self.epochs_shown += 1
            held = f", held-out answer loss {e.held_out_loss:.3f}" if e.held_out_loss is not None else ""
            train = f"{e.train_loss:.3f}" if e.train_loss is not None else "-"
            self._line(f"epoch {e.epoch}/{p.epochs}: train loss {train}{held}", p)

    def _line(self, text: str, p) -> None:
        prefix = "\r" if self.tty else ""
        sys.stderr.write(f"{prefix}{text:<78}\n" if self.tty else f"{text} ({_clock(p.elapsed_s)})\n")
        sys.stderr.flush()


def _train(the_plan):
    """run_tune on a worker thread; Ctrl+C asks it to stop at the next step, a second one quits."""
    from models.tuning import run_tune

    cancel, abandon, finished = threading.Event(), threading.Event(), threading.Event()
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["lineage"] = run_tune(the_plan, printer, cancel, abandon)
        except BaseException as err:  # handed to the main thread
            outcome["error"] = err
        finally:
            finished.set()

    presses = itertools.count()

    def on_ctrl_c(signum, frame) -> None:
        # Counted with one C call: a second Ctrl+C can run this handler again inside the first
        # (Python checks for signals between any two bytecodes), and a flag read and then set
        # there lost the second press: the run went on to its next step.
        press = next(presses)
        if press == 0:
            cancel.set()
            print("\nduet: stopping at the next step (Ctrl+C again to quit at once)", file=sys.stderr)
        elif press == 1:
            abandon.set()  # the worker kills the child and removes its folder within ~0.1 s
        else:
            raise KeyboardInterrupt  # a third: the worker did not answer, leave without it

    printer = _Printer()
    # A handler installed before the worker starts, not an `except KeyboardInterrupt` around the
    # wait: the worker can report its first phase before Thread.start() has returned here, and a
    # Ctrl+C that lands in start() would escape any try below it and quit without stopping the run.
    # A SIGINT that was ignored when Duet started (a script's `duet tune ... &`) stays ignored.
    previous = signal.getsignal(signal.SIGINT)
    owns_signal = threading.current_thread() is threading.main_thread() and previous is not signal.SIG_IGN
    if owns_signal:
        signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        threading.Thread(target=work, name="duet-tune", daemon=True).start()
        # An Event, not Thread.join: a join that Ctrl+C interrupts can mark a running thread as ended.
        while not finished.is_set():
            finished.wait(0.2)
            if abandon.is_set() and not finished.wait(5):
                raise KeyboardInterrupt
    finally:
        if owns_signal:
            signal.signal(signal.SIGINT, previous)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["lineage"]


def _print_summary(lineage) -> None:
    from tui.cli.tuned_models import lineage_lines

    print()
    print("\n".join(lineage_lines(lineage)))
    print(neutralize(f"\nsaved as tuned:{lineage.name}; compare it with its source: duet --tuned {lineage.name}"))


def _export(args: argparse.Namespace) -> int:
    from models.tuning.export import export_chat_jsonl

    paths = list(args.export)
    if len(paths) == 2 and args.data is None:
        data, out = paths
    elif len(paths) == 1:
        data, out = args.data, paths[0]
    else:
        raise DuetError("--export takes DATA OUT.jsonl (or DATA before it, or --lesson)")
    if data is None and not args.lesson:
        raise DuetError("--export needs the data file (DATA) or --lesson")
    count = export_chat_jsonl(Path(data) if data else None, Path(out))
    print(neutralize(f'wrote {count} examples to {out} as chat JSONL ({{"messages": [...]}} per line)'))
    return 0


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
