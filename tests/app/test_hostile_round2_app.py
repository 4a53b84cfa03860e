"""Hostile input, round two (issue 26), in the app under Pilot: preset names and toasts that look
like markup, config files nested 500 deep, an invalid keymap, and a history database another
process holds locked while a turn is saved. Scripted engines behind the real sessions: the model
is not what these test."""

from __future__ import annotations

import sqlite3

import pytest
from textual.command import CommandPalette
from textual.widgets import OptionList

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.app import DuetApp
from tui.widgets.prompt_input import PromptInput

HOSTILE_NAMES = ["[b]bold[/b]", "[reverse]r", "[@click=app.quit]quit", "[link=https://x.y]a[/link]", "[B]x[/B] [$x]"]
DEEP = "[" * 500 + "]" * 500


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "config").mkdir()
    return tmp_path / "config"


def make_app(answer: str = "An answer.") -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source="base"), "raw"),
        PaneConfig("chat", ModelSpec(source="chat"), "chat"),
    ]
    return DuetApp(
        panes, SamplingSettings(max_tokens=8), session_factory=scripted_sessions({"base": answer, "chat": answer})
    )


def toasts(app) -> list[str]:
    return [n.message for n in app._notifications]


def _styles(content) -> list[str]:
    return [str(span.style) for span in content.spans]


async def test_preset_names_in_the_f4_picker_are_plain_text(config):
    presets = "".join(f'[[preset]]\nname = "{name}"\ntext = "Say {n}"\n\n' for n, name in enumerate(HOSTILE_NAMES))
    (config / "presets.toml").write_text(presets.replace("$", "\\u0024"))
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), what="the preset picker")
        options = app.screen.query_one(OptionList)
        await wait_until(pilot, lambda: options.option_count >= len(HOSTILE_NAMES), what="the presets listed")
        await pilot.pause(0.2)
        prompts = [options.get_option_at_index(i).prompt for i in range(options.option_count)]
        shown = "\n".join(p.plain for p in prompts)
        for name in HOSTILE_NAMES:
            assert name in shown, shown  # exactly as written: no tag swallowed, none styled
        assert not any("link" in s or "click" in s or "reverse" in s for p in prompts for s in _styles(p))
        await pilot.press("q", "u", "i", "t")  # a search highlights the plain names too
        await pilot.pause(0.3)
        matched = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
        assert any("[@click=app.quit]quit" in m for m in matched), matched
        await pilot.press("escape")
        assert app.is_running


async def test_a_toast_shows_markup_as_text():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.notify("preset: [link=https://x.y]a[/link] [@click=app.quit]q \x1b[2J")  # raised MarkupError before
        await pilot.pause(0.2)
        note = app._notifications[-1] if hasattr(app._notifications, "__getitem__") else list(app._notifications)[-1]
        assert not note.markup and "[link=https://x.y]a[/link]" in note.message and "\x1b" not in note.message
        assert app.is_running


@pytest.mark.parametrize("name", ["config.toml", "presets.toml", "aligned.toml"])
async def test_a_file_nested_500_deep_is_one_line_and_the_app_starts(config, name):
    key = {"config.toml": "theme", "presets.toml": "preset", "aligned.toml": "header"}[name]
    (config / name).write_text(f"{key} = {DEEP}\n")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await wait_until(pilot, lambda: any("deep" in m for m in toasts(app)), timeout=10, what="the toast")
        lines = [m for m in toasts(app) if name in m]
        assert len(lines) == 1 and "more than 20 deep (line 1)" in lines[0] and "\n" not in lines[0], toasts(app)
        assert app.presets  # the built-in presets still work
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: not app.busy and app.sessions["chat"].turns, what="a preset answered")


async def test_an_invalid_keymap_is_refused_in_one_line_and_the_default_kept(config):
    (config / "config.toml").write_text(
        '[keymap]\ncycle_mode = "not a key!!"\nno_such_binding = "f9"\ninspect = "f11"\n'
    )
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        lines = [m for m in toasts(app) if "keymap" in m]
        assert len(lines) == 1, toasts(app)
        assert "cycle_mode = 'not a key!!'" in lines[0] and "'no_such_binding' is not a binding" in lines[0]
        assert app.config.keymap == {"inspect": "f11"}  # the valid entry is kept
        chat = app.sessions["chat"]
        before = chat.mode
        await pilot.press("f2")  # the default key still cycles the mode
        await wait_until(pilot, lambda: chat.mode != before, timeout=5, what="F2 changed the mode")


async def test_a_locked_history_database_never_freezes_the_screen(tmp_path):
    path = tmp_path / "data" / "history.db"
    HistoryStore(path).close()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app) and app.history is not None)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process writing: SQLite's busy wait is 10 s
        try:
            assert await app.send("Hello")
            await wait_until(pilot, lambda: not app.busy, what="both panes answered")
            await pilot.pause(0.3)
            saving = [w for w in app.workers if w.group == "save" and not w.is_finished]
            assert saving, "the save should be waiting for the lock"
            prompt = app.query_one(PromptInput)
            await pilot.press("h", "i")  # keys are echoed while the save waits: the loop is free
            await wait_until(pilot, lambda: prompt.text == "hi", timeout=5, what="typing while the save waits")
            assert any(not w.is_finished for w in saving)  # still waiting: the screen did not
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        await app.workers.wait_for_complete()
        with HistoryStore(path) as store:
            conversations = store.conversations()
        assert [c["turn_count"] for c in conversations] == [1]  # saved once the lock went
