"""Issue 23: every pane shows exactly what its model wrote, to the end, and no key does what the
user did not ask. Pilot tests with the scripted engine behind the real sessions (known text),
and the real embedded models where the answer itself does not matter."""

import time

import pytest
from textual import events
from textual.widgets import Footer, Static

from models.pair import PaneConfig
from models.settings import ModelSpec, SamplingSettings
from tests.support.pilot import loaded, wait_until
from tests.support.scripted_engine import ScriptedEngine, scripted_sessions
from tui.app import DuetApp
from tui.widgets.answer import LivePlain
from tui.widgets.answer_markdown import LiveMarkdown
from tui.widgets.prompt_input import PromptInput
from tui.widgets.start_hint import StartHint
from tui.widgets.turns import AnswerTurn, UserTurn

BASE_TEXT = "I am a haiku\nabout the rain\n# not a heading\n* not a bullet\n1. not a list\n`not code`"
DIALOGUE = "Customer: I didn't get my item\nAgent: Which item was it?\nCustomer: the blanket"
LONG = "".join(f"line {i} of a long answer\n" for i in range(150)) + "THE LAST LINE"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "config"


def panes(chat_mode: str = "chat") -> list[PaneConfig]:
    return [
        PaneConfig("base", ModelSpec(source="base"), "raw"),
        PaneConfig("chat", ModelSpec(source="chat"), chat_mode),
    ]


def scripted_app(answers: dict[str, str], delay: float = 0.0, **kwargs) -> DuetApp:
    return DuetApp(panes(), SamplingSettings(), session_factory=scripted_sessions(answers, delay=delay), **kwargs)


def idle(app) -> bool:
    return not app.busy


def header(pane) -> str:
    return str(pane.query_one(".pane-header", Static).render())


def status(pane) -> str:
    return str(pane.query_one(".pane-status", Static).render())


async def send(pilot, text: str, turns: int) -> None:
    app = pilot.app
    pilot.app.query_one(PromptInput).text = text
    await pilot.press("enter")
    await wait_until(pilot, lambda: idle(app) and all(len(s.turns) == turns for s in app.sessions.values()), 60)


def at_end(pane) -> bool:
    log = pane.conversation
    return log.max_scroll_y > 0 and log.scroll_offset.y >= log.max_scroll_y


# -- 1. line breaks, verbatim raw text, the plain/Markdown key ------------------------------------
async def test_a_raw_pane_shows_every_line_verbatim_and_a_chat_pane_keeps_its_newlines():
    app = scripted_app({"base": BASE_TEXT, "chat": DIALOGUE})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await send(pilot, "go", 1)
        await pilot.pause(0.2)
        base = app.pane("base").query_one(LivePlain)
        assert base.render().plain == BASE_TEXT  # plain text: '#', '*', '1.' and backticks as written
        assert base.size.height == len(BASE_TEXT.splitlines())  # one row per line: nothing joined
        assert "plain" in header(app.pane("base")) and "md" in header(app.pane("chat"))
        paragraph = app.pane("chat").query("MarkdownParagraph").last()
        assert DIALOGUE in paragraph._content.plain  # Markdown, but every newline a line break
        assert paragraph.size.height == 3


async def test_the_view_key_toggles_the_active_pane_between_plain_and_markdown():
    app = scripted_app({"base": BASE_TEXT, "chat": DIALOGUE})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await send(pilot, "go", 1)
        await pilot.press("ctrl+w")  # the base pane is active
        assert app.active_pane.role == "base"
        await pilot.press("f9")
        await pilot.pause(0.2)
        base = app.pane("base")
        assert "md" in header(base) and base.query(LiveMarkdown) and not base.query(LivePlain)
        assert base.query("MarkdownH1")  # "# not a heading" is a heading in Markdown, as asked
        await send(pilot, "again", 2)  # new answers come in the pane's chosen view
        assert all(answer.view == "markdown" for answer in base.query(AnswerTurn))
        await pilot.press("f9")
        await pilot.pause(0.2)
        assert "plain" in header(base) and not base.query(LiveMarkdown)
        assert base.query(LivePlain).first().render().plain == BASE_TEXT
        assert isinstance(app.focused, PromptInput)


