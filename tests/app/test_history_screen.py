"""F6 (issue 23): where each conversation came from (the app, duet ask, duet run) with a filter and a
search box, one name per model, and a delete that asks first."""

import pytest
from textual.widgets import Input, OptionList

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import scripted_sessions
from tui.app import DuetApp
from tui.screens.history import HistoryScreen
from tui.text.model_names import model_name


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


def panes(base: str, chat: str) -> list[dict]:
    return [{"role": "base", "model": base, "mode": "raw"}, {"role": "chat", "model": chat, "mode": "chat"}]


def saved() -> dict[str, int]:
    """Four conversations, one way each, the models named as each way may have recorded them."""
    store = HistoryStore()
    ids = {
        "app": store.start_conversation(panes("gemma-3-270m", "smollm2-135m-instruct"), kind="app", title="app chat"),
        "ask": store.start_conversation(
            panes("embedded:gemma-3-270m", "smollm2-135m-instruct"), kind="ask", title="asked once"
        ),
        "run": store.start_conversation(
            panes("/models/gemma-3-270m-q4_k_m.gguf", "smollm2-135m-instruct"), kind="run", title="run: builtin"
        ),
        "run2": store.start_conversation(panes("gemma-3-270m", "smollm2-135m-instruct"), kind="run", title="run: mine"),
    }
    store.close()
    return ids


def make_app() -> DuetApp:
    configs = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]
    return DuetApp(configs, SamplingSettings(), session_factory=scripted_sessions({"base": "b", "chat": "c"}))


def rows(screen: HistoryScreen) -> list[str]:
    options = screen.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


def message(screen: HistoryScreen) -> str:
    return str(screen.query_one("#history-message").render())


async def open_history(pilot) -> HistoryScreen:
    await wait_until(pilot, lambda: loaded(pilot.app), 30, "loaded")
    await pilot.press("f6")
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), 10, "F6")
    await pilot.pause()
    return pilot.app.screen


async def test_every_row_says_where_it_came_from_and_f_filters_by_it():
    ids = saved()
    async with make_app().run_test(size=(140, 36)) as pilot:
        screen = await open_history(pilot)
        shown = rows(screen)
        assert len(shown) == 4
        assert [row.split()[1] for row in shown] == ["run", "run", "ask", "app"]  # most recent first
        assert all("gemma-3-270m vs smollm2-135m-instruct" in shown[i] for i in (0, 2, 3))  # one name per model
        assert "gemma-3-270m-q4_k_m.gguf vs" in shown[1] and "/models/" not in shown[1]
        await pilot.press("f")
        assert [row.split()[1] for row in rows(screen)] == ["app"]
        assert "from the app" in str(screen.query_one("#history-filter").render())
        await pilot.press("f")
        assert rows(screen) == [r for r in shown if r.split()[1] == "ask"]
        await pilot.press("f")
        assert {row.split()[0] for row in rows(screen)} == {f"#{ids['run']}", f"#{ids['run2']}"}
        await pilot.press("f")
        assert len(rows(screen)) == 4


async def test_slash_searches_titles_and_models_and_letters_there_are_text():
    saved()
    async with make_app().run_test(size=(140, 36)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("slash")
        assert isinstance(screen.focused, Input)
        await pilot.press(*"run: b")  # f, d and e are typed, not filter, delete, export
        assert [row.split()[-1] for row in rows(screen)] == ["builtin"]
        assert len(HistoryStore().conversations()) == 4
        await pilot.press("enter")
        assert isinstance(screen.focused, OptionList)


async def test_d_asks_first_any_other_key_keeps_and_d_again_deletes():
    ids = saved()
    async with make_app().run_test(size=(140, 36)) as pilot:
        screen = await open_history(pilot)
        await pilot.press("d")  # the newest: run: mine
        assert f"Delete conversation #{ids['run2']}" in message(screen) and len(rows(screen)) == 4
        await pilot.press("down")  # another row: the question is off
        assert "Kept" in message(screen) and len(rows(screen)) == 4 and screen.pending_delete is None
        await pilot.press("d", "x")
        assert len(rows(screen)) == 4 and "Kept" in message(screen)
        await pilot.press("d", "y")  # y confirms as d does
        assert f"deleted conversation #{ids['run']}" in message(screen)
        assert {c["id"] for c in HistoryStore().conversations()} == {ids["app"], ids["ask"], ids["run2"]}
        await pilot.press("d", "d")
        assert len(rows(screen)) == 2


def test_model_names_lose_prefixes_and_folders():
    assert model_name("embedded:gemma-3-270m") == "gemma-3-270m"
    assert model_name("/home/me/models/SmolLM2-135M.Q8_0.gguf") == "SmolLM2-135M.Q8_0.gguf"
    assert model_name("smollm2-135m-instruct") == "smollm2-135m-instruct"
