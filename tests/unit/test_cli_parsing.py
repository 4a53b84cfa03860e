"""The short parser `duet` uses to start the app (tui/cli/main.py parse_arguments): whatever it
accepts it reads exactly as the whole parser does, and it never imports a subcommand's module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tui.cli.main import SUBCOMMAND_MODULES, build_parser, parse_arguments

SHORT_PATH = [
    [],
    ["--resume"],
    ["--resume", "3"],
    ["--base", "embedded:smollm2-135m-instruct", "--chat-mode", "raw", "--max-tokens", "12"],
    ["--temperature", "0.5", "--seed", "7"],
    ["ask", "run"],  # a prompt that is a command's name is still a prompt
    ["ask", "--json", "--shift", "What is 2 + 2?"],
    ["info", "--json"],
]
WHOLE_PATH = [
    ["run", "prompts.txt", "--report", "out.md", "--shift"],
    ["history", "list"],
    ["models", "list"],
    ["tune", "--lesson", "--dry-run"],
    ["--max-tokens", "5", "tune", "--lesson"],
]


@pytest.mark.parametrize("argv", SHORT_PATH + WHOLE_PATH, ids=" ".join)
def test_every_command_line_reads_as_the_whole_parser_reads_it(argv):
    assert vars(parse_arguments(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["--bogus"], ["frobnicate"], ["--max-tokens", "many"], ["ask", "--nope", "x"]])
def test_a_mistake_gets_the_whole_parser_s_message(argv, capsys):
    with pytest.raises(SystemExit) as short:
        parse_arguments(argv)
    short_err = capsys.readouterr().err
    with pytest.raises(SystemExit) as whole:
        build_parser().parse_args(argv)
    assert (short.value.code, short_err) == (whole.value.code, capsys.readouterr().err)
    assert short_err.startswith("duet: ")


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        parse_arguments(["--help"])
    out = capsys.readouterr().out
    assert all(f"duet {command}" in out for command in SUBCOMMAND_MODULES)


def test_the_app_s_command_line_imports_no_subcommand_module():
    code = (
        "import sys; from tui.cli.main import parse_arguments, SUBCOMMAND_MODULES; parse_arguments(['--max-tokens', '9']);"
        "print(sorted(m for m in SUBCOMMAND_MODULES.values() if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
