"""Pilot tests of the Duet app with the real embedded models (and, where exact output matters,
a scripted engine behind the real session code)."""

import time

import pytest
from textual.app import App
from textual.widgets import Static

from models.events import Finished, Metrics, TextDelta
from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import scripted_sessions, unloaded_session
from tui.app import DuetApp
from tui.screens.inspector import InspectorScreen
from tui.widgets.pane import ChatPane
from tui.widgets.prompt_input import PromptInput
from tui.widgets.turns import AnswerTurn, TurnNote, UserTurn

DOG = "Tell me how to train my dog to sit"


def configs(base="embedded:gemma-3-270m", chat="embedded:smollm2-135m-instruct"):
    return [PaneConfig("base", ModelSpec(source=base), "raw"), PaneConfig("chat", ModelSpec(source=chat), "chat")]


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "config"


def idle(app):
    return not app.busy


def status(pane: ChatPane) -> str:
    return str(pane.query_one(".pane-status", Static).render())


async def type_and_send(pilot, text):
    prompt = pilot.app.query_one(PromptInput)
    prompt.text = text
    await pilot.press("enter")


async def test_sending_fills_both_panes():
    app = DuetApp(configs(), SamplingSettings(max_tokens=24))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        assert all("ready" in status(p) for p in app.panes)
        await type_and_send(pilot, DOG)
        await wait_until(pilot, lambda: app.query_one(PromptInput).text == "" and not app.busy)
        for pane in app.panes:
            assert [str(w.render()) for w in pane.query(UserTurn)] == ["› " + DOG]
            answer = pane.query_one(AnswerTurn)
            assert answer.text.strip()
            assert "tok/s" in status(pane) and status(pane).startswith("■")
        base, chat = app.sessions["base"].turns[0], app.sessions["chat"].turns[0]
        assert base.text != chat.text


async def test_both_panes_stream_at_the_same_time():
    app = DuetApp(configs(), SamplingSettings(max_tokens=160))
    first_token, finished = {}, {}
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "Write a long story about a dragon who learns to bake bread.")
        deadline = time.monotonic() + 120
        while (len(finished) < 2) and time.monotonic() < deadline:
            for pane in app.panes:
                answer = pane.query(AnswerTurn)
                if answer and answer.first().text and pane.role not in first_token:
                    first_token[pane.role] = time.monotonic()
                if not pane.busy and pane.role in first_token and pane.role not in finished:
                    finished[pane.role] = time.monotonic()
            await pilot.pause(0.02)
    assert set(finished) == {"base", "chat"}
    # Both had text on screen before either of them was done.
    assert max(first_token.values()) < min(finished.values())


async def test_escape_stops_both_and_keeps_partial_answers():
    app = DuetApp(configs(), SamplingSettings(max_tokens=256))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "List every country in the world, one per line:")
        await wait_until(pilot, lambda: all(p.query(AnswerTurn).first().text for p in app.panes))
        await pilot.press("escape")
        await wait_until(pilot, lambda: idle(app), timeout=10)
        for pane in app.panes:
            turn = app.sessions[pane.role].turns[-1]
            assert turn.metrics.stop_reason == "cancelled" and turn.text
            assert "■ stopped" in [str(n.render()) for n in pane.query(TurnNote)]
            assert "cancelled" in status(pane)


async def test_ctrl_r_regenerates_and_ctrl_l_clears():
    from models.store.history import HistoryStore

    app = DuetApp(configs(), SamplingSettings(max_tokens=12))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "What do you think of Mars?")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        first = {r: s.turns[-1].started_at for r, s in app.sessions.items()}
        await pilot.press("ctrl+r")
        await wait_until(
            pilot,
            lambda: idle(app) and all(s.turns and s.turns[-1].started_at != first[r] for r, s in app.sessions.items()),
        )
        for pane in app.panes:
            assert len(pane.query(UserTurn)) == 1 and len(app.sessions[pane.role].turns) == 1
            assert app.sessions[pane.role].turns[0].prompt == "What do you think of Mars?"
        # The saved conversation holds what the panes show: the new answers in the old one's place.
        await app.workers.wait_for_complete()  # the saves
        saved = HistoryStore().get(app.conversation_id)["turns"]
        assert [t["prompt"] for t in saved] == ["What do you think of Mars?"]
        assert {p["role"]: p["text"] for p in saved[0]["panes"]} == {
            r: s.turns[0].text for r, s in app.sessions.items()
        }
        await pilot.press("ctrl+l")
        await pilot.pause(0.2)
        for pane in app.panes:
            assert not pane.query(UserTurn) and not app.sessions[pane.role].turns


