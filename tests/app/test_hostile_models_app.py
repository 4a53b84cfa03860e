"""The app with a hostile model in the chat pane (Pilot): the turn fails in one line and the base
pane answers; Esc stops a stuck render; ctrl+q exits within 2 s whatever a worker is doing,
after saving the stopped turn; a paste that arrives as 200,000 keystrokes stays one paste."""

import threading
import time

import pytest
from textual import events

from models.pair import PaneConfig
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings
from models.store.history import HistoryStore
from tests.support import hostile_gguf as hostile
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import ScriptedEngine, scripted_sessions
from tui.app import DuetApp
from tui.widgets.key_burst import MAX_PROMPT_CHARS
from tui.widgets.prompt_input import PromptInput

QUIT_S = 2.0


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture(scope="module")
def files(tmp_path_factory, chat_path):
    folder = tmp_path_factory.mktemp("hostile-app")
    normal = hostile.smollm_template(chat_path)
    return {
        "spin": hostile.rewrite(
            chat_path, folder / "smollm2-spin.gguf", {"tokenizer.chat_template": hostile.spin_template(normal)}
        ),
        "loops": hostile.rewrite(
            chat_path, folder / "smollm2-loops.gguf", {"tokenizer.chat_template": hostile.NESTED_LOOPS}
        ),
    }


def make_app(chat_source: str, max_tokens: int = 16) -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source=chat_source), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=max_tokens))


async def send(pilot, text: str) -> None:
    # What Enter does, without Pilot's press, which waits for the screen to settle (over a
    # second while a pane streams) and so would hide how fast the app reacts.
    assert await pilot.app.send(text)


def saved_turns() -> list[dict]:
    with HistoryStore() as store:
        conversations = store.conversations()
        return [store.restore_turns(c["id"]) for c in conversations]


async def test_a_hostile_template_fails_the_turn_in_one_line_and_the_base_pane_answers(files):
    app = make_app(str(files["loops"]))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        started = time.monotonic()
        await send(pilot, "Hello")
        chat = app.pane("chat")
        await wait_until(pilot, lambda: not chat.busy, timeout=5, what="the chat pane's turn ended")
        assert time.monotonic() - started < 2.5  # 2 s, and the UI's frame and the Enter decision
        error = app.sessions["chat"].last_turn.error
        assert "ran past the 1 s" in error and "smollm2-loops.gguf" in error and "\n" not in error
        await wait_until(pilot, lambda: not app.busy, timeout=60, what="the base pane answered")
        assert app.sessions["base"].last_turn.text.strip()
        app.action_cycle_mode()  # the active pane is chat: raw mode works
        assert app.sessions["chat"].mode == "raw"
        await send(pilot, "Once upon a time")
        await wait_until(pilot, lambda: not app.busy, timeout=60)
        assert app.sessions["chat"].last_turn.error is None and app.sessions["chat"].last_turn.text.strip()


async def test_esc_stops_a_stuck_render_within_half_a_second(files):
    app = make_app(str(files["spin"]))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await wait_until(pilot, lambda: app.sessions["chat"].warming.done(), timeout=30)
        await send(pilot, "please spin")
        chat = app.pane("chat")
        await wait_until(pilot, lambda: chat.busy, timeout=5)
        await pilot.pause(0.4)  # the render is looping now
        assert chat.busy
        stopped = time.monotonic()
        await pilot.press("escape")
        await wait_until(pilot, lambda: not chat.busy, timeout=5, what="Esc stopped the render")
        assert time.monotonic() - stopped < 0.5
        assert app.sessions["chat"].last_turn.stopped
        await wait_until(pilot, lambda: not app.busy, timeout=60)
        await send(pilot, "Hello")  # a normal message renders in a fresh helper
        await wait_until(pilot, lambda: not app.busy, timeout=60)
        assert app.sessions["chat"].last_turn.text.strip()


