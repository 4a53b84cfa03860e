"""The token-shift lens in the app, on the real embedded pair: F8, moving along the tokens with
keys and the mouse, Esc, and the lens after every turn."""

import pytest

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tui.app import DuetApp
from tui.widgets.lens import LensView
from tui.widgets.prompt_input import PromptInput
from tui.widgets.turns import AnswerTurn

DOG = "Tell me how to train my dog to sit"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "config"


def make_app(max_tokens: int = 24) -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=max_tokens))


async def answer(pilot, text: str = DOG) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: loaded(app), 60, "models loaded")
    app.query_one(PromptInput).text = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 120, "answers")


def detail_text(lens: LensView) -> str:
    return " ".join(str(lens.render()).split())  # the view's lines as wrapped, put together


async def test_f8_shows_the_lens_moves_along_tokens_and_esc_returns_to_the_prompt():
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await answer(pilot)
        chat = app.pane("chat")  # the active pane
        await pilot.press("f8")
        await wait_until(pilot, lambda: chat.lens is not None, 60, "lens shown")
        lens = chat.lens
        result = lens.result
        assert result.text == app.sessions["chat"].last_turn.text  # every character of the answer, once
        shown = detail_text(lens)
        assert "scored by gemma-3-270m (re-tokenized)" in shown and "different model families" in shown
        assert "token 1/" in shown and app.focused is lens
        assert not chat.query_one(AnswerTurn).display  # the lens stands in the answer's place

        await pilot.press("right", "right")
        assert lens.cursor == 2 and f"token 3/{len(result.tokens)}" in detail_text(lens)
        assert "top choices" in detail_text(lens)
        shifted = [i for i, t in enumerate(result.tokens) if t.shift_class == "shifted" and i > 2]
        if shifted:
            await pilot.press("down")
            assert lens.cursor == shifted[0]

        await pilot.press("escape")
        await wait_until(pilot, lambda: chat.lens is None, 5, "lens closed")
        assert chat.query_one(AnswerTurn).display and isinstance(app.focused, PromptInput)


async def test_a_click_selects_the_token_under_the_mouse():
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await answer(pilot)
        await pilot.press("f8")
        chat = app.pane("chat")
        await wait_until(pilot, lambda: chat.lens is not None, 60, "lens shown")
        lens = chat.lens
        await pilot.pause(0.2)
        target = min(4, len(lens.result.tokens) - 1)
        spot = None
        region = lens.region
        for y in range(region.y, region.y + region.height):
            for x in range(region.x, region.x + region.width):
                if app.screen.get_style_at(x, y).meta.get("token") == target:
                    spot = (x - region.x, y - region.y)
                    break
            if spot:
                break
        assert spot is not None, "no token drawn with its index"
        await pilot.click(LensView, offset=spot)
        assert lens.cursor == target


async def test_f8_with_no_answer_says_why_and_a_busy_app_refuses():
    app = make_app(max_tokens=200)
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: loaded(app), 60, "models loaded")
        await pilot.press("f8")
        assert app.pane("chat").lens is None  # nothing to score yet (a notice says so)
        app.query_one(PromptInput).text = DOG
        await pilot.press("enter")
        await pilot.press("f8")  # while answering
        assert app.pane("chat").lens is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.busy, 10, "stopped")


async def test_esc_stops_a_scoring_run_and_the_app_stays_usable():
    app = make_app(max_tokens=160)
    async with app.run_test(size=(140, 44)) as pilot:
        await answer(pilot, "Write a long story about a dragon.")
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.pane("base").scoring, 10, "scoring started")  # base scores chat
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.busy, 2, "scoring stopped")
        await pilot.pause(0.5)
        assert app.pane("chat").lens is None  # stopped, not finished
        assert "TTFT" in str(app.pane("base").query_one(".pane-status").render())  # its status line is back
        await answer(pilot, "Hello")  # both panes still answer


async def test_the_lens_after_every_turn_keeps_the_focus_in_the_prompt(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "config.toml").write_text("lens_after_every_turn = true\n")
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await answer(pilot)
        await wait_until(pilot, lambda: all(p.lens is not None for p in app.panes), 90, "both lenses")
        assert "scored by smollm2-135m-instruct" in detail_text(app.pane("base").lens)
        assert isinstance(app.focused, PromptInput)