async def test_mode_key_changes_what_the_inspector_shows():
    app = DuetApp(configs(), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        assert app.active_pane.role == "chat"
        await pilot.press("f2")  # chat -> raw
        assert app.pane("chat").mode == "raw" and app.sessions["chat"].mode == "raw"
        await pilot.press("f2")  # raw -> inst
        assert app.pane("chat").mode == "inst"
        assert "mode inst" in str(app.pane("chat").query_one(".pane-header", Static).render())
        await type_and_send(pilot, DOG)
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, InspectorScreen), 10, "inspector open")
        screen = app.screen
        assert isinstance(screen, InspectorScreen)
        entries = {role: (heading, text) for role, heading, text, _ in screen.entries}
        assert entries["chat"][1] == f"[INST]{DOG}[/INST]" and "mode inst" in entries["chat"][0]
        assert entries["base"][1] == DOG and "tokens" in entries["base"][0]
        await pilot.press("escape")
        await pilot.press("ctrl+w", "f2")  # the other pane becomes active: base raw -> inst
        assert app.pane("base").mode == "inst"


async def test_presets_fire_from_alt_digit_keys():
    app = DuetApp(configs(), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("alt+2")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        assert app.sessions["base"].turns[0].prompt == app.presets[1].text
        assert app.query_one(PromptInput).text == ""
        inst_preset = next(i for i, p in enumerate(app.presets, 1) if p.chat_mode == "inst")
        await pilot.press(f"alt+{inst_preset}")
        chat = app.sessions["chat"]
        await wait_until(
            pilot, lambda: idle(app) and chat.turns and chat.turns[-1].prompt == app.presets[inst_preset - 1].text
        )
        assert app.sessions["chat"].turns[-1].rendered.text.startswith("[INST]")


async def test_broken_presets_file_is_reported_and_builtins_still_work(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "presets.toml").write_text('[[preset]]\nname = "x"\ntext = \n')
    app = DuetApp(configs(), SamplingSettings(max_tokens=4))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        messages = [n.message for n in app._notifications]
        assert any("presets.toml" in m and "line 3" in m for m in messages), messages
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        assert app.sessions["chat"].turns[0].prompt == app.presets[0].text


async def test_a_failed_model_leaves_the_other_pane_working(tmp_path):
    missing = str(tmp_path / "missing.gguf")
    app = DuetApp(configs(base=missing), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        base = app.pane("base")
        assert base.load_error and "does not exist" in status(base)
        await type_and_send(pilot, "Hello")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        assert app.sessions["chat"].turns[0].text
        notes = [str(n.render()) for n in base.query(TurnNote)]
        assert any("does not exist" in n for n in notes)


INJECTION = "[bold red]x[/] [@click=app.quit]click[/] \x1b[2J\x1b]0;pwned\x07 done"


async def test_markup_and_escapes_are_shown_literally():
    app = DuetApp(
        configs(),
        SamplingSettings(max_tokens=4),
        session_factory=scripted_sessions({"base": INJECTION, "chat": INJECTION}),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "say [bold]this[/bold] \x1b[31mred")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        await pilot.pause(0.2)
        assert app.is_running  # [@click=app.quit] did not quit
        for pane in app.panes:
            user = str(pane.query_one(UserTurn).render())
            assert "[bold]this[/bold]" in user and "\x1b" not in user and "␛[31mred" in user
            answer = pane.query_one(AnswerTurn)
            assert "\x1b" not in answer.text and "␛[2J" in answer.text
            rendered = " ".join(str(block.render()) if hasattr(block, "render") else "" for block in answer.query("*"))
            assert "[bold red]x[/]" in rendered and "[@click=app.quit]" in rendered
            assert "\x1b" not in rendered


async def regenerate(pilot, app) -> None:
    """Ctrl+R, then wait until a new chat answer has finished and been saved."""
    started = time.time()
    await pilot.press("ctrl+r")
    chat = app.sessions["chat"]
    await wait_until(pilot, lambda: idle(app) and chat.turns[-1].finished_at and chat.turns[-1].started_at > started)
    await app.workers.wait_for_complete()


async def test_turns_are_saved_and_a_conversation_reopens():
    from models.store.history import HistoryStore

    app = DuetApp(configs(), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "My name is Ada.")
        await wait_until(pilot, lambda: idle(app) and app.conversation_id is not None)
        await wait_until(pilot, lambda: HistoryStore().get(app.conversation_id)["turns"])
        conversation_id = app.conversation_id
        answers = {r: s.turns[0].text for r, s in app.sessions.items()}
    stored = HistoryStore().get(conversation_id)
    assert [t["prompt"] for t in stored["turns"]] == ["My name is Ada."]
    assert {p["role"]: p["text"] for p in stored["turns"][0]["panes"]} == answers

    again = DuetApp(configs(), SamplingSettings(max_tokens=8), resume=conversation_id)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(again) and again.conversation_id == conversation_id)
        for pane in again.panes:
            assert [str(w.render()) for w in pane.query(UserTurn)] == ["› My name is Ada."]
            assert pane.query_one(AnswerTurn).text == answers[pane.role]
        preview = again.sessions["chat"].render_preview("What is my name?").result(30)
        assert preview.context_used == 1 and "My name is Ada." in preview.text
        await type_and_send(pilot, "What is my name?")
        await wait_until(pilot, lambda: idle(again) and len(HistoryStore().get(conversation_id)["turns"]) == 2)
        await regenerate(pilot, again)  # answers the last prompt again, in its place
        assert [t["prompt"] for t in HistoryStore().get(conversation_id)["turns"]] == [
            "My name is Ada.",
            "What is my name?",
        ]

    reopened = DuetApp(configs(), SamplingSettings(max_tokens=8), resume=conversation_id)
    async with reopened.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(reopened) and reopened.conversation_id == conversation_id)
        await regenerate(pilot, reopened)  # straight after reopening: the last saved prompt
        for pane in reopened.panes:
            assert [str(w.render()) for w in pane.query(UserTurn)] == ["› My name is Ada.", "› What is my name?"]
    assert [t["prompt"] for t in HistoryStore().get(conversation_id)["turns"]] == [
        "My name is Ada.",
        "What is my name?",
    ]


