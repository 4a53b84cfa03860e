"""The real app in tmux at 80x24, as a person uses it: a server pane streams many known lines and
its last line is on screen when the answer ends (the pane followed it), every line its own;
keys typed before the first paint are kept, alt+digit fires a preset and a digit is text."""

import os
import shutil
import sys
import threading
import time

import pytest

from tests.e2e.test_tmux import tmux, wait_for
from tests.support.duet_process import ROOT
from tests.support.openai_stub import StubServers, chunk, sse

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")

LINES = [f"line {n:03d} of the server's answer" for n in range(1, 121)]


@pytest.fixture
def server():
    servers = StubServers()

    def completions(handler):  # the known lines, a few at a time, as a model streams them
        handler.start_chunked()
        for start in range(0, len(LINES), 3):
            handler.chunk(sse(chunk("".join(line + "\n" for line in LINES[start : start + 3]))))
            time.sleep(0.02)
        handler.chunk(sse(chunk("THE END", "stop"), "[DONE]"))
        handler.chunk(b"")

    _, url = servers.start({"POST /v1/completions": completions})
    yield url
    servers.close()


def test_a_server_pane_streams_to_its_last_line_at_80x24(tmp_path, server):
    session = f"duet-e2e-faithful-{os.getpid()}-{threading.get_ident()}"
    status = tmp_path / "status"
    env = f"PYTHONPATH={ROOT} DUET_CONFIG_DIR={tmp_path}/config DUET_DATA_DIR={tmp_path}/data HF_HUB_OFFLINE=1"
    args = f"--base '{server}#stub-model' --base-mode raw --max-tokens 8"
    command = f"env -u COLUMNS -u LINES {env} {sys.executable} -m tui.cli {args}; echo $? > {status}; sleep 30"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", "-c", str(ROOT), command)
    try:
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "-l", "2 + ")  # typed long before the first paint: kept
        wait_for(session, lambda s: s.count("ready") >= 2)
        tmux("send-keys", "-t", session, "-l", "2 = ?")
        tmux("send-keys", "-t", session, "Enter")  # right behind the fast input: it sends
        screen = wait_for(session, lambda s: s.count("■ TTFT") >= 2, timeout=60)
        assert "› 2 + 2 = ?" in screen and "Mars" not in screen  # a digit first is text, not a preset
        assert "THE END" in screen and LINES[-1] in screen  # the base pane followed to its end
        assert LINES[0] not in screen
        rows = [row for row in screen.splitlines() if "of the server's answer" in row]
        assert len(rows) >= 5 and all(row.count("line ") == 1 for row in rows)  # a line each
        tmux("send-keys", "-t", session, "C-w")  # the base pane active; to its top and back
        tmux("send-keys", "-t", session, "C-Home")
        wait_for(session, lambda s: LINES[0] in s and "THE END" not in s, timeout=10)
        tmux("send-keys", "-t", session, "C-End")
        wait_for(session, lambda s: "THE END" in s, timeout=10)
        tmux("send-keys", "-t", session, "M-2")  # alt+2: the second preset, on a new conversation
        wait_for(session, lambda s: "› What do you think of Mars?" in s and "THE END" not in s, timeout=30)
        screen = wait_for(session, lambda s: s.count("■ TTFT") >= 2 and "THE END" in s, timeout=60)
        assert "› 2 + 2 = ?" not in screen
        assert "F1" in screen.splitlines()[-1].upper()  # the footer's first key at 80 columns
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 20
        while not (status.exists() and status.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.read_text().strip() == "0"
    finally:
        tmux("kill-session", "-t", session)
