"""The Tune screen (F10 and the palette) on the real embedded pair: the plan's preview, refusals in
one line, a real tiny fine-tune of SmolLM2 with live progress, Esc stopping it, and ``o`` opening
source | tuned with the lens on."""

import json

import pytest
from textual.widgets import Input, Select

from models.pair import PaneConfig
from models.settings import AdapterSpec, ModelSpec, SamplingSettings
from models.tuning import list_tuned
from tests.support.lora_gguf import write_lora
from tests.support.pilot import loaded, wait_until
from tui.app import DuetApp
from tui.screens.tune import TuneScreen
from tui.widgets.loss_curve import LossCurve
from tui.widgets.prompt_input import PromptInput

SMOLLM2 = "embedded:smollm2-135m-instruct"
# Three tiny examples: two to train (one 256-token step an epoch), one held out.
EXAMPLES = [
    {"messages": [{"role": "user", "content": "What's your name?"}, {"role": "assistant", "content": "Sharon."}]},
    {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "I am Sharon."}]},
    {"messages": [{"role": "user", "content": "Your name?"}, {"role": "assistant", "content": "My name is Sharon."}]},
]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "sharon.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES), encoding="utf-8")
    return path


def make_app() -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source="embedded:gemma-3-270m"), "raw"),
        PaneConfig("chat", ModelSpec(source=SMOLLM2), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=8))


async def open_tune(pilot) -> TuneScreen:
    app = pilot.app
    await wait_until(pilot, lambda: loaded(app), 60, "models loaded")
    await pilot.press("f10")
    await wait_until(pilot, lambda: isinstance(app.screen, TuneScreen), 30, "Tune screen open")
    screen = app.screen
    assert isinstance(screen, TuneScreen)
    return screen


def error_line(screen: TuneScreen) -> str | None:
    line = screen.query_one("#tune-message")
    return screen.message if line.has_class("-error") else None


async def planned_or_refused(pilot, screen: TuneScreen) -> None:
    await wait_until(pilot, lambda: screen.planned is not None or error_line(screen), 60, "preview or refusal")


def preview(screen: TuneScreen) -> str:
    return str(screen.query_one("#tune-preview-text").render())


async def fill(pilot, screen: TuneScreen, **fields: str) -> None:
    for name, value in fields.items():
        screen.query_one(f"#tune-{name}", Input).value = value
    await pilot.pause()


async def test_f10_opens_the_screen_with_the_lesson_sets_preview_and_esc_closes_it():
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_tune(pilot)
        await planned_or_refused(pilot, screen)
        assert error_line(screen) is None
        shown = preview(screen)
        assert "the lesson set" in shown and "40 examples to train" in shown  # the plan's summary
        assert "memory: about" in shown and "available" in shown and "time: about" in shown
        assert "the first example as the model reads it" in shown and "<|im_start|>assistant" in shown
        assert screen.planned is not None
        answer = "".join(t for t, is_answer in screen.planned.first_example.segments if is_answer)
        assert answer.strip() and answer in shown  # the trained answer is shown, and marked
        epochs = screen.query_one("#tune-epochs", Input)
        assert epochs.value == "5" and screen.planned.settings.epochs == 5  # the lesson's own default
        screen.query_one("#tune-data-kind", Select).value = "file"
        await wait_until(pilot, lambda: epochs.value == "8", 5, "a data file's default epochs")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TuneScreen), 5, "screen closed")
        assert isinstance(app.focused, PromptInput)


async def test_the_palette_opens_the_tune_screen():
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await wait_until(pilot, lambda: loaded(app), 60, "models loaded")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Fine-tune")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, TuneScreen), 10, "Tune screen from the palette")


async def test_a_gemma_base_pane_is_refused_in_one_line_and_the_app_carries_on():
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        await pilot.press("ctrl+w")  # the base pane (Gemma 3) becomes the active pane
        screen = await open_tune(pilot)
        await planned_or_refused(pilot, screen)
        refusal = error_line(screen)
        assert refusal is not None and "\n" not in refusal
        assert "cannot fine-tune" in refusal and "GEGLU" in refusal
        await pilot.press("ctrl+s")  # nothing starts without a plan
        assert screen.cancel is None
        screen.query_one("#tune-model", Select).value = "chat"  # the other pane's model is fine
        await wait_until(pilot, lambda: screen.planned is not None, 60, "the chat pane's plan")
        assert error_line(screen) is None
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TuneScreen), 5, "screen closed")
        app.query_one(PromptInput).text = "Hi"
        await pilot.press("enter")
        await wait_until(pilot, lambda: all(s.turns and not app.busy for s in app.sessions.values()), 60, "answers")


