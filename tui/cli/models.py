"""`duet models`: the catalog, hub downloads and the cache (list, info, pull, rm)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from models.errors import DuetError
from tui.cli import tuned_models
from tui.text.safe_text import neutralize

if TYPE_CHECKING:
    from rich.progress import TaskID

    from models.files.catalog import Catalog, CatalogPair
    from models.hub import CatalogEntry, PullProgress

SPEC_HELP = (
    "Name a model as PAIR/base or PAIR/chat (a side of a pair), NAME (a single model), "
    "hf:OWNER/REPO/FILE.gguf[@REVISION] (any hub GGUF), embedded:NAME, or a path to a .gguf file. "
    "Open both sides of a pair with: duet --pair PAIR (or duet ask --pair PAIR ...)."
)


def register(subparsers) -> None:
    models = subparsers.add_parser(
        "models",
        help="the model catalog: list, show, download and remove models",
        allow_abbrev=False,
        description="The model catalog and the Hugging Face cache. " + SPEC_HELP,
    )
    sub = models.add_subparsers(dest="models_command", metavar="ACTION", parser_class=type(models))
    models.set_defaults(func=lambda args: _usage(models))

    listing = sub.add_parser("list", help="every catalog model: size, RAM needed, installed or not", allow_abbrev=False)
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument(
        "--n-ctx", type=int, default=None, metavar="N", help="context size for the RAM estimate (default 2048)"
    )
    listing.set_defaults(func=cmd_list)

    info = sub.add_parser(
        "info",
        aliases=["show"],
        help="details of a catalog model or pair, or a tuned model's lineage",
        allow_abbrev=False,
    )
    info.add_argument(
        "name", metavar="NAME", help="PAIR, PAIR/base, PAIR/chat, NAME, hf:OWNER/REPO/FILE.gguf or tuned:NAME"
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.add_argument(
        "--n-ctx", type=int, default=None, metavar="N", help="context size for the RAM estimate (default 2048)"
    )
    info.set_defaults(func=cmd_info)

    pull = sub.add_parser(
        "pull", help="download a model or both models of a pair from the Hugging Face hub", allow_abbrev=False
    )
    pull.add_argument(
        "names", nargs="+", metavar="NAME", help="PAIR, PAIR/base, PAIR/chat, NAME or hf:OWNER/REPO/FILE.gguf[@REV]"
    )
    # The only command that may use the network: main() leaves HF_HUB_OFFLINE alone for it.
    pull.set_defaults(func=cmd_pull, needs_network=True)

    rm = sub.add_parser(
        "rm",
        aliases=["remove"],
        help="delete a downloaded model (or both of a pair), or a tuned model",
        allow_abbrev=False,
    )
    rm.add_argument(
        "names",
        nargs="+",
        metavar="NAME",
        help="PAIR, PAIR/base, PAIR/chat, NAME, hf:OWNER/REPO/FILE.gguf[@REV] or tuned:NAME",
    )
    rm.set_defaults(func=cmd_rm)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _fail(err: DuetError) -> int:
    print(f"duet: {neutralize(str(err))}", file=sys.stderr)
    return 1


def _check_n_ctx(args: argparse.Namespace) -> int | None:
    if args.n_ctx is not None and args.n_ctx < 64:
        from tui.cli.options import UsageError

        raise UsageError("invalid n-ctx: it must be at least 64")
    return args.n_ctx


# -- list ----------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    from models.files.catalog import load_catalog
    from models.hub import catalog_entries

    n_ctx = _check_n_ctx(args)
    try:
        catalog = load_catalog()
        entries = catalog_entries(n_ctx)
    except DuetError as err:
        return _fail(err)
    if args.json:
        _print_list_json(catalog, entries, n_ctx)
    else:
        _print_list_table(catalog, entries)
        tuned_models.print_list()
    return 0


def _print_list_json(catalog: Catalog, entries: list[CatalogEntry], n_ctx: int | None) -> None:
    from models.hub import hub_cache_dir

    print(
        json.dumps(
            {
                "cache_dir": str(hub_cache_dir()),
                "n_ctx": entries[0].n_ctx if entries else n_ctx,
                "pairs": {
                    name: {
                        "title": p.title,
                        "base": p.base.name,
                        "chat": p.chat.name,
                        "base_mode": p.default_mode("base"),
                        "chat_mode": p.default_mode("chat"),
                        "notes": p.notes,
                    }
                    for name, p in catalog.pairs.items()
                },
                "models": [e.as_dict() for e in entries],
                "tuned": tuned_models.tuned_dicts(),  # duet tune's models (tuned:NAME), with lineage
            },
            ensure_ascii=True,
            indent=2,
        )
    )


def _print_list_table(catalog: Catalog, entries: list[CatalogEntry]) -> None:
    from models.hub import hub_cache_dir

    ctx = entries[0].n_ctx if entries else 2048
    header = ("NAME", "SIZE", f"RAM@{ctx}", "STATE", "GATED", "SOURCE")
    rows = _list_rows(catalog, entries)
    widths = [max(len(r[i]) for r in [header, *rows] if len(r) > 1) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    print(line(header))
    for row in rows:
        print(neutralize(row[0] if len(row) == 1 else line(row)))
    print()
    print(f"RAM = file + f16 KV cache at {ctx} tokens of context; ~ = about (the catalog's size is approximate).")
    print(f"Cache: {neutralize(str(hub_cache_dir()))}")
    print(SPEC_HELP)
    print("Download with: duet models pull PAIR|NAME   Free the space with: duet models rm PAIR|NAME")


def _list_rows(catalog: Catalog, entries: list[CatalogEntry]) -> list[tuple[str, ...]]:
    """The table's rows: a one-cell title row per group (each pair, then the single models), then its models."""
    groups: list[tuple[str, list[CatalogEntry]]] = []
    for pair_name, pair in catalog.pairs.items():
        groups.append((f"pair {pair_name}: {pair.title}", [e for e in entries if e.model.pair == pair_name]))
    singles = [e for e in entries if e.model.pair is None]
    if singles:
        groups.append(("single models", singles))
    rows: list[tuple[str, ...]] = []
    for title, group in groups:
        rows.append((title,))
        for e in group:
            rows.append(
                (
                    "  " + e.name,
                    e.shown(e.size),
                    e.shown(e.ram_bytes),
                    e.state,
                    "yes" if e.model.gated else "no",
                    e.model.origin,
                )
            )
    return rows


