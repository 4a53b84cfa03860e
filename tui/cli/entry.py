"""The `duet` command's entry point: the garbage collector is off before the first import
(tui/cli/start_up.py says why and when it comes back on)."""

from __future__ import annotations

from tui.cli.start_up import begin_start_up


def main() -> int:
    begin_start_up()
    from tui.cli.main import main as duet

    return duet()
