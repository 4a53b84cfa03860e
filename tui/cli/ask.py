"""duet ask PROMPT: one prompt to every pane, both answers printed (live, side by side, on a terminal)."""

from __future__ import annotations

import argparse
import json
import queue
import sys
from concurrent.futures import Future

from models.adapters import records_label
from models.errors import DuetError
from models.events import Event, Finished, TextDelta
from models.pair import open_sessions
from models.session import CLOSE_TIMEOUT_S, EventSink, PaneSession, close_sessions
from models.store.records import pane_record
from tui.cli.info import placement_record
from tui.cli.options import (
    UsageError,
    pane_configs,
    prepare_embedded_models,
    sampling_settings,
    use_user_prompt_file,
    wait_for_load,
)
from tui.cli.shift import Shift, add_to_records, print_summaries, score_turns
from tui.export.report import metrics_text
from tui.text.safe_text import neutralize

# Side by side when every pane gets this many columns (two panes at 80): an answer box narrower
# than that wraps every few words. The text is printed as the model wrote it, never as Markdown.
MIN_PANE_COLUMNS = 38
MAX_PROMPT_BYTES = 4 * 1024 * 1024  # a prompt, not a corpus: twice the 2 MB that argv could not carry


def read_prompt(args: argparse.Namespace) -> str:
    """The prompt: PROMPT, standard input for ``-``, or ``--file PATH``, as checked UTF-8 text.

    A command-line argument arrives decoded with surrogateescape, so bytes that are not UTF-8
    become lone surrogates that the tokenizer cannot encode: refused here in one line."""
    file = getattr(args, "file", None)
    if file is not None and args.prompt is not None:
        raise UsageError("give the prompt as PROMPT, as - (standard input) or with --file PATH, not two of them")
    if file is not None:
        raw, where = _read_file(file), f"the prompt file {file}"
    elif args.prompt == "-":
        raw, where = sys.stdin.buffer.read(MAX_PROMPT_BYTES + 1), "the prompt on standard input"
    elif args.prompt is not None:
        return _checked_argument(args.prompt)
    else:
        raise UsageError("give a PROMPT, - to read it from standard input, or --file PATH")
    if len(raw) > MAX_PROMPT_BYTES:
        raise UsageError(f"{where} is over {MAX_PROMPT_BYTES // (1024 * 1024)} MB; send a shorter prompt")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{where} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start})") from None
    if not text.strip():
        raise UsageError(f"{where} is empty; there is nothing to send")
    return text


def _read_file(path: str) -> bytes:
    """At most one byte over the bound, so /dev/urandom or a huge file is refused, not read whole."""
    try:
        with open(path, "rb") as handle:  # a pipe (--file <(...)) is fine: it is read like a file
            return handle.read(MAX_PROMPT_BYTES + 1)
    except OSError as err:
        raise UsageError(f"cannot read the prompt file {path} ({err.strerror or err})") from None


def _checked_argument(prompt: str) -> str:
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as err:
        byte = ord(prompt[err.start]) - 0xDC00 if 0xDC80 <= ord(prompt[err.start]) <= 0xDCFF else None
        what = f"byte 0x{byte:02x}" if byte is not None else "a character"
        raise UsageError(
            f"the prompt is not UTF-8 text ({what} at character {err.start}); fix the terminal's encoding, "
            "or pass the text with --file PATH or on standard input (duet ask -)"
        ) from None
    return prompt