async def test_a_long_plain_answer_freezes_whole_lines_and_keeps_them_all():
    text = "".join(f"line {i}: " + "words " * 12 + "\n" for i in range(120)) + "end"
    app = scripted_app({"base": text, "chat": "ok"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await send(pilot, "go", 1)
        answer = app.pane("base").query_one(AnswerTurn)
        assert answer.frozen  # cheap appends: the live part stays small
        assert "".join(f.source for f in answer.frozen) + answer.source == text
        shown = [f.render().plain for f in answer.frozen] + [answer.query_one(LivePlain).render().plain]
        assert "\n".join(shown) == text  # the blocks meet at a newline: every line there once


# -- 2. follow to the end, and the keys that scroll -------------------------------------------------
async def test_every_answer_ends_with_its_last_line_on_screen_turn_after_turn():
    """The race that left about 5 turns in 15 scrolled at their first lines (tui/widgets/conversation.py)."""
    app = scripted_app({"base": LONG, "chat": LONG}, delay=0.002)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        for turn in range(1, 7):
            await send(pilot, f"go {turn}", turn)
            await pilot.pause(0.2)
            for pane in app.panes:
                assert at_end(pane), f"turn {turn}: the {pane.role} pane stopped following"
                last = pane.query(AnswerTurn).last()
                log = pane.conversation
                assert last.region.bottom <= log.region.bottom  # its last line is inside the pane


async def test_a_reader_who_scrolls_up_during_an_answer_stays_there_and_the_keys_scroll():
    app = scripted_app({"base": LONG, "chat": LONG}, delay=0.01)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        app.query_one(PromptInput).text = "go"
        await pilot.press("enter")
        chat = app.pane("chat")  # the active pane
        await wait_until(pilot, lambda: chat.conversation.max_scroll_y > 20, 30, "the answer overflows")
        await pilot.press("pageup")
        await pilot.pause(0.1)
        held = chat.conversation.scroll_y
        assert not chat.conversation.following
        await wait_until(pilot, lambda: idle(app), 60)
        assert chat.conversation.scroll_y == held, "a reader who scrolled up was pulled down"
        assert at_end(app.pane("base"))  # the other pane followed to its end
        await pilot.press("ctrl+home")
        await pilot.pause(0.1)
        assert chat.conversation.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert chat.conversation.scroll_y > 0
        await pilot.press("ctrl+end")
        await pilot.pause(0.2)
        assert at_end(chat) and chat.conversation.following
        assert isinstance(app.focused, PromptInput) and app.query_one(PromptInput).text == ""


# -- 3. nothing typed is a command; presets on alt+digit ---------------------------------------------
async def test_a_message_may_start_with_a_digit_and_alt_digit_fires_a_preset():
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press(*"2 + 2 = ?")
        assert app.query_one(PromptInput).text == "2 + 2 = ?"
        await pilot.press("enter")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        assert app.sessions["chat"].turns[0].prompt == "2 + 2 = ?" and app.last_preset is None
        await pilot.press("alt+2")
        await wait_until(pilot, lambda: app.last_preset is not None and idle(app))
        assert app.last_preset.name == "mars" and app.sessions["chat"].turns[-1].prompt == app.presets[1].text


async def test_footer_and_start_hint_fit_80_columns():
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: loaded(app))

        def shown_keys() -> dict:
            return {key.action: key for key in app.query_one(Footer).query("FooterKey") if key.region.width}

        # the key bar is rebuilt once the bindings have been quiet for 0.1 s (tui/widgets/footer.py)
        await wait_until(pilot, lambda: "help" in shown_keys(), 10, "the key bar")
        keys = shown_keys()
        assert 0 < keys["help"].region.right <= 80  # F1 always in view
        for action in ("copy_answer", "history", "models", "page(-1)", "presets"):
            assert action in keys
        hint = app.query_one(StartHint)
        assert hint.size.height <= 2  # the hint line and the family caveat: two of 24 rows
        text = hint.render().plain
        assert "alt+1…9" in text and "1 dog" in text and "F1" in text


async def test_the_key_bar_is_rebuilt_once_for_a_burst_of_bindings_changes():
    from tui.widgets.footer import KeyFooter

    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        footer = app.query_one(KeyFooter)
        await wait_until(pilot, lambda: footer.query("FooterKey"), 10, "the key bar")
        await pilot.pause(0.3)
        rebuilds = []
        recompose = footer.recompose

        async def counted() -> None:
            rebuilds.append(1)
            await recompose()

        footer.recompose = counted  # type: ignore[method-assign]
        built = footer.query("FooterKey").first()
        for _ in range(3):  # a burst of three signals (Textual's Footer rebuilt three times)
            app.screen.refresh_bindings()
            await pilot.pause(0.02)
        await pilot.pause(0.4)
        assert len(rebuilds) == 1
        keys = list(footer.query("FooterKey"))
        assert built not in keys and "help" in {key.action for key in keys}  # rebuilt from the bindings now


# -- 4. presets share nothing ---------------------------------------------------------------------
async def test_each_preset_starts_a_new_conversation_and_puts_back_what_it_changed():
    from models.store.history import HistoryStore

    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        chat = app.sessions["chat"]
        for number in (1, 2, 3):
            await pilot.press(f"alt+{number}")
            await wait_until(pilot, lambda: idle(app) and chat.turns and chat.turns[-1].prompt == app.last_prompt)
            assert [t.prompt for t in chat.turns] == [app.presets[number - 1].text]  # nothing of the one before
        await wait_until(pilot, lambda: len(HistoryStore().conversations()) == 3, 10, "three saved conversations")
        inst = next(i for i, p in enumerate(app.presets, 1) if p.chat_mode == "inst")
        await pilot.press(f"alt+{inst}")
        await wait_until(pilot, lambda: idle(app) and chat.turns and chat.turns[-1].mode == "inst")
        assert "inst (preset)" in header(app.pane("chat"))
        await pilot.press("alt+1")  # a preset that sets no mode: the pane's own comes back
        await wait_until(pilot, lambda: idle(app) and chat.turns and chat.turns[-1].prompt == app.presets[0].text)
        assert chat.turns[-1].mode == "chat" and "(preset)" not in header(app.pane("chat"))
        assert not chat.turns[-1].rendered.text.startswith("[INST]")
        await pilot.press(f"alt+{inst}")
        await wait_until(pilot, lambda: idle(app) and chat.turns and chat.turns[-1].mode == "inst")
        await send(pilot, "typed after a preset", 2)  # a typed message: the pane's own mode again
        assert chat.turns[-1].mode == "chat"


async def test_presets_can_keep_the_conversation_when_the_user_says_so(isolated_config):
    isolated_config.mkdir(parents=True)
    (isolated_config / "config.toml").write_text("presets_new_conversation = false\n")
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        for number in (1, 2):
            await pilot.press(f"alt+{number}")
            await wait_until(pilot, lambda n=number: idle(app) and len(app.sessions["chat"].turns) == n)
        assert [t.prompt for t in app.sessions["chat"].turns] == [app.presets[0].text, app.presets[1].text]
        await pilot.press("f5")  # and F5 turns it back on for this session
        from textual.widgets import Checkbox

        box = app.screen.query_one("#presets-fresh", Checkbox)
        assert box.value is False
        box.value = True
        app.screen.query_one("#field-seed").focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.presets_new_conversation


async def test_a_user_mode_change_is_not_undone_by_the_next_preset():
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        inst = next(i for i, p in enumerate(app.presets, 1) if p.chat_mode == "inst")
        await pilot.press(f"alt+{inst}")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns)
        await pilot.press("f2")  # the user's own mode for the chat pane: inst -> aligned
        mode = app.sessions["chat"].mode
        assert mode != "inst" and "(preset)" not in header(app.pane("chat"))
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: idle(app) and app.sessions["chat"].turns[-1].prompt == app.presets[0].text)
        assert app.sessions["chat"].mode == mode


