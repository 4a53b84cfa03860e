"""The `duet` command: the app by default, plus headless subcommands that share its engine code."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from models.prompts import MODE_NAMES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"duet: {message} (see: {self.prog} --help)\n")


def _add_model_options(parser: argparse.ArgumentParser, modes: bool = True) -> None:
    parser.add_argument(
        "--base", metavar="SPEC",
        help="left pane's model: embedded:NAME, a catalog name (PAIR/base, PAIR/chat, NAME), "
        "hf:OWNER/REPO/FILE.gguf[@REV] or a .gguf path (default embedded:gemma-3-270m)",
    )
    parser.add_argument("--chat", metavar="SPEC", help="right pane's model, same forms (default embedded:smollm2-135m-instruct)")
    parser.add_argument("--pair", metavar="NAME", help="both panes from a catalog pair (see: duet models list); --base/--chat win")
    parser.add_argument(
        "--third", metavar="SPEC",
        help="a third pane after base and chat: any model source, e.g. a server http://HOST:PORT/v1#MODEL",
    )
    if modes:
        parser.add_argument("--base-mode", choices=MODE_NAMES, default=None, help="prompt mode of the base pane (default raw, or the pair's)")
        parser.add_argument("--chat-mode", choices=MODE_NAMES, default=None, help="prompt mode of the chat pane (default chat, or the pair's)")
        parser.add_argument("--third-mode", choices=MODE_NAMES, default=None, help="prompt mode of the third pane (default chat)")
    parser.add_argument("--base-template", metavar="FORMAT", help="chat format for the base pane instead of its GGUF template (e.g. llama-2, chatml)")
    parser.add_argument("--chat-template", metavar="FORMAT", help="chat format for the chat pane instead of its GGUF template")
    parser.add_argument("--third-template", metavar="FORMAT", help="chat format for the third pane instead of its GGUF template")
    parser.add_argument("--n-ctx", type=int, default=None, metavar="N", help="context size for both models (default 2048, or the model's own if smaller)")
    parser.add_argument("--gpu-layers", type=int, default=None, metavar="N", help="layers to offload to the GPU when the build supports it (default -1 = all)")
    parser.add_argument("--threads", type=int, default=None, metavar="N", help="pin every model to N CPU threads (default: the generating panes share the cores, and one running alone takes them all)")


def _add_sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N", help="answer length limit (default 256)")
    parser.add_argument("--temperature", type=float, default=None, metavar="T", help="sampling temperature for both panes (default 0)")
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="sampling seed for both panes (default 42)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="duet",
        description="A base model and its chat fine-tune side by side: one prompt, two answers.",
        allow_abbrev=False,
    )
    _add_model_options(parser)
    _add_sampling_options(parser)
    parser.add_argument(
        "--resume", nargs="?", const="last", metavar="ID",
        help="reopen a saved conversation in the app (the latest when no ID is given)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ask = sub.add_parser("ask", help="send one prompt to both models and print both answers", allow_abbrev=False)
    ask.add_argument("prompt", metavar="PROMPT", help="the text sent to both models")
    _add_model_options(ask)
    _add_sampling_options(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument("--no-save", action="store_true", help="do not save this exchange to the history")

    info = sub.add_parser("info", help="show both models' metadata", allow_abbrev=False)
    _add_model_options(info, modes=False)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    # Each of these modules adds its own subcommands: register(subparsers) calls
    # subparsers.add_parser(...) and set_defaults(func=handler), handler(args) -> exit status.
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


SUBCOMMAND_MODULES: list[str] = ["tui.cmd_history", "tui.cmd_run", "tui.cmd_models"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Nothing Duet does at run time needs the network; only an explicit download command (one whose
    # subparser sets needs_network=True) may. Set before huggingface_hub is ever imported.
    if not getattr(args, "needs_network", False):
        os.environ["HF_HUB_OFFLINE"] = "1"
    from . import commands

    try:
        if getattr(args, "func", None) is not None:
            return args.func(args)
        if args.command == "ask":
            return commands.ask(args)
        if args.command == "info":
            return commands.info(args)
        return commands.run_app(args)
    except commands.UsageError as err:
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
