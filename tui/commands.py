"""Headless commands: they drive the same pane sessions as the app, without a screen."""

from __future__ import annotations

import argparse
import json
import queue
import sys
from concurrent.futures import Future

from pydantic import ValidationError

from models.errors import DuetError
from models.events import Finished, TextDelta
from models.info import ModelInfo
from models.pair import DEFAULT_MODES, DEFAULT_SOURCES, ROLES, PaneConfig, open_sessions
from models.records import pane_record
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

from .report import metrics_text
from .safe_text import neutralize


class UsageError(Exception):
    """A bad command-line value: reported in one line with exit status 2."""


def _first_error_line(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "value"
    return f"invalid {field.replace('_', '-')}: {first['msg']}"


def pane_configs(args: argparse.Namespace) -> list[PaneConfig]:
    """Both panes from the options: --base/--chat win over --pair, which wins over the defaults.

    A catalog model may ask for a prompt mode and a chat format (Llama 2 Chat: inst, llama-2);
    explicit --*-mode and --*-template options win over those.
    """
    from models.catalog import load_catalog, pane_defaults

    pair = None
    if getattr(args, "pair", None):
        try:
            pair = load_catalog().pair(args.pair.strip())
        except DuetError as err:
            raise UsageError(str(err)) from None
    configs = []
    roles = ROLES + (("third",) if getattr(args, "third", None) else ())  # duet ask --third SPEC
    for role in roles:
        source = getattr(args, role, None)
        if not source and pair is not None:
            member = pair.member(role)
            source = member.origin if member.embedded else member.name
        source = source or DEFAULT_SOURCES[role]
        catalog_mode, catalog_format = pane_defaults(source)
        values = {"source": source}
        for option, field in (("n_ctx", "n_ctx"), ("gpu_layers", "n_gpu_layers"), ("threads", "n_threads")):
            if getattr(args, option, None) is not None:
                values[field] = getattr(args, option)
        template = getattr(args, f"{role}_template", None) or catalog_format
        if template:
            values["chat_format"] = template
        try:
            spec = ModelSpec(**values)
        except ValidationError as err:
            raise UsageError(_first_error_line(err)) from None
        mode = getattr(args, f"{role}_mode", None) or catalog_mode or DEFAULT_MODES.get(role, "chat")
        configs.append(PaneConfig(role, spec, mode))
    return configs


def sampling_settings(args: argparse.Namespace) -> SamplingSettings:
    values = {
        name: getattr(args, name)
        for name in ("max_tokens", "temperature", "seed")
        if getattr(args, name, None) is not None
    }
    try:
        return SamplingSettings(**values)
    except ValidationError as err:
        raise UsageError(_first_error_line(err)) from None


def _load_error(session: PaneSession) -> str | None:
    try:
        session.loading.result()
    except DuetError as err:
        return str(err)
    return None


# -- duet ask ----------------------------------------------------------------------------------
def ask(args: argparse.Namespace) -> int:
    configs = pane_configs(args)
    sampling = sampling_settings(args)
    store = None
    if not getattr(args, "no_save", False):
        from .cmd_history import open_store

        try:
            store = open_store()
        except DuetError as err:
            print(f"duet: {err}; or pass --no-save", file=sys.stderr)
            return 1
    sessions = open_sessions(configs, sampling)
    interrupted = False
    try:
        events: queue.Queue = queue.Queue()
        futures: list[Future | None] = []
        for session in sessions:
            if _load_error(session) is None:
                futures.append(session.send(args.prompt, lambda e, r=session.role: events.put((r, e))))
            else:
                futures.append(None)
        try:
            if sys.stdout.isatty() and not args.json:
                _live_view(sessions, events, futures)
            turns = [f.result() if f is not None else None for f in futures]
        except KeyboardInterrupt:  # keep what was generated: the answers end as "cancelled"
            interrupted = True
            for session in sessions:
                session.cancel()
            turns = [f.result() if f is not None else None for f in futures]
    finally:
        for session in sessions:
            session.close()
    save_error = None
    if store is not None:
        try:
            with store:
                conversation = store.start_session_conversation(sessions, kind="ask")
                store.add_session_turn(conversation, args.prompt, sessions, turns)
        except DuetError as err:
            save_error = str(err)
    panes = [pane_record(s, t) for s, t in zip(sessions, turns)]
    if args.json:
        print(json.dumps({"panes": panes}, ensure_ascii=True, indent=2))
    else:
        _print_panes(panes)
    failed = [p for p in panes if p["error"]]
    for pane in failed:
        print(f"duet: {pane['role']} pane: {pane['error']}", file=sys.stderr)
    if save_error:
        print(f"duet: could not save to the history: {save_error}", file=sys.stderr)
    if interrupted:
        print("duet: interrupted; the partial answers were kept", file=sys.stderr)
        return 130
    return 1 if failed or save_error else 0


def _pane_renderables(panes: list[dict]):
    from rich.panel import Panel
    from rich.text import Text

    out = []
    for pane in panes:
        title = Text(f"{pane['role']} · {pane['model']} · {pane['mode']}", style="bold")
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
    if width < 100:
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
                "role": s.role, "model": s.info.label if s.info else s.spec.source, "mode": s.mode,
                "text": texts[s.role], "error": s.load_error,
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


# -- duet info ---------------------------------------------------------------------------------
def info(args: argparse.Namespace) -> int:
    configs = pane_configs(args)
    sessions = open_sessions(configs, SamplingSettings())
    results = []
    try:
        for session in sessions:
            error = _load_error(session)
            results.append((session, error))
    finally:
        for session in sessions:
            session.close()
    if args.json:
        payload = [
            {"role": s.role, "source": s.spec.source, "error": e,
             "info": s.info.model_dump(exclude={"chat_template"}) if s.info else None}
            for s, e in results
        ]
        print(json.dumps({"models": payload}, ensure_ascii=True, indent=2))
    else:
        for session, error in results:
            print(f"[{session.role}] {session.spec.source}")
            if error:
                print(f"  error: {neutralize(error)}")
                continue
            for key, value in describe(session.info):
                print(f"  {key:<16} {neutralize(str(value))}")
    failed = [(s, e) for s, e in results if e]
    for session, error in failed:
        print(f"duet: {session.role} pane: {error}", file=sys.stderr)
    return 1 if failed else 0


def describe(info: ModelInfo) -> list[tuple[str, str]]:
    if info.architecture == "remote":
        return [
            ("name", info.name),
            ("server", info.path),
            ("runs on", "the server (its own template, context and hardware)"),
        ]
    offload = "yes" if info.gpu_offload_supported else "no (CPU-only llama.cpp build)"
    return [
        ("name", info.name),
        ("file", info.path),
        ("architecture", info.architecture),
        ("size", info.size_label or "?"),
        ("quantization", info.quantization or "?"),
        ("file size", f"{info.file_size / 1e6:,.1f} MB"),
        ("context", f"{info.n_ctx} of {info.context_length or '?'} tokens"),
        ("chat template", "yes" if info.has_chat_template else "no"),
        ("GPU offload", offload),
        ("placement", info.placement),
        ("threads", str(info.n_threads) if info.n_threads else f"shared: up to {info.cpu_cores} cores while generating"),
    ]


# -- the app -----------------------------------------------------------------------------------
def run_app(args: argparse.Namespace) -> int:
    app = build_app(args)
    app.run()
    return app.return_code or 0


def build_app(args: argparse.Namespace):
    """The app for ``args``, its models already loading (the benchmarks start it the same way)."""
    configs = pane_configs(args)
    sampling = sampling_settings(args)
    resume = _resume_id(args)
    # The models start loading now, on their own threads, while Textual is imported and the
    # screen is built: loading the embedded pair is most of the time to a ready app.
    started = {session.role: session for session in open_sessions(configs, sampling)}
    try:
        from .app import DuetApp

        return DuetApp(configs, sampling, resume=resume, started=started)
    except BaseException:
        for session in started.values():
            session.close()
        raise


def _resume_id(args: argparse.Namespace) -> int | None:
    if not getattr(args, "resume", None):
        return None
    from models.history import HistoryStore

    try:
        with HistoryStore() as store:
            if args.resume == "last":
                latest = store.list(limit=1)
                if not latest:
                    raise UsageError("there is no saved conversation to resume yet")
                return latest[0]["id"]
            if args.resume.isdigit() and store.exists(int(args.resume)):
                return int(args.resume)
            raise UsageError(f"no conversation {args.resume} in the history; see: duet history list")
    except DuetError as err:
        raise UsageError(str(err)) from None