# -- 5. focus back in the prompt box ------------------------------------------------------------
@pytest.mark.parametrize("keys", [("f1", "escape"), ("f3", "escape"), ("f5", "escape"), ("f6", "escape")])
async def test_the_prompt_box_has_the_focus_after_every_screen(keys):
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app) and app.history is not None)  # F6 needs the history open
        await pilot.press(keys[0])
        await wait_until(pilot, lambda: len(app.screen_stack) > 1, 10, f"{keys[0]} opened a screen")
        await pilot.press(keys[1])
        await wait_until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.pause(0.1)
        await pilot.press(*"typed")
        assert app.query_one(PromptInput).text == "typed"


async def test_focus_returns_after_the_model_screen_and_a_palette_command():
    from tui.screens.models import ModelsScreen

    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen))
        app.screen.dismiss(("chat", "chat"))  # what Enter on a model does
        await wait_until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.pause(0.2)
        await pilot.press(*"abc")
        assert app.query_one(PromptInput).text == "abc"
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Mode")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.pause(0.2)
        await pilot.press(*"d")
        assert app.query_one(PromptInput).text == "abcd"


async def test_text_typed_while_no_widget_has_the_focus_goes_into_the_prompt_box():
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        app.set_focus(None)  # as before the first paint, or after a click on a pane
        await pilot.press(*"hello")
        assert app.query_one(PromptInput).text == "hello" and isinstance(app.focused, PromptInput)


# -- 6. an Enter right after fast input sends ------------------------------------------------------
async def test_an_enter_right_behind_fast_one_line_input_sends_and_a_pasted_newline_does_not():
    app = scripted_app({"base": "b", "chat": "c"})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        box = app.query_one(PromptInput)

        def burst(text: str) -> None:  # keys microseconds apart, as tmux send-keys delivers them
            for char in text:
                app.post_message(events.Key("enter" if char == "\n" else char, "\r" if char == "\n" else char))

        burst("typed by a tool, then Enter\n")
        await wait_until(pilot, lambda: app.sessions["chat"].turns, 10, "the message was sent")
        assert app.sessions["chat"].turns[0].prompt == "typed by a tool, then Enter"
        await wait_until(pilot, lambda: idle(app) and box.text == "")
        burst("first line of a paste\nsecond line\n")
        await pilot.pause(0.6)
        assert box.text == "first line of a paste\nsecond line\n" and len(app.sessions["chat"].turns) == 1


