"""The lesson layout in the app on the real embedded models: base raw | base aligned by a prompt |
chat, opened by the command line's --lesson, the palette's action or the dog-lesson preset; all
three answer one message, and Esc stops all three."""

import pytest
from textual.widgets import Static

from models.lesson import LESSON_ROLE, with_lesson_pane
from models.pair import PaneConfig
from models.presets import builtin_presets
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.app import DuetApp
from tui.widgets.pane import ChatPane
from tui.widgets.turns import AnswerTurn

BASE, CHAT = "embedded:gemma-3-270m", "embedded:smollm2-135m-instruct"


def configs():
    return [PaneConfig("base", ModelSpec(source=BASE), "raw"), PaneConfig("chat", ModelSpec(source=CHAT), "chat")]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


def roles(app) -> list[str]:
    return [pane.role for pane in app.query(ChatPane)]  # in screen order


async def test_the_lesson_layout_answers_one_message_in_all_three_panes_and_esc_stops_all():
    app = DuetApp(with_lesson_pane(configs()), SamplingSettings(max_tokens=12))
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), timeout=120)
        assert roles(app) == ["base", LESSON_ROLE, "chat"]
        assert [app.sessions[r].mode for r in roles(app)] == ["raw", "aligned", "chat"]
        assert app.sessions[LESSON_ROLE].info.path == app.sessions["base"].info.path  # the same file
        header = str(app.pane(LESSON_ROLE).query_one(".pane-header", Static).render())
        assert "ALIGNED" in header and "aligned" in header
        await app.send("What is the capital of France?")
        await wait_until(pilot, lambda: not app.busy, timeout=120)
        turns = {role: session.turns[-1] for role, session in app.sessions.items()}
        assert all(t.error is None and t.text.strip() for t in turns.values())
        assert turns[LESSON_ROLE].rendered.text.endswith("Question: What is the capital of France?\nAnswer:")
        assert turns["base"].rendered.text == "What is the capital of France?"
        assert turns[LESSON_ROLE].text != turns["base"].text
        saved = app.history.get(app.conversation_id)["turns"][0]["panes"]
        assert [p["role"] for p in saved] == ["base", LESSON_ROLE, "chat"]
        assert saved[1]["prompt_file"]["path"] == "built-in" and len(saved[1]["prompt_file"]["sha256"]) == 64

        for session in app.sessions.values():
            session.sampling = SamplingSettings(max_tokens=400)
        await app.send("List every country in the world, one per line:")
        await wait_until(pilot, lambda: all(p.query(AnswerTurn).last().text for p in app.panes), timeout=120)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.busy, timeout=10)
        for session in app.sessions.values():
            assert session.turns[-1].metrics.stop_reason == "cancelled"


async def test_the_dog_lesson_preset_opens_the_layout_and_fires_the_dog_prompt():
    preset = next(p for p in builtin_presets() if p.name == "dog-lesson")
    app = DuetApp(configs(), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), timeout=120)
        app.active_index = 1  # the chat pane is active, and stays so
        app._set_mode(app.pane("base"), "inst")  # the layout puts the base pane back in raw mode
        await app.fire_preset(preset)
        assert roles(app) == ["base", LESSON_ROLE, "chat"] and app.active_pane.role == "chat"
        await wait_until(pilot, lambda: not app.busy and len(app.sessions[LESSON_ROLE].turns) == 1, timeout=120)
        for role, mode in (("base", "raw"), (LESSON_ROLE, "aligned"), ("chat", "chat")):
            turn = app.sessions[role].turns[-1]
            assert turn.prompt == preset.text and turn.mode == mode and turn.error is None
        await app.open_lesson_layout()  # open already: nothing is added
        assert roles(app) == ["base", LESSON_ROLE, "chat"]


async def test_the_palette_action_adds_the_aligned_pane_between_base_and_chat():
    answers = {"base": "continued", LESSON_ROLE: " An answer.", "chat": "Sure!"}
    app = DuetApp(configs(), SamplingSettings(max_tokens=8), session_factory=scripted_sessions(answers))
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "aligned by a prompt" in commands["Lesson layout"].help
        commands["Lesson layout"].callback()
        await wait_until(pilot, lambda: roles(app) == ["base", LESSON_ROLE, "chat"] and loaded(app))
        assert app.sessions[LESSON_ROLE].spec == app.sessions["base"].spec
        await app.send("Hello")
        await wait_until(pilot, lambda: not app.busy and app.sessions[LESSON_ROLE].turns)
        assert {r: s.turns[-1].text for r, s in app.sessions.items()} == answers
