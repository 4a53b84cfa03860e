"""`duet run`: a list of prompts through both models, written up as a Markdown or HTML report."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from models.errors import DuetError
from models.files.describe import pair_caveat
from models.lesson import LESSON_ROLE, with_lesson_pane
from models.pair import PaneConfig, open_sessions
from models.presets import Preset, resolve_prompts
from models.prompts import MODE_NAMES
from models.session import CLOSE_TIMEOUT_S, PaneSession, close_sessions
from models.settings import SamplingSettings
from models.store.history import HistoryStore
from models.store.private_files import open_private, write_private
from models.store.records import iso_time, pane_meta, pane_record
from tui.cli.options import (
    UsageError,
    add_model_options,
    add_sampling_options,
    pane_configs,
    prepare_embedded_models,
    sampling_settings,
    use_user_prompt_file,
)
from tui.cli.shift import add_to_records, score_turns
from tui.export.report import run_html, run_markdown
from tui.text.safe_text import neutralize

if TYPE_CHECKING:  # rich is imported only when a progress bar is shown
    from rich.progress import Progress, TaskID

# With --repeat > 1 and no --temperature, answers are sampled at this temperature (greedy decoding
# at the default temperature 0 would give the same answer on every repeat, whatever the seed).
REPEAT_TEMPERATURE = 0.7
LESSON_ONLY_NOTE = (
    "The aligned pane (the base model aligned by a prompt alone, no training) answers the lesson prompts "
    "only (dog-lesson); --lesson runs it on every prompt."
)
REPORT_FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run",
        help="run a list of prompts through both models and write a comparison report",
        allow_abbrev=False,
        description=(
            "Runs every prompt through both models (both at once) and writes a report with both answers, "
            "their metrics and a summary. A pane's prompt mode comes from --base-mode/--chat-mode when given, "
            "else from the preset, else the pane's usual mode (raw for base, chat for chat, or what the model's catalog entry asks for). With --repeat N each prompt runs N times "
            f"with seeds seed, seed+1, ...; without --temperature those runs sample at {REPEAT_TEMPERATURE}, "
            "since at temperature 0 every repeat would give the same answer."
        ),
    )
    run.add_argument(
        "prompts",
        metavar="PROMPTS",
        help="'builtin' (the lesson presets), a presets .toml file, or a text file with one prompt per line",
    )
    add_model_options(run, modes=False)
    run.add_argument(
        "--base-mode",
        choices=MODE_NAMES,
        default=None,
        help="prompt mode of the base pane for every prompt (default: the preset's, else the pane's usual mode: raw)",
    )
    run.add_argument(
        "--chat-mode",
        choices=MODE_NAMES,
        default=None,
        help="prompt mode of the chat pane for every prompt (default: the preset's, else the pane's usual mode: chat)",
    )
    add_sampling_options(run)
    run.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run each prompt N times with seeds seed..seed+N-1 (default 1)",
    )
    run.add_argument("--report", required=True, metavar="FILE", help="the report to write: FILE.md or FILE.html")
    run.add_argument("--jsonl", metavar="FILE", help="also write one JSON line per run to FILE, as each finishes")
    run.add_argument("--no-save", action="store_true", help="do not save the run to the history")
    run.add_argument(
        "--shift",
        action="store_true",
        help="score every answer with the other pane's model (the token-shift lens): each prompt's summary "
        "and the run's unshifted / marginal / shifted table in the report",
    )
    run.set_defaults(func=run_command)


MAX_REPEAT = 1000  # a run that long is days of answers on a laptop: more is a typo, not a plan


def run_command(args: argparse.Namespace) -> int:
    if not 1 <= args.repeat <= MAX_REPEAT:
        raise UsageError(
            f"invalid repeat {args.repeat}: give 1 to {MAX_REPEAT} (every repeat is a full answer per prompt)"
        )
    report_format = REPORT_FORMATS.get(Path(args.report).suffix.lower())
    if report_format is None:
        raise UsageError(f"the report must be a .md or .html file, not '{args.report}'")
    # Without --*-mode the panes start in their model's default mode; each prompt then sets its
    # own (see _run_one). An unset mode option is left out so pane_configs picks that default.
    config_args = argparse.Namespace(**{k: v for k, v in vars(args).items() if not (k.endswith("_mode") and v is None)})
    try:
        return _run(args, report_format, pane_configs(config_args), sampling_settings(args))
    except DuetError as err:
        print(f"duet: {err}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, report_format: str, configs: list[PaneConfig], sampling: SamplingSettings) -> int:
    presets = resolve_prompts(args.prompts)
    sampling, notes = _repeat_sampling(args, sampling)
    if any(p.lesson for p in presets) and not getattr(args, "lesson", False) and "base" in [c.role for c in configs]:
        configs = with_lesson_pane(configs)  # dog-lesson is base raw | base aligned | chat; the rest skip it
        notes.append(LESSON_ONLY_NOTE)
    jsonl, store = _open_outputs(args)
    outputs = _Outputs(_new_result(args, notes, sampling), jsonl, store)
    result = outputs.result
    prepare_embedded_models(configs)
    use_user_prompt_file()
    sessions = open_sessions(configs, sampling)
    try:
        _run_presets(sessions, [config.mode for config in configs], presets, args, sampling, outputs)
    except KeyboardInterrupt:
        result["interrupted"] = True
        result["notes"].append("The run was interrupted; the report holds the prompts finished before that.")
    finally:
        close_sessions(sessions, CLOSE_TIMEOUT_S)
        outputs.close()
    if not result["panes"]:
        result["panes"] = [pane_meta(s) for s in sessions]
    return _write_report(args, report_format, result, total=len(presets) * args.repeat)


def _repeat_sampling(args: argparse.Namespace, sampling: SamplingSettings) -> tuple[SamplingSettings, list[str]]:
    """The sampling the runs use and the report's notes on it: with --repeat the seeds must make a
    difference, which they do not at temperature 0."""
    notes: list[str] = []
    if args.repeat > 1:
        if args.temperature is None:
            sampling = SamplingSettings(**{**sampling.model_dump(), "temperature": REPEAT_TEMPERATURE})
            notes.append(
                f"--repeat {args.repeat} without --temperature: answers were sampled at temperature "
                f"{REPEAT_TEMPERATURE} so that the seeds make a difference."
            )
        elif sampling.temperature == 0:
            notes.append(
                f"--repeat {args.repeat} at temperature 0: decoding is greedy, so the repeats of a prompt "
                "give the same answer whatever the seed; use --temperature above 0 to compare samples."
            )
    return sampling, notes


def _open_outputs(args: argparse.Namespace) -> tuple[TextIO | None, HistoryStore | None]:
    """The --jsonl file and the history store (None when not asked for); DuetError when the
    report, the JSONL file or the history cannot be written."""
    # Check that everything can be written before spending time on the models.
    _check_writable(Path(args.report))
    jsonl = open_private(Path(args.jsonl)) if args.jsonl else None
    store = None
    if not args.no_save:
        from tui.cli.history import open_store

        try:
            store = open_store()
        except DuetError as err:
            raise DuetError(f"{err}; or pass --no-save") from None
    return jsonl, store


def _new_result(args: argparse.Namespace, notes: list[str], sampling: SamplingSettings) -> dict:
    """The report's data before any run: the items are added as they finish."""
    return {
        "title": f"Duet batch run: {Path(args.prompts).name}",
        "created": iso_time(time.time()),
        "source": args.prompts,
        "repeat": args.repeat,
        "notes": notes,
        "panes": [],
        "sampling": sampling.model_dump(mode="json"),
        "interrupted": False,
        "items": [],
    }