def ask(args: argparse.Namespace) -> int:
    args.prompt = read_prompt(args)
    configs = pane_configs(args)
    sampling = sampling_settings(args)
    store = None
    if not getattr(args, "no_save", False):
        from tui.cli.history import open_store

        try:
            store = open_store()
        except DuetError as err:
            print(f"duet: {err}; or pass --no-save", file=sys.stderr)
            return 1
        if store.read_only:  # said before the models load, not after the answers
            store.close()
            print(f"duet: {store.read_only_note}; or pass --no-save", file=sys.stderr)
            return 1
    prepare_embedded_models(configs)
    use_user_prompt_file()
    sessions = open_sessions(configs, sampling)
    shifts: dict[str, Shift] = {}
    try:
        turns, interrupted = _answer(sessions, args)
        if args.shift and not interrupted:
            try:
                shifts = score_turns(sessions)
            except KeyboardInterrupt:
                interrupted = True
                for session in sessions:
                    session.cancel()
    finally:
        close_sessions(sessions, CLOSE_TIMEOUT_S)
    save_error = None
    if store is not None:
        try:
            with store:  # the conversation and its turn in one transaction: a kill leaves both or neither
                store.save_session_turn(None, args.prompt, sessions, turns, kind="ask")
        except DuetError as err:
            save_error = str(err)
    panes = [pane_record(s, t) for s, t in zip(sessions, turns)]
    for record, session in zip(panes, sessions):
        record["placement"] = placement_record(session.info)  # llama.cpp's layer count and the GPU plan
    if args.shift:
        add_to_records(panes, shifts)
    if args.json:
        print(json.dumps({"panes": panes}, ensure_ascii=True, indent=2))
    else:
        _print_panes(panes)
        print_summaries(shifts)
    failed = [p for p in panes if p["error"]]
    for pane in failed:
        print(f"duet: {pane['role']} pane: {pane['error']}", file=sys.stderr)
    if save_error:
        print(f"duet: could not save to the history: {save_error}", file=sys.stderr)
    if interrupted:
        print("duet: interrupted; the partial answers were kept", file=sys.stderr)
        return 130
    return 1 if failed or save_error else 0


def _answer(sessions: list[PaneSession], args: argparse.Namespace) -> tuple[list, bool]:
    """Every loaded pane answers the prompt; (turns, whether Ctrl+C stopped them)."""
    events: queue.Queue = queue.Queue()
    futures: list[Future | None] = []
    for session in sessions:
        if wait_for_load(session) is None:
            futures.append(session.send(args.prompt, _queue_sink(events, session.role)))
        else:
            futures.append(None)
    try:
        if sys.stdout.isatty() and not args.json:
            _live_view(sessions, events, futures)
        return [f.result() if f is not None else None for f in futures], False
    except KeyboardInterrupt:  # keep what was generated: the answers end as "cancelled"
        for session in sessions:
            session.cancel()
        return [f.result() if f is not None else None for f in futures], True


def _queue_sink(events: queue.Queue, role: str) -> EventSink:
    """Where one pane's events go: onto the shared queue, tagged with the pane's role."""

    def put(event: Event) -> None:
        events.put((role, event))

    return put


def _pane_renderables(panes: list[dict]):
    from rich.panel import Panel
    from rich.text import Text

    out = []
    for pane in panes:
        adapters = records_label(pane.get("adapters"))  # the pane's LoRA adapters and their scales
        title = Text(
            neutralize(f"{pane['role']} · {pane['model']}{' ' + adapters if adapters else ''} · {pane['mode']}"),
            style="bold",
        )
        body = Text(neutralize(pane["text"]))
        if pane["error"]:
            body = Text(neutralize(pane["error"]), style="red")
        subtitle = Text(metrics_text(pane["metrics"]), style="dim")
        out.append(Panel(body, title=title, subtitle=subtitle, title_align="left", subtitle_align="left"))
    return out


def _layout(panes: list[dict], width: int):
    from rich.console import Group
    from rich.table import Table

    renderables = _pane_renderables(panes)
    if width < MIN_PANE_COLUMNS * len(renderables):  # too narrow for columns: one box under the other
        return Group(*renderables)
    table = Table.grid(expand=True, padding=(0, 1))
    for _ in renderables:
        table.add_column(ratio=1)
    table.add_row(*renderables)
    return table


def _print_panes(panes: list[dict]) -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=False)
    console.print(_layout(panes, console.width))


def _live_view(sessions: list[PaneSession], events: queue.Queue, futures: list[Future | None]) -> None:
    """On a terminal, show both answers growing side by side while they stream."""
    from rich.console import Console
    from rich.live import Live

    console = Console(highlight=False)
    texts = {s.role: "" for s in sessions}
    pending = sum(f is not None for f in futures)

    def snapshot() -> list[dict]:
        return [
            {
                "role": s.role,
                "model": s.info.label if s.info else s.spec.source,
                "mode": s.mode,
                "text": texts[s.role],
                "error": s.load_error,
                "metrics": {"ttft_s": 0.0, "tokens": 0, "tokens_per_s": 0.0, "stop_reason": "…"},
            }
            for s in sessions
        ]

    with Live(console=console, transient=True, vertical_overflow="crop", refresh_per_second=10) as live:
        while pending:
            role, event = events.get()
            if isinstance(event, TextDelta):
                texts[role] += event.text
            elif isinstance(event, Finished):
                pending -= 1
            live.update(_layout(snapshot(), console.width))
