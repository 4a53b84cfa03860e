"""`duet history list|show|export|rm`: the saved conversations, headless."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from models.errors import DuetError
from models.store.history import HistoryStore
from models.store.private_files import write_private
from tui.export.report import conversation_json, conversation_markdown, metrics_text
from tui.text.model_names import model_names
from tui.text.safe_text import neutralize


def open_store() -> HistoryStore:
    """The user's history database; says on stderr when a corrupt one had to be moved aside."""
    store = HistoryStore()
    if store.set_aside is not None:
        print(
            f"duet: the history database was corrupt; moved it to {store.set_aside} and started a new one",
            file=sys.stderr,
        )
    return store


def register(subparsers) -> None:
    history = subparsers.add_parser(
        "history",
        help="list, show, export or delete saved conversations",
        allow_abbrev=False,
        description="Every turn is saved as it completes (in DUET_DATA_DIR or the user data dir).",
    )
    actions = history.add_subparsers(dest="history_action", metavar="ACTION")
    history.set_defaults(func=_handle, history_action="list", json=False)

    listing = actions.add_parser("list", help="conversations, most recent first", allow_abbrev=False)
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.add_argument("--limit", type=int, default=None, metavar="N", help="only the N most recent")

    show = actions.add_parser("show", help="one conversation with all its turns", allow_abbrev=False)
    show.add_argument("id", type=int, metavar="ID")
    show.add_argument("--json", action="store_true", help="print the full record as JSON")

    export = actions.add_parser("export", help="write a conversation as Markdown or JSON", allow_abbrev=False)
    export.add_argument("id", type=int, metavar="ID")
    export.add_argument("--format", choices=("md", "json"), default="md", help="md (default) or json")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (created 0600) instead of stdout")

    remove = actions.add_parser("rm", help="delete a conversation", allow_abbrev=False)
    remove.add_argument("id", type=int, metavar="ID")


def _handle(args: argparse.Namespace) -> int:
    try:
        with open_store() as store:
            return _ACTIONS[args.history_action](store, args)
    except DuetError as err:
        print(f"duet: {err}", file=sys.stderr)
        return 1


def _local(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


def _list(store: HistoryStore, args: argparse.Namespace) -> int:
    conversations = store.conversations(limit=args.limit if getattr(args, "limit", None) else None)
    if args.json:
        print(json.dumps(conversations, ensure_ascii=True, indent=2))
        return 0
    if not conversations:
        print("no saved conversations yet")
        return 0
    print(f"{'ID':>5}  {'UPDATED':<16}  {'TURNS':>5}  {'KIND':<4}  MODELS / TITLE")
    for c in conversations:
        models = model_names(c).replace(" vs ", " | ")
        print(f"{c['id']:>5}  {_local(c['updated']):<16}  {c['turn_count']:>5}  {c['kind']:<4}  {neutralize(models)}")
        print(f"{'':>5}  {'':<16}  {'':>5}  {'':<4}  {neutralize(c['title'])}")
    return 0


def _show(store: HistoryStore, args: argparse.Namespace) -> int:
    conversation = store.get(args.id)
    if args.json:
        print(json.dumps(conversation, ensure_ascii=True, indent=2))
        return 0
    print(f"conversation {conversation['id']} ({conversation['kind']}), started {_local(conversation['started'])}")
    print(f"title: {neutralize(conversation['title'])}")
    for turn in conversation["turns"]:
        label = f" ({neutralize(turn['label'])})" if turn["label"] else ""
        print(f"\n── turn {turn['seq']}{label} ─────────────")
        print(f"prompt: {neutralize(turn['prompt'])}")
        for pane in turn["panes"]:
            print(f"\n[{pane['role']} · {neutralize(pane['model'])} · {pane['mode']}] {metrics_text(pane['metrics'])}")
            if pane["error"]:
                print(f"  error: {neutralize(pane['error'])}")
            for line in neutralize(pane["text"]).splitlines() or ([""] if not pane["error"] else []):
                print(f"  {line}")
    return 0


def _export(store: HistoryStore, args: argparse.Namespace) -> int:
    conversation = store.get(args.id)
    text = conversation_json(conversation) if args.format == "json" else conversation_markdown(conversation)
    if args.output:
        write_private(args.output, text)
        print(f"wrote conversation {args.id} to {neutralize(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(neutralize(text) if sys.stdout.isatty() else text)
    return 0


def _rm(store: HistoryStore, args: argparse.Namespace) -> int:
    store.delete(args.id)
    print(f"deleted conversation {args.id}")
    return 0


_ACTIONS = {"list": _list, "show": _show, "export": _export, "rm": _rm}
