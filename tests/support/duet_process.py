"""The real `duet` command, run in a subprocess the way a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ctrl_c_works() -> None:
    """``preexec_fn`` for a child a test sends SIGINT: the disposition a terminal's foreground job
    has. A test run started in the background by a non-interactive shell (``pytest &``) inherits
    SIGINT ignored, and a Python started that way never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_duet(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run `python -m tui.cli ARGS` (what the `duet` entry point runs) and return the result."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=str(ROOT),
    )