# -- info ----------------------------------------------------------------------------------------
def cmd_info(args: argparse.Namespace) -> int:
    from models.files.catalog import HF_PREFIX, load_catalog
    from models.hub import catalog_entries

    n_ctx = _check_n_ctx(args)
    name = args.name.strip()
    if name.startswith(tuned_models.TUNED_PREFIX):
        return tuned_models.print_info(name, args.json)
    try:
        catalog = load_catalog()
        if name.startswith(HF_PREFIX):
            _print_hf_info(name, args.json)
            return 0
        pair = catalog.pairs.get(name)
        wanted = [m.name for m in pair.members] if pair else [catalog.model(name).name]
        entries = [e for e in catalog_entries(n_ctx) if e.name in wanted]
    except DuetError as err:
        return _fail(err)
    if args.json:
        _print_info_json(entries, pair)
        return 0
    if pair:
        _print_pair(pair)
    for e in entries:
        _print_entry(e)
    return 0


def _print_hf_info(spec: str, as_json: bool) -> None:
    """What the cache holds for an hf: spec (no catalog details: the hub is not asked)."""
    from models.files.catalog import parse_hf_spec
    from models.hub import file_status

    hub = parse_hf_spec(spec)
    status = file_status(hub)
    record = {
        "name": hub.spec,
        "repo": hub.repo,
        "file": hub.file,
        "revision": hub.revision,
        "installed": status.installed,
        "path": str(status.path) if status.path else None,
        "size": status.size_on_disk,
        "partial_bytes": status.partial_bytes,
        "page": hub.page_url,
    }
    if as_json:
        print(json.dumps({"models": [record]}, ensure_ascii=True, indent=2))
    else:
        for key, value in record.items():
            print(f"{key:<16} {neutralize(str(value if value is not None else '-'))}")


