"""The real app in tmux with a hostile chat template, and a paste that arrives as keystrokes:
Esc within half a second, ctrl+q within two, 200,000 typed characters stay one paste."""

import os
import shutil
import sys
import time

import pytest

from tests.e2e.test_tmux import tmux, wait_for
from tests.support import hostile_gguf as hostile
from tests.support.duet_process import ROOT

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")


def start(tmp_path, *args: str) -> tuple[str, object]:
    session = f"duet-e2e-hostile-{os.getpid()}-{time.monotonic_ns()}"
    status = tmp_path / "status"
    env = f"PYTHONPATH={ROOT} DUET_CONFIG_DIR={tmp_path}/config DUET_DATA_DIR={tmp_path}/data HF_HUB_OFFLINE=1"
    command = f"env -u COLUMNS -u LINES {env} {sys.executable} -m tui.cli {' '.join(args)}; echo $? > {status}"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "40", "-c", str(ROOT), command)
    wait_for(session, lambda s: s.count("ready") >= 2)
    return session, status


def type_and_send(session: str, text: str) -> None:
    tmux("send-keys", "-t", session, "-l", text)
    time.sleep(0.5)  # as a person would before Enter (tmux types the text as fast as a paste)
    tmux("send-keys", "-t", session, "Enter")


def seconds_until(session: str, condition, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition(tmux("capture-pane", "-p", "-t", session)):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s; screen:\n{tmux('capture-pane', '-p', '-t', session)}")


def quit_within(session: str, status, limit: float | None = 2.0) -> None:
    """ctrl+q ends the app with status 0; ``limit``: within that many seconds (None: only that it
    quits, within a deadline for a hang; the quit latency is benchmark figure 17, not a test's)."""
    tmux("send-keys", "-t", session, "C-q")
    started = time.monotonic()
    deadline = 10 if limit is not None else 60
    while not (status.exists() and status.read_text().strip()) and time.monotonic() - started < deadline:
        time.sleep(0.02)
    took = time.monotonic() - started
    assert status.exists() and status.read_text().strip() == "0", f"no clean quit within {deadline} s"
    assert limit is None or took < limit, f"quit took {took:.2f} s"


def test_esc_and_quit_under_a_stuck_render_in_tmux(tmp_path, chat_path):
    spin = hostile.rewrite(
        chat_path,
        tmp_path / "spin.gguf",
        {"tokenizer.chat_template": hostile.spin_template(hostile.smollm_template(chat_path))},
    )
    session, status = start(tmp_path, "--chat", str(spin), "--max-tokens", "200")
    try:
        type_and_send(session, "please spin")
        wait_for(session, lambda s: "waiting for the first token" in s, timeout=10)
        time.sleep(0.3)
        tmux("send-keys", "-t", session, "Escape")
        took = seconds_until(session, lambda s: s.count("■ stopped") >= 2)  # both panes
        assert took < 0.5, f"Esc took {took:.2f} s"
        type_and_send(session, "Hello")
        wait_for(session, lambda s: s.count("› Hello") == 2 and "●" not in s, timeout=60)  # both answered
        type_and_send(session, "spin again")
        wait_for(session, lambda s: "waiting for the first token" in s, timeout=10)
        quit_within(session, status)
    finally:
        tmux("kill-session", "-t", session)


def test_200000_characters_typed_as_keys_stay_one_paste_in_tmux(tmp_path):
    session, status = start(tmp_path, "--max-tokens", "8")
    paste = tmp_path / "paste.txt"
    paste.write_text(("1 line of a pasted text.\n" * 8000)[:200_000])
    try:
        tmux("load-buffer", "-b", "duet-e2e", str(paste))
        tmux("paste-buffer", "-b", "duet-e2e", "-d", "-t", session)  # no -p: keystrokes, not a bracketed paste
        screen = wait_for(session, lambda s: "cut to 100,000 characters" in s, timeout=120)
        assert "›" not in screen  # no line was sent as a message, no preset fired
        assert screen.count("1 line of a pasted text.") > 3
        quit_within(session, status, limit=None)  # that it quits; how fast is a benchmark figure
    finally:
        tmux("kill-session", "-t", session)