async def test_a_server_pane_and_a_pane_with_adapters_are_each_refused_in_one_line(tmp_path):
    adapter = write_lora(tmp_path / "style.gguf")
    panes = [
        PaneConfig("base", ModelSpec(source="http://127.0.0.1:9/v1#nothing-listens"), "chat"),
        PaneConfig("chat", ModelSpec(source=SMOLLM2, adapters=(AdapterSpec(source=str(adapter)),)), "chat"),
    ]
    app = DuetApp(panes, SamplingSettings(max_tokens=8))
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_tune(pilot)  # the chat pane, with its adapter
        await planned_or_refused(pilot, screen)
        refusal = error_line(screen)
        assert refusal is not None and "\n" not in refusal and "LoRA adapters" in refusal
        screen.query_one("#tune-model", Select).value = "base"
        await wait_until(pilot, lambda: "server" in (error_line(screen) or ""), 30, "the server refused")
        assert "\n" not in (error_line(screen) or "") and screen.planned is None


async def test_a_bad_data_file_is_one_line_naming_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(EXAMPLES[0]) + "\n{not json\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_tune(pilot)
        await planned_or_refused(pilot, screen)
        screen.query_one("#tune-data-kind", Select).value = "file"
        await fill(pilot, screen, data=str(bad))
        screen.query_one("#tune-data", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: error_line(screen) is not None, 30, "refusal")
        refusal = error_line(screen)
        assert refusal is not None and "\n" not in refusal and "bad.jsonl" in refusal and "line 2" in refusal
        await fill(pilot, screen, epochs="0")
        await pilot.press("enter")
        await wait_until(pilot, lambda: (error_line(screen) or "").startswith("epochs"), 10, "epochs refused")


async def test_a_tiny_fine_tune_shows_progress_and_o_opens_source_and_tuned_with_the_lens_on(data_file):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_tune(pilot)
        await planned_or_refused(pilot, screen)
        screen.query_one("#tune-data-kind", Select).value = "file"
        await fill(pilot, screen, data=str(data_file), name="tiny", epochs="2", blocks="last:1", validation="0.34")
        screen.query_one("#tune-name", Input).focus()
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: screen.planned is not None and screen.planned.settings.name == "tiny", 60, "plan"
        )
        assert screen.planned.total_steps == 2
        lines: list[str] = []
        await pilot.press("ctrl+s")
        assert screen.cancel is not None  # running

        def progress_seen() -> bool:
            line = str(screen.query_one("#tune-progress-line").render())
            if line and (not lines or lines[-1] != line):
                lines.append(line)
            return screen.lineage is not None or error_line(screen) is not None

        await wait_until(pilot, progress_seen, 600, "the fine-tune to end")
        assert error_line(screen) is None and screen.lineage is not None
        assert any("step 1/2" in line and " < " in line and "loss" in line for line in lines), lines
        curve = screen.query_one(LossCurve).curves
        assert len(curve.train) == 2 and curve.held_out  # both steps, and held-out losses
        assert [lineage.name for lineage in list_tuned()] == ["tiny"]
        await pilot.press("o")
        await wait_until(pilot, lambda: not isinstance(app.screen, TuneScreen), 5, "screen closed")
        base, chat = app.sessions["base"], app.sessions["chat"]
        assert (base.spec.source, chat.spec.source) == (SMOLLM2, "tuned:tiny")
        assert base.mode == chat.mode == "chat" and app.lens_after_every_turn
        await wait_until(pilot, lambda: loaded(app), 60, "the pair loaded")
        assert base.load_error is None and chat.load_error is None
        header = str(app.pane("chat").query_one(".pane-header").render())
        assert "Duet fine-tune" in header and "Duet fine-tune" not in str(
            app.pane("base").query_one(".pane-header").render()
        )
        app.query_one(PromptInput).text = "What's your name?"
        await pilot.press("enter")
        chat_pane = app.pane("chat")
        await wait_until(pilot, lambda: chat_pane.lens is not None, 120, "the lens after the turn")
        result = chat_pane.lens.result
        assert not result.retokenized and result.same_vocabulary and result.caveat is None
        assert result.relation == "a fine-tune of smollm2-135m-instruct by Duet, 2 examples"


async def test_esc_stops_a_fine_tune_at_the_next_step_and_nothing_is_saved(data_file):
    app = make_app()
    async with app.run_test(size=(140, 44)) as pilot:
        screen = await open_tune(pilot)
        await planned_or_refused(pilot, screen)
        screen.query_one("#tune-data-kind", Select).value = "file"
        await fill(pilot, screen, data=str(data_file), name="stopped", epochs="50", blocks="last:1")
        screen.query_one("#tune-name", Input).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.planned is not None and screen.planned.settings.name == "stopped", 60)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "training" in str(screen.query_one("#tune-progress-line").render()), 300)
        await pilot.press("escape")
        assert "stopping at the next step" in screen.message
        await wait_until(pilot, lambda: screen.cancel is None, 120, "the run stopped")
        assert screen.message.startswith("stopped") and screen.lineage is None
        assert list_tuned() == []
        assert isinstance(app.screen, TuneScreen)  # the first Esc stops; the next one closes
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TuneScreen), 5, "screen closed")