def _print_info_json(entries: list[CatalogEntry], pair: CatalogPair | None) -> None:
    payload: dict[str, object] = {"models": [e.as_dict() for e in entries]}
    if pair:
        payload["pair"] = {
            "name": pair.name,
            "title": pair.title,
            "notes": pair.notes,
            "base_mode": pair.default_mode("base"),
            "chat_mode": pair.default_mode("chat"),
        }
    print(json.dumps(payload, ensure_ascii=True, indent=2))


def _print_pair(pair: CatalogPair) -> None:
    print(neutralize(f"pair {pair.name}: {pair.title}"))
    if pair.notes:
        print(neutralize(f"  {pair.notes}"))
    print(
        neutralize(
            f"  open it with: duet --pair {pair.name}   (modes: base {pair.default_mode('base')}, "
            f"chat {pair.default_mode('chat')})"
        )
    )
    print()


def _print_entry(e: CatalogEntry) -> None:
    from models.hub import format_bytes

    m = e.model
    rows = [
        ("name", m.name),
        ("title", m.title),
        ("source", m.origin),
        ("page", m.hub_file.page_url if m.hub_file else "-"),
        ("architecture", f"{m.architecture} ({m.n_layers} layers, {m.n_kv_heads} KV heads × {m.head_dim})"),
        ("context", f"{m.context_length} tokens"),
        ("size", _estimate(e, e.size)),
        (f"KV cache @{e.n_ctx}", format_bytes(e.kv_cache_bytes)),
        ("RAM needed", _estimate(e, e.ram_bytes)),
        ("licence", m.licence),
        ("gated", "yes" if m.gated else "no"),
        ("mode", m.mode or "-"),
        ("chat format", m.chat_format or "from the GGUF"),
        ("state", e.state),
        ("path", str(e.status.path) if e.status.path else "-"),
    ]
    if m.notes:
        rows.append(("notes", m.notes))
    for key, value in rows:
        print(f"{key:<16} {neutralize(str(value))}")
    if not e.status.installed and m.embedded is None:
        print(f"{'download':<16} duet models pull {neutralize(m.name)}")
    print()


def _estimate(e: CatalogEntry, n: int) -> str:
    """A size as `duet models info` says it: 'about' and why when the catalog's size is approximate."""
    from models.hub import format_bytes

    if e.status.installed or e.model.embedded is not None:
        return format_bytes(n)
    if e.approximate:
        return f"about {format_bytes(n)} (the catalog's size for this file is approximate)"
    return f"{format_bytes(n)} (catalog estimate)"


# -- pull ----------------------------------------------------------------------------------------
class _PlainProgress:
    """Progress lines for logs and pipes: one every 10% or 5 seconds."""

    def __init__(self) -> None:
        self._last: tuple[tuple[str, str] | None, float, float] = (None, -1.0, 0.0)

    def __call__(self, p: PullProgress) -> None:
        from models.hub import format_bytes

        key = (p.name, p.phase)
        now = time.monotonic()
        fraction = p.fraction or 0.0
        last_key, last_fraction, last_time = self._last
        if p.phase == "downloading" and key == last_key and fraction - last_fraction < 0.1 and now - last_time < 5:
            return
        if p.phase == "verifying" and key == last_key:
            return
        self._last = (key, fraction, now)
        tag = f"[{p.index}/{p.count}] " if p.count > 1 else ""
        if p.phase == "downloading":
            text = f"{tag}{p.name}: {format_bytes(p.done_bytes)} of {format_bytes(p.total_bytes)}"
            if p.total_bytes:
                text += f" ({100 * fraction:.0f}%)"
            if p.speed_bps:
                text += f", {format_bytes(p.speed_bps)}/s"
            if p.eta_s is not None:
                text += f", ETA {_duration(p.eta_s)}"
            if p.resumed_from and p.done_bytes == p.resumed_from:
                text += f" (resuming after {format_bytes(p.resumed_from)})"
        elif p.phase == "verifying":
            text = f"{tag}{p.name}: checking the sha256 of {format_bytes(p.total_bytes)}"
        else:
            return
        print(neutralize(text), file=sys.stderr, flush=True)