def _run_presets(
    sessions: list[PaneSession],
    default_modes: list[str],
    presets: list[Preset],
    args: argparse.Namespace,
    sampling: SamplingSettings,
    outputs: _Outputs,
) -> None:
    """Every preset --repeat times, each run kept in ``outputs`` as it finishes. A Ctrl+C goes
    on up, after the run it stopped has been kept with its partial answers."""
    progress = _Progress(len(presets) * args.repeat)
    try:
        for session in sessions:
            _wait_loaded(session)
        outputs.result["panes"] = [pane_meta(s) for s in sessions]
        infos = {s.role: s.info for s in sessions}
        outputs.result["caveat"] = pair_caveat(infos.get("base"), infos.get("chat"))  # two families, or None
        if outputs.store is not None:
            store = outputs.store
            outputs.start = lambda: store.start_session_conversation(
                sessions,
                kind="run",
                title=f"run: {args.prompts} ({len(presets)} prompts × {args.repeat})",
                meta={"source": args.prompts, "repeat": args.repeat, "report": str(Path(args.report).resolve())},
            )
        progress.start()
        opened_with = {s.role: s.spec.adapters for s in sessions}  # a preset without adapters gets these
        index = 0
        for preset in presets:
            for repeat in range(args.repeat):
                index += 1
                progress.begin(index, preset.name)
                label = preset.name if args.repeat == 1 else f"{preset.name} #{repeat + 1}"
                try:
                    item = _run_one(sessions, default_modes, opened_with, preset, repeat, args, sampling, index)
                except _Interrupted as stopped:  # keep the stopped answers, saved as "cancelled"
                    outputs.keep(stopped.item, label)
                    raise
                outputs.keep(item, label)
                progress.done(index, item)
    finally:
        progress.stop()


