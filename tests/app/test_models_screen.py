"""The app's model screen: switch a pane's model, and pull one from a local stand-in hub first."""

import pytest
from textual.widgets import OptionList, Static

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.fake_hub import FakeHub
from tests.support.pilot import wait_until
from tui.app import DuetApp
from tui.screens.models import ModelsScreen
from tui.widgets.prompt_input import PromptInput

REPO, FILE = "bartowski/SmolLM2-360M-Instruct-GGUF", "SmolLM2-360M-Instruct-Q4_K_M.gguf"


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    from huggingface_hub import constants

    hub = FakeHub().start()
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    # What HF_ENDPOINT set before start-up gives (huggingface_hub derives both at import time).
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as `duet` runs the app
    yield hub
    hub.stop()


def app_on_embedded_pair():
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=6))


async def choose(pilot, screen: ModelsScreen, name: str) -> None:
    options = screen.query_one(OptionList)
    index = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == name)
    options.highlighted = index
    options.focus()
    await pilot.press("enter")


async def test_switch_a_pane_to_an_installed_model(isolated):
    app = app_on_embedded_pair()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all(p.info for p in app.panes))
        await pilot.press("ctrl+w")  # the base pane becomes active
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ModelsScreen) and screen.target_role == "base"
        labels = [str(screen.query_one(OptionList).get_option_at_index(i).prompt) for i in range(3)]
        assert "embedded/base" in labels[0] and "built-in" in labels[0] and "RAM" in labels[0]
        await choose(pilot, screen, "embedded/chat")
        await wait_until(pilot, lambda: app.pane("base").info and app.pane("base").info.architecture == "llama")
        assert "smollm2" in str(app.pane("base").query_one(".pane-header", Static).render())
        app.query_one(PromptInput).text = "Hello"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.busy and app.sessions["base"].turns)
        assert app.sessions["base"].turns[0].text and app.sessions["base"].turns[0].error is None


async def test_pull_with_progress_then_open_offline(isolated, chat_path):
    isolated.add(REPO, FILE, chat_path, throttle_s=0.01)
    app = app_on_embedded_pair()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: all(p.info for p in app.panes))
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))
        await pilot.pause(0.1)
        screen = app.screen
        assert "not downloaded" in str(
            next(
                screen.query_one(OptionList).get_option_at_index(i).prompt
                for i in range(screen.query_one(OptionList).option_count)
                if screen.query_one(OptionList).get_option_at_index(i).id == "smollm2-360m/chat"
            )
        )
        await choose(pilot, screen, "smollm2-360m/chat")
        await wait_until(pilot, lambda: "downloading" in str(screen.query_one("#models-message", Static).render()), 30)
        assert screen.query_one("#pull-progress").display
        await wait_until(
            pilot,
            lambda: app.pane("chat").info is not None and app.pane("chat").session.source == "smollm2-360m/chat",
            120,
        )
        assert app.pane("chat").load_error is None
        requests = len(isolated.requests)
        app.query_one(PromptInput).text = "Hello"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not app.busy and app.sessions["chat"].turns)
        assert app.sessions["chat"].turns[0].text
        assert len(isolated.requests) == requests  # answering from the pulled model asks the hub nothing
        from huggingface_hub import constants

        assert constants.HF_HUB_OFFLINE is True  # the pull lifted offline mode for itself only