# -- 9. resume ----------------------------------------------------------------------------------
class SlowLoad(ScriptedEngine):
    """Loads after the reopened turns are on screen, as a real model does."""

    def load(self):
        time.sleep(1.0)
        return super().load()


async def test_resume_restores_metrics_and_mode_and_opens_at_the_latest_turn():
    from models.session import PaneSession

    app = scripted_app({"base": LONG, "chat": LONG})
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await send(pilot, "first", 1)
        await pilot.press("f2")  # the chat pane's mode: chat -> raw
        mode = app.sessions["chat"].mode
        await send(pilot, "second", 2)
        await wait_until(pilot, lambda: app.conversation_id is not None)
        conversation = app.conversation_id
        await app.workers.wait_for_complete()

    def slow(role, spec, mode, sampling):
        return PaneSession(role, spec, mode, sampling, engine_factory=lambda s: SlowLoad(s, LONG))

    again = DuetApp(panes(), SamplingSettings(), session_factory=slow, resume=conversation)
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: loaded(again) and again.conversation_id == conversation, 30)
        await pilot.pause(0.3)
        for pane in again.panes:
            assert status(pane).startswith("■ TTFT"), f"{pane.role}: {status(pane)}"  # not "ready · CPU"
            latest = pane.query(UserTurn).last()
            assert latest.region.y >= pane.conversation.region.y  # the latest prompt on screen, not the top
            assert pane.conversation.scroll_y > 0
        assert again.sessions["chat"].mode == mode and f"mode {mode}" in header(again.pane("chat"))


# -- 10. copy -----------------------------------------------------------------------------------
class Numbered(ScriptedEngine):
    """Answers "answer 1", "answer 2", ...: which answer was copied shows."""

    count = 0

    def stream(self, prompt, sampling, cancel, lease=None):
        self.count += 1
        self.answer = f"answer {self.count}"
        yield from super().stream(prompt, sampling, cancel, lease)


async def test_copy_says_what_it_did_and_any_answer_can_be_selected(monkeypatch):
    from models.session import PaneSession

    monkeypatch.setenv("TMUX", "/tmp/tmux-test,1,0")

    def numbered(role, spec, mode, sampling):
        return PaneSession(role, spec, mode, sampling, engine_factory=lambda s: Numbered(s, ""))

    app = DuetApp(panes(), SamplingSettings(), session_factory=numbered)
    copied: list[str] = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app))
        await send(pilot, "one", 1)
        await send(pilot, "two", 2)
        await pilot.press("ctrl+y")
        messages = [n.message for n in app._notifications]
        assert any("OSC 52" in m and "does not confirm" in m for m in messages)
        assert any("set-clipboard on" in m for m in messages)  # the tmux hint
        await pilot.press("alt+up", "alt+up")  # back to the first answer
        selected = app.pane("chat").selected
        assert selected is app.pane("chat").answers[0] and selected.has_class("-selected")
        await pilot.press("ctrl+y")
        await pilot.press("alt+down", "alt+down")  # past the last: the last answer again
        assert app.pane("chat").selected is None
        await pilot.press("ctrl+y")
        assert copied == ["answer 2", "answer 1", "answer 2"]
        assert sum("set-clipboard on" in n.message for n in app._notifications) == 1  # once


async def test_a_presets_answers_do_not_depend_on_the_presets_before_it():
    """The real pair, greedy: preset 3 after presets 2 and 6 answers as preset 3 alone does (no shared
    history, no inst mode left behind), so the README's reference answers come back without ctrl+l."""
    real = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source="embedded:smollm2-135m-instruct"), "chat"),
    ]

    async def answers_after(*numbers: int) -> dict[str, str]:
        app = DuetApp(real, SamplingSettings(max_tokens=16))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: loaded(app), 120)
            for number in numbers:
                await pilot.press(f"alt+{number}")
                expected = app.presets[number - 1].text

                def done(expected=expected):
                    return idle(app) and all(s.turns and s.turns[-1].prompt == expected for s in app.sessions.values())

                await wait_until(pilot, done, 120, f"preset {number} answered")
            return {role: session.turns[-1].text for role, session in app.sessions.items()}

    alone = await answers_after(3)
    assert await answers_after(2, 6, 3) == alone
