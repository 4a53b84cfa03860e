"""The `duet` command: the app by default, plus headless subcommands that share its engine code."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from tui.cli.options import UsageError, add_model_options, add_sampling_options
from tui.cli.start_up import end_start_up


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        self.exit(2, f"duet: {message} (see: {self.prog} --help)\n")


def build_parser(subcommands: bool = True) -> argparse.ArgumentParser:
    """The whole command line. ``subcommands=False`` gives each of SUBCOMMAND_MODULES' commands an
    empty parser of its own instead of importing its module (see parse_arguments)."""
    parser = _Parser(
        prog="duet",
        usage="duet [OPTIONS]            open the app\n       duet COMMAND [OPTIONS]    see the commands below",
        description="A base model and its chat fine-tune side by side: one prompt, two answers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"duet {_version()}")
    add_model_options(parser)
    add_sampling_options(parser)
    parser.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="ID",
        help="reopen a saved conversation in the app (the latest when no ID is given)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, prog="duet")

    ask = sub.add_parser("ask", help="send one prompt to both models and print both answers", allow_abbrev=False)
    ask.add_argument(
        "prompt", metavar="PROMPT", nargs="?", help="the text sent to both models; - reads it from standard input"
    )
    ask.add_argument("--file", metavar="PATH", help="read the prompt from this file (UTF-8 text) instead")
    add_model_options(ask)
    add_sampling_options(ask)
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument("--no-save", action="store_true", help="do not save this exchange to the history")
    ask.add_argument(
        "--shift",
        action="store_true",
        help="add the token-shift lens: each answer scored by the other pane's model (a 'shift' object per pane in --json)",
    )

    info = sub.add_parser("info", help="show both models' metadata", allow_abbrev=False)
    add_model_options(info, modes=False)
    info.add_argument("--json", action="store_true", help="print JSON instead of text")

    # Each of these modules adds its own subcommands: register(subparsers) calls
    # subparsers.add_parser(...) and set_defaults(func=handler), handler(args) -> exit status.
    for command, module in SUBCOMMAND_MODULES.items():
        if subcommands:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(command, add_help=False)
    parser.epilog = "commands (duet COMMAND --help for each one's options):\n" + "\n".join(_command_lines(sub))
    return parser


def _command_lines(sub: argparse._SubParsersAction) -> list[str]:
    """Every subcommand, nested ones included, with its one-line help (argparse keeps them in
    _choices_actions, in the order they were added)."""
    lines = ["  duet                     the app (also: duet --resume [ID])"]
    for command in sub._choices_actions:
        parser = sub.choices[command.dest]
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not nested:
            lines.append(f"  duet {command.dest:<19} {command.help}")
        for action in nested:
            for child in action._choices_actions:
                lines.append(f"  duet {command.dest} {child.dest:<{18 - len(command.dest)}} {child.help}")
    return lines


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("duet")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


SUBCOMMAND_MODULES: dict[str, str] = {
    "history": "tui.cli.history",
    "run": "tui.cli.run",
    "models": "tui.cli.models",
    "tune": "tui.cli.tune",
}
_HELP = frozenset(("-h", "--help"))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line. The app's own options (and ask's, info's) are parsed without
    importing the subcommands' modules, which cost 0.1 s of imports before the models could
    start loading (figure 6); a subcommand, --help or anything the short parser does not know
    gets the whole parser, so what is accepted and every message are the same."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not _HELP.intersection(argv):
        args, unknown = build_parser(subcommands=False).parse_known_args(argv)
        if not unknown and args.command not in SUBCOMMAND_MODULES:
            return args
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    # Nothing Duet does at run time needs the network; only an explicit download command (one whose
    # subparser sets needs_network=True) may. Set before huggingface_hub is ever imported.
    if not getattr(args, "needs_network", False):
        os.environ["HF_HUB_OFFLINE"] = "1"
    if not _is_the_app(args):
        end_start_up()  # the app ends it once its models have loaded (tui.cli.launch)
    status = _dispatch(args)
    _exit_now_if_abandoned(status)
    return status


def _exit_now_if_abandoned(status: int) -> None:
    """A pane's worker still inside a model load (llama.cpp cannot stop one) would hold the process
    at exit, when Python joins its threads: with the output written, the history saved and the
    terminal restored, end the process without waiting for it."""
    from models.session import abandoned_workers

    left = abandoned_workers()
    if not left:
        return
    print(f"duet: not waiting for {', '.join(left)} to finish loading (llama.cpp cannot stop a load)", file=sys.stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


# The commands the short parser knows besides the app itself, each a function named as the
# command in its module; every other command is the app (or a subparser's func).
_SHORT_COMMANDS: dict[str, str] = {"ask": "tui.cli.ask", "info": "tui.cli.info"}


def _is_the_app(args: argparse.Namespace) -> bool:
    return getattr(args, "func", None) is None and args.command not in _SHORT_COMMANDS


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if getattr(args, "func", None) is not None:
            return args.func(args)
        if args.command in _SHORT_COMMANDS:
            command = getattr(importlib.import_module(_SHORT_COMMANDS[args.command]), args.command)
            return command(args)
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