async def test_quit_under_a_stuck_render_saves_and_exits_within_2_s(files):
    app = make_app(str(files["spin"]), max_tokens=400)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await wait_until(pilot, lambda: app.sessions["chat"].warming.done(), timeout=30)
        await send(pilot, "please spin and then tell a long story")
        await wait_until(pilot, lambda: app.pane("chat").busy, timeout=5)
        await pilot.pause(0.4)  # the chat pane's render loops, the base pane computes its answer
        pressed = time.monotonic()
        await pilot.press("ctrl+q")
    assert time.monotonic() - pressed < QUIT_S
    [conversation] = saved_turns()  # the stopped turn was saved before the app exited
    assert conversation["base"][0].stopped and conversation["chat"][0].stopped


async def test_quit_while_a_model_is_still_loading_exits_within_2_s(monkeypatch):
    import models.session as session_module

    monkeypatch.setattr(session_module, "_ABANDONED", [])
    release = threading.Event()

    class StuckLoad(ScriptedEngine):
        def load(self):
            release.wait(60)  # a load llama.cpp cannot stop
            return super().load()

    def factory(role, spec, mode, sampling):
        engine = StuckLoad if role == "chat" else ScriptedEngine
        return PaneSession(role, spec, mode, sampling, engine_factory=lambda s: engine(s, "an answer"))

    panes = [PaneConfig("base", ModelSpec(source="base"), "raw"), PaneConfig("chat", ModelSpec(source="chat"), "chat")]
    app = DuetApp(panes, session_factory=factory)
    try:
        async with app.run_test() as pilot:
            await wait_until(pilot, lambda: app.sessions["base"].ready)
            await pilot.press("escape")  # says that a load cannot be stopped
            await pilot.pause(0.1)
            assert any("cannot stop a load" in n.message for n in app._notifications)
            await pilot.press("ctrl+q")
            pressed = time.monotonic()
        assert time.monotonic() - pressed < QUIT_S
        assert session_module.abandoned_workers() == ["the chat pane's chat"]
    finally:
        release.set()


async def test_200000_characters_typed_as_keys_are_one_paste(monkeypatch):
    app = DuetApp(
        [PaneConfig("base", ModelSpec(source="base"), "raw"), PaneConfig("chat", ModelSpec(source="chat"), "chat")],
        session_factory=scripted_sessions({"base": "b", "chat": "c"}),
    )
    sent: list[str] = []
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: loaded(app))
        monkeypatch.setattr(app, "send", lambda text, *a, **k: sent.append(text))
        box = app.query_one(PromptInput)
        text = ("1 line of a pasted text.\n" * 8000)[:200_000]  # a leading digit, newlines
        started = time.monotonic()
        for char in text:  # as a terminal without bracketed paste delivers it: one key each
            app.post_message(events.Key("enter" if char == "\n" else char, "\r" if char == "\n" else char))
        await wait_until(pilot, lambda: len(box.text) == MAX_PROMPT_CHARS and not box._burst.active, timeout=30)
        took = time.monotonic() - started
        assert took < 10, f"{took:.1f} s for 200,000 keys"
        assert sent == [] and box.text == text[:MAX_PROMPT_CHARS]  # no message per line, no preset
        assert any("cut to 100,000 characters" in n.message for n in app._notifications)
        started = time.monotonic()
        await pilot.press("backspace")  # the box still answers keys
        assert time.monotonic() - started < 1.0 and len(box.text) == MAX_PROMPT_CHARS - 1


async def test_typing_keeps_enter_and_presets_working():
    app = DuetApp(
        [PaneConfig("base", ModelSpec(source="base"), "raw"), PaneConfig("chat", ModelSpec(source="chat"), "chat")],
        session_factory=scripted_sessions({"base": "b", "chat": "c"}),
    )
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("alt+1")  # alt+digit fires a preset (a digit is text)
        await wait_until(pilot, lambda: app.last_preset is not None, timeout=5)
        await wait_until(pilot, lambda: not app.busy, timeout=10)
        await pilot.press(*"hi", "enter")  # and Enter sends
        await wait_until(pilot, lambda: app.last_prompt == "hi", timeout=5)
