"""The lens explains itself (issue 23): the rank rule and the scorer in a legend, shifted tokens the
most salient class, the alternatives kept on screen as the cursor moves, and the status line's token
count reconciled with the lens's. Real embedded pair under Pilot."""

import pytest

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tui.app import DuetApp
from tui.widgets.lens import LensView
from tui.widgets.prompt_input import PromptInput

DOG = "Tell me how to train my dog to sit"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


def make_app(max_tokens: int) -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=max_tokens, temperature=0))


async def open_lens(pilot) -> LensView:
    app = pilot.app
    await wait_until(pilot, lambda: loaded(app), 60, "models loaded")
    app.query_one(PromptInput).text = DOG
    await pilot.press("enter")
    await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 180, "answers")
    await pilot.press("f8")
    chat = app.pane("chat")
    await wait_until(pilot, lambda: chat.lens is not None, 60, "lens shown")
    await pilot.pause(0.3)  # the count's line comes right after the mount
    return chat.lens


def detail_on_screen(lens: LensView) -> bool:
    """Whether every line of the cursor's detail (its line and the alternatives) is inside the pane."""
    assert lens.parent is not None
    visible = lens.parent.content_region
    first, count = lens._detail_at
    return all(visible.y <= lens.region.y + first + k < visible.bottom for k in range(count))


async def test_the_legend_says_the_rank_rule_the_scorer_and_why_the_counts_differ():
    app = make_app(max_tokens=24)
    async with app.run_test(size=(140, 44)) as pilot:
        lens = await open_lens(pilot)
        shown = " ".join(str(lens.render()).split())  # the lines as wrapped, put together
        assert "rank 1 unshifted · rank 2-3 marginal · rank 4+ shifted" in shown
        assert "· ranked by gemma-3-270m (raw)" in shown
        turn = app.sessions["chat"].last_turn
        # SmolLM2's answer cut into Gemma's tokens: another count than the status line's, said on screen
        assert len(lens.result.tokens) != turn.metrics.tokens
        note = f"{len(lens.result.tokens)} tokens here, {turn.metrics.tokens} in the status line"
        assert note in shown and "another vocabulary" in shown


async def test_shifted_tokens_are_the_most_salient_class():
    app = make_app(max_tokens=8)
    async with app.run_test(size=(140, 44)) as pilot:
        lens = await open_lens(pilot)
        shifted, marginal, unshifted = (lens._style(name) for name in ("shifted", "marginal", "unshifted"))
        assert shifted.bgcolor is not None and shifted.bold  # a filled block
        assert marginal.bgcolor is None and not marginal.bold and marginal.underline  # a line under the text
        assert unshifted.bgcolor is None and not unshifted.underline


async def test_the_alternatives_stay_on_screen_as_the_cursor_moves_through_a_long_answer():
    app = make_app(max_tokens=200)
    async with app.run_test(size=(80, 24)) as pilot:
        lens = await open_lens(pilot)
        assert lens.virtual_region.height > lens.parent.content_region.height  # taller than the pane
        # The scroll to the detail runs after a refresh: waited for, not a fixed pause (a busy
        # machine once took longer than 0.3 s), but it must come.
        await wait_until(pilot, lambda: detail_on_screen(lens), 10, "the detail on screen")
        assert "top choices" in str(lens.render())
        await pilot.press("end")
        assert lens.cursor == len(lens.result.tokens) - 1
        await wait_until(pilot, lambda: detail_on_screen(lens), 10, "the last token's detail on screen")
        await pilot.press("home")
        assert lens.cursor == 0
        await wait_until(pilot, lambda: detail_on_screen(lens), 10, "the first token's detail on screen")
        for _ in range(3):
            await pilot.press("down")  # the next shifted token, wherever it is
            await wait_until(pilot, lambda: detail_on_screen(lens), 10, "the next shifted token's detail on screen")