class _RichProgress:
    """A progress bar with bytes, speed and ETA, on a terminal."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True, highlight=False),
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, p: PullProgress) -> None:
        task = self._tasks.get(p.name)
        label = neutralize(p.name)
        if task is None:
            task = self.progress.add_task(label, total=p.total_bytes, start=True)
            self._tasks[p.name] = task
        description = {
            "checking": f"{label} (asking the hub)",
            "verifying": f"{label} (sha256)",
            "interrupted": f"{label} (interrupted)",
        }.get(p.phase, label)
        if p.phase == "verifying":
            self.progress.update(task, description=description)
            return
        self.progress.update(task, description=description, total=p.total_bytes, completed=p.done_bytes)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def cmd_pull(args: argparse.Namespace) -> int:
    from models import hub
    from models.files.catalog import targets_for

    failures = 0
    for name in args.names:
        name = name.strip()
        try:
            targets_for(name)  # an unknown name fails before any network traffic
        except DuetError as err:
            failures += _fail(err)
            continue
        try:
            if sys.stderr.isatty():
                with _RichProgress() as bar:
                    results = hub.pull(name, on_progress=bar)
            else:
                results = hub.pull(name, on_progress=_PlainProgress())
        except KeyboardInterrupt:
            _report_interrupted(name)
            return 130
        except DuetError as err:
            failures += _fail(err)
            continue
        for r in results:
            if r.downloaded_bytes == 0 and r.resumed_from == 0:
                what = f"already downloaded ({hub.format_bytes(r.size)})"
            else:
                what = f"downloaded {hub.format_bytes(r.downloaded_bytes)}"
                if r.resumed_from:
                    what += f", resumed after {hub.format_bytes(r.resumed_from)}"
                what += ", sha256 verified" if r.verified else ", size checked"
            print(neutralize(f"{r.name}: {what} -> {r.path}"))
    return 1 if failures else 0


def _report_interrupted(name: str) -> None:
    from models import hub
    from models.files.catalog import targets_for

    kept = 0
    for target in targets_for(name):
        if target.hub is not None:
            partial = hub.partial_download(target.hub)
            kept += partial.done if partial else 0
    print(
        neutralize(f"duet: interrupted; {hub.format_bytes(kept)} kept, run `duet models pull {name}` to resume"),
        file=sys.stderr,
    )


# -- rm ------------------------------------------------------------------------------------------
def cmd_rm(args: argparse.Namespace) -> int:
    from models import hub

    failures = 0
    for name in args.names:
        try:
            if name.strip().startswith(tuned_models.TUNED_PREFIX):
                print(tuned_models.remove(name.strip()))
                continue
            removed = hub.remove(name.strip())
        except DuetError as err:
            failures += _fail(err)
            continue
        except OSError as err:
            failures += _fail(DuetError(f"cannot delete {name}: {err.strerror or err}"))
            continue
        for r in removed:
            if r.paths:
                print(neutralize(f"{r.name}: removed, {hub.format_bytes(r.freed_bytes)} freed"))
            else:
                print(neutralize(f"{r.name}: not downloaded; nothing to remove"))
    return 1 if failures else 0