def _write_report(args: argparse.Namespace, report_format: str, result: dict, total: int) -> int:
    """Write the report and say how the run went; the exit status: 130 when interrupted, 1 when
    a run failed, else 0."""
    text = run_markdown(result) if report_format == "md" else run_html(result)
    write_private(args.report, text)
    failed = sum(1 for item in result["items"] if item["status"] == "failed")
    print(f"wrote {neutralize(args.report)}: {len(result['items'])} of {total} runs, {failed} failed")
    if result["interrupted"]:
        print("duet: interrupted", file=sys.stderr)
        return 130
    if failed:
        print(f"duet: {failed} of {len(result['items'])} runs failed; see the report", file=sys.stderr)
        return 1
    return 0


@dataclass
class _Outputs:
    """Where every finished run goes: the report's data, the --jsonl file and the history."""

    result: dict
    jsonl: TextIO | None
    store: HistoryStore | None
    conversation: int | None = None  # the run's conversation in the history, once started
    # Starts it: called with the first run kept, so a run stopped before any (Ctrl+C while the
    # models load) leaves no empty conversation in the history.
    start: Callable[[], int] | None = None

    def keep(self, item: dict, label: str) -> None:
        self.result["items"].append(item)
        if self.jsonl is not None:
            self.jsonl.write(json.dumps(item, ensure_ascii=True) + "\n")
            self.jsonl.flush()
        if self.store is not None and self.conversation is None and self.start is not None:
            self.conversation = self.start()
        if self.store is not None and self.conversation is not None:
            self.store.add_turn(self.conversation, item["prompt"], item["panes"], label=label)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.store is not None:
            self.store.close()


def _run_one(
    sessions: list[PaneSession],
    default_modes: list[str],
    opened_with: dict[str, tuple],
    preset: Preset,
    repeat: int,
    args: argparse.Namespace,
    sampling: SamplingSettings,
    index: int,
) -> dict:
    preset_sampling = preset.apply(sampling)
    seed = (preset_sampling.seed + repeat) % 2**32
    run_sampling = SamplingSettings(**{**preset_sampling.model_dump(), "seed": seed})
    futures: list[Future | None] = []
    adapter_errors: dict[str, str] = {}
    answering = [(s, m) for s, m in zip(sessions, default_modes) if not _sits_out(s, preset, args)]
    sessions = [s for s, _ in answering]
    for session, default_mode in answering:
        session.mode = getattr(args, f"{session.role}_mode", None) or preset.mode_for(session.role) or default_mode
        session.sampling = run_sampling
        session.clear()  # every prompt stands alone: chat mode must not see the previous ones
        error = _use_adapters(session, preset, opened_with[session.role]) if session.ready else None
        if error is not None:
            adapter_errors[session.role] = error
        futures.append(session.send(preset.text) if session.ready and error is None else None)
    panes = []
    try:
        for session, future in zip(sessions, futures):
            panes.append(_record(session, future))
            if session.role in adapter_errors:
                panes[-1]["error"] = adapter_errors[session.role]
    except KeyboardInterrupt:
        for session in sessions:
            session.cancel()
        panes = [_record(s, f) for s, f in zip(sessions, futures)]
        item = _item(index, preset, repeat, seed, panes)
        item["status"] = "stopped"
        raise _Interrupted(item) from None
    if args.shift:
        _add_shift(sessions, panes, _item(index, preset, repeat, seed, panes))
    return _item(index, preset, repeat, seed, panes)


