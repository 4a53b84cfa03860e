"""The first five minutes: the empty state, a long pasted prompt, and F1 listing every key."""

import pytest

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.app import DuetApp
from tui.screens.help import HelpScreen
from tui.widgets.lens import LensView
from tui.widgets.pane import ChatPane
from tui.widgets.prompt_input import PromptInput
from tui.widgets.start_hint import StartHint
from tui.widgets.turns import PaneIntro, UserTurn


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "config"


def make_app(answer: str = "Sit means sit.") -> DuetApp:
    panes = [PaneConfig("base", ModelSpec(source="base"), "raw"), PaneConfig("chat", ModelSpec(source="chat"), "chat")]
    return DuetApp(panes, SamplingSettings(), session_factory=scripted_sessions({"base": answer, "chat": answer}))


def text_of(widget) -> str:
    return str(widget.render())


def intro_shown(pane: ChatPane) -> bool:
    return bool(pane.query(PaneIntro))


async def send(pilot, text: str) -> None:
    app = pilot.app
    app.query_one(PromptInput).text = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 30, "answered")


async def test_empty_state_is_shown_hidden_by_a_message_and_back_after_ctrl_l(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "presets.toml").write_text('[[preset]]\nname = "my-own"\ntext = "Hi"\n')
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "panes loaded")
        base, chat = app.panes
        assert intro_shown(base) and intro_shown(chat)
        assert "pretrained model: it continues" in text_of(base.query_one(PaneIntro))
        assert "Fine-tuned to follow instructions" in text_of(chat.query_one(PaneIntro))
        assert "mode raw" in text_of(base.query_one(PaneIntro)) and "mode chat" in text_of(chat.query_one(PaneIntro))
        hint = app.query_one(StartHint)
        assert hint.display and "Enter sends" in text_of(hint) and "F1 keys" in text_of(hint)
        assert "alt+1…9" in text_of(hint) and "1 dog" in text_of(hint)  # presets one key away
        assert "F4 all" in text_of(hint) and app.presets[7].name == "my-own"  # the rest (the user's too) in F4

        await send(pilot, "Tell me how to train my dog to sit")
        assert not intro_shown(base) and not intro_shown(chat)
        assert not hint.display

        await pilot.press("f2")  # a mode change later does not bring the intro back
        assert not intro_shown(chat)
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: intro_shown(base) and intro_shown(chat), 10, "intro back")
        assert hint.display and "mode raw" in text_of(chat.query_one(PaneIntro))  # f2: chat -> raw


async def test_a_long_pasted_prompt_is_echoed_as_its_first_lines():
    prompt = "\n".join(f"line {n}" for n in range(1, 301)) + "\n"
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "panes loaded")
        await send(pilot, prompt)
        for pane in app.panes:
            echo = text_of(pane.query_one(UserTurn))
            assert echo.startswith("› line 1\nline 2") and "line 6" in echo and "line 7" not in echo
            assert "… 294 more lines (F3 shows the whole prompt)" in echo
            assert app.sessions[pane.role].turns[-1].prompt == prompt  # the model got all of it


async def test_one_huge_line_is_cut_too():
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "panes loaded")
        await send(pilot, "x" * 5000)
        echo = text_of(app.panes[0].query_one(UserTurn))
        assert len(echo) < 800 and "4,400 more characters" in echo


async def test_f1_lists_every_key_including_the_prompt_boxs_own():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "help screen")
        keys = [row[0] for row in app.screen.rows]
        for key in ("enter", "ctrl+j", "alt+1 … alt+9", "ctrl+p"):
            assert key in keys
        bound = {b.key for b in app._own_bindings() if not (b.id or "").startswith("preset_")}
        assert bound <= set(keys)  # every binding of the app is listed too (the presets' in one row)
        lens_rows = " ".join(k for k in keys if "/" in k)  # and every key of the lens view
        for binding in LensView.BINDINGS:
            for key in binding.key.split(","):
                assert key.replace("escape", "esc") in lens_rows, key


async def test_a_40_column_pane_keeps_role_and_mode_and_drops_details_first():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:  # two panes of 40 columns each
        await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "panes loaded")
        await pilot.pause(0.1)
        for pane in app.panes:
            header = text_of(pane.query_one(".pane-header"))
            assert "\n" not in header and len(header) <= 36  # one row inside the border and padding
            assert header.startswith(pane.role.upper()) and f"mode {pane.mode}" in header
            assert "1M" not in header  # the details (size, quantization) went first
