"""Layout snapshots at the smallest supported size and a large one, with scripted model output."""

import pytest

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.app import DuetApp
from tui.widgets.prompt_input import PromptInput

BASE_ANSWER = (
    " on a chair?\n\nI'm not sure how to train my dog to sit on a chair.\n\nTell me how to train my dog to stay."
)
CHAT_ANSWER = (
    "Here's how to teach **sit**:\n\n1. Hold a treat above your dog's nose.\n2. Move it back slowly.\n"
    "3. Say *sit* as they sit, then reward.\n\n```\nrepeat 5x daily\n```"
)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


def make_app(third: bool = False):
    panes = [
        PaneConfig("base", ModelSpec(source="base"), "raw"),
        PaneConfig("chat", ModelSpec(source="chat"), "chat"),
    ] + ([PaneConfig("third", ModelSpec(source="third"), "chat")] if third else [])
    answers = {"base": BASE_ANSWER, "chat": CHAT_ANSWER, "third": CHAT_ANSWER}
    return DuetApp(panes, SamplingSettings(), session_factory=scripted_sessions(answers))


async def send_dog(pilot):
    app = pilot.app
    await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "scripted panes loaded")
    prompt = app.query_one(PromptInput)
    prompt.cursor_blink = False  # a blinking cursor would make the snapshot depend on timing
    prompt.text = "Tell me how to train my dog to sit"
    await pilot.press("enter")
    answered = lambda: not app.busy and all(app.sessions[r].turns for r in app.sessions)  # noqa: E731
    await wait_until(pilot, answered, 30, "every pane answered")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_layout(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=send_dog)


def test_narrow_terminal_stacks_panes(snap_compare):
    assert snap_compare(make_app(), terminal_size=(70, 30), run_before=send_dog)


def test_three_panes_at_120_columns(snap_compare):
    assert snap_compare(make_app(third=True), terminal_size=(120, 30), run_before=send_dog)


async def loaded_and_still(pilot):
    app = pilot.app
    await wait_until(pilot, lambda: all(p.info for p in app.panes), 30, "scripted panes loaded")
    app.query_one(PromptInput).cursor_blink = False
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_empty_state(snap_compare, size):
    """Before the first message: what each pane holds, and how to start."""
    assert snap_compare(make_app(), terminal_size=size, run_before=loaded_and_still)
