"""The real `duet` in a real terminal (tmux), driven with keystrokes as a person would."""

import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.support.duet_process import ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def wait_for(session: str, condition, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if condition(screen):
            return screen
        time.sleep(0.3)
    raise AssertionError(f"timed out; screen was:\n{screen}")


def test_duet_in_tmux(tmp_path):
    session = f"duet-e2e-{os.getpid()}"
    status = tmp_path / "status"
    env = f"PYTHONPATH={ROOT} DUET_CONFIG_DIR={tmp_path}/config DUET_DATA_DIR={tmp_path}/data HF_HUB_OFFLINE=1"
    command = f"env {env} {sys.executable} -m tui.cli --max-tokens 24; echo $? > {status}"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32", "-c", str(ROOT), command)
    try:
        wait_for(session, lambda s: s.count("ready") >= 2)
        tmux("send-keys", "-t", session, "-l", "Tell me how to train my dog to sit")
        # tmux types the text in one go, as a paste: an Enter right behind it would be part of it
        # (tui/widgets/key_burst.py); a person pauses before sending.
        time.sleep(0.5)
        tmux("send-keys", "-t", session, "Enter")
        screen = wait_for(session, lambda s: s.count("■ TTFT") >= 2)
        assert screen.count("› Tell me how to train my dog to sit") == 2
        assert "BASE" in screen and "CHAT" in screen and screen.count("tok/s") >= 2
        tmux("send-keys", "-t", session, "F3")
        screen = wait_for(session, lambda s: "Prompt inspector" in s)
        assert "<|im_start|>user" in screen
        tmux("send-keys", "-t", session, "Escape")
        wait_for(session, lambda s: "Prompt inspector" not in s)
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 20
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        tmux("kill-session", "-t", session)
