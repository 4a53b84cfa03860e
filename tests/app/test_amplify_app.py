"""The amplified pane in the app: the header says the factor and the base (and warns above ×4),
ctrl+o / ctrl+n step a live, the palette adds the pane, and the lens of an amplified answer shows
what it pushed. The real embedded SmolLM2 in every pane, the chat pane with an adapter made here."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from models.amplify.panes import AMPLIFIED_ROLE, with_amplified_pane
from models.amplify.steps import STEPS
from models.pair import PaneConfig
from models.settings import AdapterSpec, ModelSpec, SamplingSettings
from tests.support.lora_gguf import write_lora
from tests.support.pilot import loaded, wait_until
from tui.app import DuetApp
from tui.widgets.amplify_strip import AmplifyStrip
from tui.widgets.lens import LensView

SMOLLM2 = "embedded:smollm2-135m-instruct"


@pytest.fixture(scope="module")
def adapter(tmp_path_factory) -> AdapterSpec:
    return AdapterSpec(source=str(write_lora(tmp_path_factory.mktemp("lora") / "my-style.gguf")))


def configs(adapter: AdapterSpec) -> list[PaneConfig]:
    return [
        PaneConfig("base", ModelSpec(source=SMOLLM2), "chat"),
        PaneConfig("chat", ModelSpec(source=SMOLLM2, adapters=(adapter,)), "chat"),
    ]


def header(app: DuetApp, role: str) -> str:
    return str(app.pane(role).query_one(".pane-header", Static).render())


def messages(app: DuetApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_keys_step_a_through_the_steps_and_the_header_follows(adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    app = DuetApp(with_amplified_pane(configs(adapter), 1.0), SamplingSettings(max_tokens=8))
    async with app.run_test(size=(330, 40)) as pilot:  # three panes with room for the whole header
        await wait_until(pilot, lambda: loaded(app), what="every model")
        session = app.sessions[AMPLIFIED_ROLE]
        assert session.load_error is None, session.load_error
        assert "amplified ×1 over smollm2-135m-instruct" in header(app, AMPLIFIED_ROLE)
        assert "amplified" not in header(app, "chat")
        seen = []
        for _ in range(4):  # 1 -> 2 -> 4 -> 8, then it stays
            await pilot.press("ctrl+o")
            before = len(seen)
            await wait_until(pilot, lambda: session.spec.amplify.factor not in (seen[-1:] or [1.0]), 10, "a step up")
            seen.append(session.spec.amplify.factor)
            assert len(seen) == before + 1
            if seen[-1] == 8.0:
                break
        assert seen == [2.0, 4.0, 8.0]
        await wait_until(pilot, lambda: "⚠ text may break down" in header(app, AMPLIFIED_ROLE), 10, "the warning")
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: any("at ×8 already" in m for m in messages(app)), 10, "the top")
        for _ in STEPS[1:]:  # down to -1 in one burst: the presses add up
            await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: session.spec.amplify.factor == -1.0, 20, "a = -1")
        await wait_until(pilot, lambda: "amplified ×-1 over" in header(app, AMPLIFIED_ROLE), 10, "header at -1")
        assert "break down" not in header(app, AMPLIFIED_ROLE)
        assert any("the base model itself" in m for m in messages(app))
        # at a = -1 the amplified pane answers as the base pane, token for token
        await app.send("What do you think of Mars?")
        await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 90, "answers")
        base, amplified = app.sessions["base"].turns[-1], session.turns[-1]
        assert base.token_ids and amplified.token_ids == base.token_ids
        assert amplified.amplify is not None and amplified.amplify.factor == -1.0


async def test_the_palette_adds_the_pane_and_its_lens_shows_what_it_pushed(adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    app = DuetApp(configs(adapter), SamplingSettings(max_tokens=10))
    async with app.run_test(size=(200, 50)) as pilot:
        await wait_until(pilot, lambda: loaded(app), what="both models")
        await pilot.press("ctrl+o")  # no amplified pane yet
        await wait_until(pilot, lambda: any("There is no amplified pane" in m for m in messages(app)), 10, "refusal")
        assert await app.open_amplified_pane()
        await wait_until(pilot, lambda: loaded(app), what="the amplified pane")
        assert [p.role for p in app.panes] == ["base", "chat", AMPLIFIED_ROLE]
        assert app.sessions[AMPLIFIED_ROLE].load_error is None
        await pilot.press("ctrl+o")  # 1 -> 2
        await wait_until(pilot, lambda: app.sessions[AMPLIFIED_ROLE].spec.amplify.factor == 2.0, 10, "a = 2")
        await app.send("Name a planet.")
        await wait_until(pilot, lambda: not app.busy and all(s.turns for s in app.sessions.values()), 90, "answers")
        app.active_index = [p.role for p in app.panes].index(AMPLIFIED_ROLE)
        await pilot.press("f8")  # scored by the base pane's model; the strip comes under it
        pane = app.pane(AMPLIFIED_ROLE)
        await wait_until(pilot, lambda: pane.conversation.query(AmplifyStrip), 60, "the strip")
        strip = pane.conversation.query_one(AmplifyStrip)
        trace = app.sessions[AMPLIFIED_ROLE].turns[-1].amplified
        assert strip.trace is trace and trace.factor == 2.0
        shown = str(strip.render())
        assert "KL(tuned ‖ base)" in shown and "raises most" in shown
        assert isinstance(pane.lens, LensView)
        await pilot.press("f8")  # closes the lens, and the strip with it
        await wait_until(pilot, lambda: not pane.conversation.query(AmplifyStrip), 10, "the strip gone")