async def test_settings_screen_keymap_and_copy(isolated_config):
    from textual.widgets import Input

    from tui.screens.settings import SettingsScreen

    isolated_config.mkdir(parents=True, exist_ok=True)
    (isolated_config / "config.toml").write_text('[keymap]\ncycle_mode = "ctrl+b"\n')
    answers = {"base": "base answer", "chat": "chat answer"}
    app = DuetApp(configs(), SamplingSettings(), session_factory=scripted_sessions(answers))
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("ctrl+b")  # remapped from f2
        assert app.pane("chat").mode == "raw"
        await pilot.press("f5")
        assert isinstance(app.screen, SettingsScreen)
        temperature = app.screen.query_one("#field-temperature", Input)
        temperature.value = "-3"
        temperature.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, SettingsScreen)  # refused, with a message
        assert "temperature" in str(app.screen.query_one("#settings-error", Static).render())
        temperature.value = "0.5"
        app.screen.query_one("#field-max_tokens", Input).value = "99"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, SettingsScreen)
        for session in app.sessions.values():
            assert session.sampling.temperature == 0.5 and session.sampling.max_tokens == 99
        await type_and_send(pilot, "hi")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        await pilot.press("ctrl+y")
        assert copied == ["chat answer"]


async def test_long_answers_freeze_finished_paragraphs():
    """Past a few thousand characters, whole paragraphs move into one widget so appends stay cheap."""

    from models.events import Finished, Metrics, TextDelta
    from tui.widgets.turns import FrozenAnswer

    paragraph = "Some words in a paragraph that goes on for a while. " * 3 + "\n\n"
    text = paragraph * 80 + "```\ncode block\n```\n\nthe end"
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(ChatPane)
        generation = await pane.begin_turn("long please")
        for i in range(0, len(text), 37):
            await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, TextDelta(text[i : i + 37])))
        answer = pane.query_one(AnswerTurn)
        assert answer.frozen and len(pane.query(FrozenAnswer)) == len(answer.frozen)
        assert len(answer._live) < AnswerTurn.FREEZE_CHARS + len(paragraph) + 40
        await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, Finished(text, Metrics())))
        await pilot.pause()
        assert answer.text == text
        assert "".join(f.source for f in answer.frozen) + answer._live == text
        assert all(f.size.height > 0 for f in answer.frozen)
        await pane.remove_last_turn()
        await pilot.pause()
        assert not pane.query(FrozenAnswer) and not pane.query(AnswerTurn)