def _sits_out(session: PaneSession, preset: Preset, args: argparse.Namespace) -> bool:
    """The aligned pane that a lesson preset brought (not --lesson) answers the lesson presets only."""
    return session.role == LESSON_ROLE and not preset.lesson and not getattr(args, "lesson", False)


def _use_adapters(session: PaneSession, preset: Preset, opened_with: tuple) -> str | None:
    """Give the pane this preset's LoRA adapters, or ``opened_with`` (the command line's) when the
    preset names none (every prompt stands alone); the one-line error when they cannot be applied."""
    try:
        wanted = preset.adapters_for(session.role)
        wanted = opened_with if wanted is None else wanted
        if wanted != session.spec.adapters:
            session.set_adapters(wanted).result()
    except DuetError as err:
        return f"the {session.role} pane's LoRA adapters for this prompt: {err}"
    return None


def _add_shift(sessions: list[PaneSession], panes: list[dict], item: dict) -> None:
    """Every answer of this prompt scored by its scoring pane's model, onto its record; a Ctrl+C
    while scoring keeps the answers (unscored) and stops the run."""
    try:
        shifts = score_turns(sessions)
    except KeyboardInterrupt:
        for session in sessions:
            session.cancel()
        item["status"] = "stopped"
        raise _Interrupted(item) from None
    add_to_records(panes, shifts)


class _Interrupted(KeyboardInterrupt):
    def __init__(self, item: dict):
        super().__init__()
        self.item = item


def _record(session: PaneSession, future: Future | None) -> dict:
    if future is None:
        return pane_record(session, None, extended=True)
    try:
        turn = future.result()
    except Exception as err:  # an unexpected failure fails this prompt, not the run
        record = pane_record(session, None, extended=True)
        record["error"] = f"the {session.role} pane failed: {err}"
        return record
    return pane_record(session, turn, extended=True)


def _item(index: int, preset: Preset, repeat: int, seed: int, panes: list[dict]) -> dict:
    return {
        "index": index,
        "name": preset.name,
        "prompt": preset.text,
        "repeat": repeat + 1,
        "seed": seed,
        "status": "failed" if any(p["error"] for p in panes) else "ok",
        "panes": panes,
    }


def _wait_loaded(session: PaneSession) -> None:
    assert session.loading is not None  # open_sessions started every pane's load
    try:
        session.loading.result()
    except DuetError as err:
        print(f"duet: {session.role} pane: {err}", file=sys.stderr)


def _check_writable(path: Path) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise DuetError(f"cannot write the report {path}: the folder {directory} does not exist")
    if not os.access(directory, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise DuetError(f"cannot write the report {path}: permission denied; pick a writable location")


class _Progress:
    """A rich progress bar on a terminal, one plain line per finished run otherwise (on stderr)."""

    def __init__(self, total: int):
        self.total = total
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self) -> None:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("starting", total=self.total)

    def begin(self, index: int, name: str) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"{neutralize(name)[:30]:<30}")

    def done(self, index: int, item: dict) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=index)
            return
        parts = []
        for pane in item["panes"]:
            m = pane["metrics"]
            outcome = "failed" if pane["error"] else f"{m['tokens']} tokens, {m['stop_reason']}"
            parts.append(f"{pane['role']} {outcome}")
        print(
            f"[{index}/{self.total}] {neutralize(item['name'])}: {item['status']} ({'; '.join(parts)})",
            file=sys.stderr,
            flush=True,
        )

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
