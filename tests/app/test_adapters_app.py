"""LoRA adapters in the app: the header shows them, ctrl+t / ctrl+g fade them live, F1 lists the
keys, the model screen sets them (and suggests the first pull), a preset sets them; the real
embedded SmolLM2 in both panes, one with the tests' adapter (`lora_adapter`, tests/conftest.py)."""

from __future__ import annotations

import threading

from textual.widgets import Input, Static

from models.pair import PaneConfig
from models.presets import Preset
from models.settings import AdapterSpec, ModelSpec, SamplingSettings
from tests.support.panes import SMOLLM2
from tests.support.pilot import header, loaded, messages, wait_until
from tui.app import DuetApp
from tui.screens.help import HelpScreen
from tui.screens.models import ModelsScreen


def make_app(*chat_adapters: AdapterSpec) -> DuetApp:
    panes = [
        PaneConfig("base", ModelSpec(source=SMOLLM2), "chat"),
        PaneConfig("chat", ModelSpec(source=SMOLLM2, adapters=chat_adapters), "chat"),
    ]
    return DuetApp(panes, SamplingSettings(max_tokens=12))


async def test_ctrl_t_and_ctrl_g_change_the_scale_live_and_the_header_shows_it(lora_adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    app = make_app(AdapterSpec(source=lora_adapter, scale=0.5))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), what="both models")
        chat = app.sessions["chat"]
        llama = chat._engine._llama
        assert "+my-style ×0.5" in header(app, "chat") and "my-style" not in header(app, "base")
        await pilot.press("ctrl+t")  # the chat pane is active
        await wait_until(pilot, lambda: chat.spec.adapters[0].scale == 0.75, 10, "scale 0.75")
        await wait_until(pilot, lambda: "+my-style ×0.75" in header(app, "chat"), 10, "header at 0.75")
        assert any("applied in" in m and "the next answer uses it" in m for m in messages(app))
        gate = threading.Event()
        chat._executor.submit(gate.wait)  # the worker is busy (an answer, say): the presses add up meanwhile
        for _ in range(4):
            await pilot.press("ctrl+g")
        assert chat.spec.adapters[0].scale == 0.75
        gate.set()
        await wait_until(pilot, lambda: chat.spec.adapters[0].scale == 0.0, 10, "scale 0")
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: any("at 0 (the model's own answers) already" in m for m in messages(app)))
        assert chat._engine._llama is llama  # never reloaded
        await pilot.press("ctrl+w")  # the base pane has no adapter
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: any("The base pane has no LoRA adapter" in m for m in messages(app)))
        # at scale 0 both panes answer the same, token for token
        await app.send("What do you think of Mars?")
        await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 60, "answers")
        base_turn, chat_turn = app.sessions["base"].turns[-1], app.sessions["chat"].turns[-1]
        assert base_turn.token_ids and base_turn.token_ids == chat_turn.token_ids
        assert chat_turn.adapters == (AdapterSpec(source=lora_adapter, scale=0.0),)


async def test_f1_lists_the_adapter_keys():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "help screen")
        rows = {row[2]: row for row in app.screen.rows}
        assert rows["adapter_stronger"][0] == "ctrl+t" and "up to 1.5" in rows["adapter_stronger"][1]
        assert rows["adapter_weaker"][0] == "ctrl+g" and "exactly the model's own answers" in rows["adapter_weaker"][1]


async def test_the_model_screen_sets_a_panes_adapters_and_suggests_the_first_pair(lora_adapter, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # nothing downloaded
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), what="both models")
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), 5, "model screen")
        await pilot.pause(0.1)
        screen = app.screen
        message = str(screen.query_one("#models-message", Static).render())
        assert "pull smollm2-135m" in message
        assert screen._selected() is not None and screen._selected().name == "smollm2-135m/base"
        await pilot.press("a")
        field = screen.query_one("#adapters", Input)
        await wait_until(pilot, lambda: field.has_focus, 5, "adapter field")
        field.value = f"{lora_adapter}@0.25"
        await pilot.press("enter")
        chat = app.sessions["chat"]
        await wait_until(pilot, lambda: chat.spec.adapters == (AdapterSpec(source=lora_adapter, scale=0.25),), 30)
        await wait_until(pilot, lambda: "+my-style ×0.25" in header(app, "chat"), 10, "header")
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), 5, "model screen again")
        await pilot.press("a")
        field = app.screen.query_one("#adapters", Input)
        assert field.value == f"{lora_adapter}@0.25"  # starts from the pane's adapters
        field.value = "/nowhere/missing.gguf"
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("missing.gguf does not exist" in m for m in messages(app)), 30)
        assert chat.spec.adapters == (AdapterSpec(source=lora_adapter, scale=0.25),)  # kept


async def test_a_preset_sets_the_adapters_before_its_answer(lora_adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), what="both models")
        await app.fire_preset(Preset(name="faded", text="The capital of France is", chat_lora=[f"{lora_adapter}@1"]))
        chat = app.sessions["chat"]
        await wait_until(pilot, lambda: not app.busy and chat.turns, 60, "the preset's answer")
        assert chat.turns[-1].adapters == (AdapterSpec(source=lora_adapter, scale=1.0),)
        assert chat.turns[-1].token_ids != app.sessions["base"].turns[-1].token_ids


async def test_a_pane_whose_adapter_failed_loads_again_with_the_adapters_set_on_the_model_screen(chat_path):
    app = make_app(AdapterSpec(source=str(chat_path)))  # a model, not an adapter
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), what="both panes")
        chat = app.sessions["chat"]
        assert "is not a LoRA adapter" in (chat.load_error or "") and app.sessions["base"].ready
        assert "is not a LoRA adapter" in app.pane("chat").last_status[0]
        await pilot.press("f7")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelsScreen), 5, "model screen")
        await pilot.press("a")
        field = app.screen.query_one("#adapters", Input)
        await wait_until(pilot, lambda: field.has_focus, 5, "adapter field")
        field.value = ""
        await pilot.press("enter")
        await wait_until(pilot, lambda: chat.ready, 60, "the chat pane loaded without the adapter")
        assert chat.spec.adapters == () and chat.load_error is None
        await wait_until(pilot, lambda: app.pane("chat").last_status[0].startswith("ready"), 10, "ready status")
