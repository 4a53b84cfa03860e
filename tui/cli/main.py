"""The `duet` command: the app by default, plus headless subcommands that share its engine code."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from tui.cli.options import UsageError, add_model_options, add_sampling_options


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        self.exit(2, f"duet: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="duet",
        description="A base model and its chat fine-tune side by side: one prompt, two answers.",
        allow_abbrev=False,
    )
    add_model_options(parser)
    add_sampling_options(parser)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="ID",
        help="reopen a saved conversation in the app (the latest when no ID is given)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ask = sub.add_parser("ask", help="send one prompt to both models and print both answers", allow_abbrev=False)
    ask.add_argument("prompt", metavar="PROMPT", help="the text sent to both models")
    add_model_options(ask)
    add_sampling_options(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument("--no-save", action="store_true", help="do not save this exchange to the history")

    info = sub.add_parser("info", help="show both models' metadata", allow_abbrev=False)
    add_model_options(info, modes=False)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    # Each of these modules adds its own subcommands: register(subparsers) calls
    # subparsers.add_parser(...) and set_defaults(func=handler), handler(args) -> exit status.
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


SUBCOMMAND_MODULES: list[str] = ["tui.cli.history", "tui.cli.run", "tui.cli.models"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Nothing Duet does at run time needs the network; only an explicit download command (one whose
    # subparser sets needs_network=True) may. Set before huggingface_hub is ever imported.
    if not getattr(args, "needs_network", False):
        os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        if getattr(args, "func", None) is not None:
            return args.func(args)
        if args.command == "ask":
            from tui.cli.ask import ask

            return ask(args)
        if args.command == "info":
            from tui.cli.info import info

            return info(args)
        from tui.cli.launch import run_app

        return run_app(args)
    except UsageError as err:
        print(f"duet: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("duet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`duet history show 1 | head`): stop quietly, as cat does. Later
        # writes to the closed pipe, including Python's flush at exit, must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
