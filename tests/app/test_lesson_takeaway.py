"""The lesson layout says its takeaway on screen and has a way back (issue 23): a line above the
panes while it is open, the palette's "Two panes" and f12 back to base | chat, f12 into it again."""

import pytest

from models.lesson import LESSON_ROLE, LESSON_TAKEAWAY, with_lesson_pane
from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.actions.lesson import LessonTakeaway
from tui.app import DuetApp
from tui.widgets.pane import ChatPane
from tui.widgets.prompt_input import PromptInput

ANSWERS = {"base": "continued", LESSON_ROLE: " An answer.", "chat": "Sure!"}


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


def configs() -> list[PaneConfig]:
    return [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]


def make_app(panes: list[PaneConfig]) -> DuetApp:
    return DuetApp(panes, SamplingSettings(max_tokens=8), session_factory=scripted_sessions(ANSWERS))


def roles(app) -> list[str]:
    return [pane.role for pane in app.query(ChatPane)]


def takeaway(app) -> str | None:
    found = app.query(LessonTakeaway)
    return str(found.first().render()) if found else None


def commands(app) -> dict:
    return {c.title: c for c in app.get_system_commands(app.screen)}


async def test_duet_lesson_shows_the_takeaway_and_the_palette_goes_back_to_two_panes():
    app = make_app(with_lesson_pane(configs()))
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app) and takeaway(app) is not None, 30, "lesson layout")
        shown = " ".join(takeaway(app).split())
        assert shown == LESSON_TAKEAWAY and "style" in shown and "comes from training" in shown
        assert takeaway(app) is not None and "Lesson layout" not in commands(app)
        aligned = app.sessions[LESSON_ROLE]
        commands(app)["Two panes"].callback()
        await wait_until(pilot, lambda: roles(app) == ["base", "chat"], 30, "two panes")
        await wait_until(pilot, lambda: takeaway(app) is None and aligned._closed, 10, "takeaway gone, model closed")
        assert LESSON_ROLE not in app.sessions and [c.role for c in app.pane_configs] == ["base", "chat"]
        assert app.active_pane.role == "chat" and app.active_pane.has_class("-active")
        assert "Two panes" not in commands(app) and "Lesson layout" in commands(app)
        await app.send("Hello")  # the conversation goes on in the two panes left
        await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 30, "answers")
        assert {r: s.turns[-1].text for r, s in app.sessions.items()} == {"base": "continued", "chat": "Sure!"}


async def test_f12_opens_the_lesson_layout_and_f12_closes_it_from_the_prompt_box():
    app = make_app(configs())
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), 30, "loaded")
        assert takeaway(app) is None
        await pilot.press("f12")
        await wait_until(pilot, lambda: roles(app) == ["base", LESSON_ROLE, "chat"] and loaded(app), 30, "lesson")
        await wait_until(pilot, lambda: takeaway(app) is not None, 10, "takeaway")
        await pilot.press("f12")
        await wait_until(pilot, lambda: roles(app) == ["base", "chat"] and takeaway(app) is None, 30, "two panes")
        assert isinstance(app.focused, PromptInput)


async def test_two_panes_is_refused_while_a_pane_answers():
    app = DuetApp(
        with_lesson_pane(configs()),
        SamplingSettings(max_tokens=8),
        session_factory=scripted_sessions(ANSWERS, delay=0.5),
    )
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), 30, "loaded")
        await app.send("Hello")
        assert app.busy
        assert not await app.close_lesson_layout()
        assert roles(app) == ["base", LESSON_ROLE, "chat"]