async def test_a_fast_stream_reaches_the_screen_in_batches(monkeypatch):
    """Hundreds of deltas arrive as a few frames' worth of updates, and none of the text is lost."""
    from tui.widgets import pane as pane_module

    handled = []
    original = pane_module.ChatPane.on_inbox_ready

    async def counting(self, message):
        handled.append(self.role)
        await original(self, message)

    monkeypatch.setattr(pane_module.ChatPane, "on_inbox_ready", counting)
    words = " ".join(f"w{i}" for i in range(600)) + "\n\n**the end**"  # under FREEZE_CHARS
    answers = {"base": words, "chat": words}
    app = DuetApp(configs(), SamplingSettings(), session_factory=scripted_sessions(answers, delay=0.0005))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await type_and_send(pilot, "go")
        await wait_until(pilot, lambda: idle(app) and all(s.turns for s in app.sessions.values()))
        deltas = -(-len(words) // 4)  # the scripted engine sends 4 characters at a time
        for pane in app.panes:
            answer = pane.query_one(AnswerTurn)
            assert answer.text == words and answer.source == words
            assert handled.count(pane.role) < deltas / 5, "text deltas were not batched"
        assert "the end" in str(pane.query("MarkdownParagraph").last().render())


class PaneApp(App):
    """One chat pane alone, fed model events by the test (its session is never loaded)."""

    def compose(self):
        yield ChatPane(unloaded_session())


async def test_a_growing_paragraph_keeps_its_height_right():
    """Lines added to the live paragraph (which skips layouts while its height holds) still show."""
    app = PaneApp()
    async with app.run_test(size=(60, 30)) as pilot:
        pane = app.query_one(ChatPane)
        generation = await pane.begin_turn("p")
        text = ""
        for i in range(60):
            piece = f"w{i} "
            text += piece
            await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, TextDelta(piece)))
            await pilot.pause()
        paragraph = pane.query("MarkdownParagraph").last()
        lines = paragraph.content_region.height
        assert lines >= 4  # 60 words at this width wrap over several lines
        assert paragraph._content.get_height(paragraph.styles, paragraph.content_region.width) == lines
        await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, Finished(text, Metrics())))


async def test_the_log_follows_a_streaming_answer_unless_the_reader_scrolled_up():
    app = PaneApp()
    async with app.run_test(size=(60, 16)) as pilot:
        pane = app.query_one(ChatPane)
        log = pane.conversation

        streamed = []

        async def stream(generation, paragraphs):
            for i in range(paragraphs):
                for word in f"paragraph {i} has a few words that wrap over lines here".split() + ["\n\n"]:
                    streamed.append(word + " ")
                    await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, TextDelta(streamed[-1])))
                await pilot.pause()

        generation = await pane.begin_turn("first")
        await stream(generation, 6)
        assert log.max_scroll_y > 0 and log.is_vertical_scroll_end

        log.scroll_home(animate=False)  # what the mouse wheel or page-up does
        await pilot.pause()
        await stream(generation, 4)
        assert log.scroll_y == 0, "a reader who scrolled up was pulled down"

        log.scroll_to(y=log.max_scroll_y, animate=False)  # back at the bottom (a wheel does this): following again
        await pilot.pause()
        await stream(generation, 3)
        await pane.on_chat_pane_model_event(ChatPane.ModelEvent(generation, Finished("".join(streamed), Metrics())))
        await pilot.pause()
        assert log.is_vertical_scroll_end

        log.scroll_home(animate=False)
        await pilot.pause()
        generation = await pane.begin_turn("second")  # a new message always shows its answer
        await stream(generation, 3)
        assert log.is_vertical_scroll_end


async def test_history_screen_enter_reopens_the_newest_and_delete_keeps_a_selection():
    from textual.widgets import OptionList

    from models.store.history import HistoryStore
    from tui.screens.history import HistoryScreen

    store = HistoryStore()

    def record(role, text):
        return {
            "role": role,
            "model": role,
            "mode": "raw",
            "prompt": text,
            "text": text,
            "error": None,
            "metrics": {"ttft_s": 0.1, "tokens": 1, "tokens_per_s": 10.0, "stop_reason": "eos"},
        }

    ids = []
    for title in ("older", "middle", "newest"):
        ids.append(
            store.start_conversation(
                [{"role": "base", "model": "b", "mode": "raw"}, {"role": "chat", "model": "c", "mode": "chat"}]
            )
        )
        store.add_turn(ids[-1], title, [record("base", f"base {title}"), record("chat", f"chat {title}")])
    store.close()
    app = DuetApp(configs(), SamplingSettings(), session_factory=scripted_sessions({"base": "b", "chat": "c"}))
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        options = app.screen.query_one(OptionList)
        assert options.highlighted == 0 and options.option_count == 3
        await pilot.press("down", "d", "d")  # delete "middle" (d asks, d again deletes): "older" is selected
        assert options.option_count == 2 and options.get_option_at_index(options.highlighted).id == str(ids[0])
        await pilot.press("up", "enter")  # the newest
        await wait_until(pilot, lambda: app.conversation_id == ids[2])
        assert not isinstance(app.screen, HistoryScreen)
        assert [str(w.render()) for w in app.pane("chat").query(UserTurn)] == ["› newest"]
        assert app.pane("chat").query_one(AnswerTurn).text == "chat newest"
