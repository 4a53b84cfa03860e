"""`duet` starts with Python's garbage collector off and turns it back on (tui/cli/entry.py): a
subcommand before it runs, the app once its models have loaded. Never left off."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

from tests.support.duet_process import ROOT
from tests.support.pilot import wait_until


async def test_the_app_turns_the_collector_back_on_once_both_models_have_loaded():
    from tui.cli.launch import build_app
    from tui.cli.main import parse_arguments
    from tui.cli.start_up import begin_start_up

    begin_start_up()
    try:
        app = build_app(parse_arguments([]))  # what `duet` with no arguments runs
        assert not gc.isenabled()  # still loading: start-up goes on without collections
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: all(p.info for p in app.panes), 120, "both models loaded")
            await wait_until(pilot, gc.isenabled, 10, "the collector back on")
            await pilot.press("ctrl+q")
    finally:
        gc.enable()


def test_a_subcommand_runs_with_the_collector_on(tmp_path):
    code = (
        "import gc\n"
        "from tui.cli.start_up import begin_start_up\n"
        "begin_start_up()\n"
        "import tui.cli.main as cli\n"
        "cli._dispatch = lambda args: print(args.command, gc.isenabled()) or 0\n"
        "for argv in (['history', 'list'], ['ask', 'hi'], ['info']):\n"
        "    gc.disable()\n"
        "    cli.main(argv)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUET_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True)
    assert out.stdout.split("\n")[:3] == ["history True", "ask True", "info True"], out
