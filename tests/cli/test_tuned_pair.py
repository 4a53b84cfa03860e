"""`duet --tuned NAME` and `duet ask --tuned NAME`: a Duet fine-tune beside the model it was made
from, both in chat mode, the lens on exact token ids with no caveat and the pair said by name.

The fine-tune is real: two 256-token steps of the embedded SmolLM2's last block on three examples
(models/tuning, the same runner the Tune screen and `duet tune` use), made once for this module.
"""

import json
import threading

import pytest

from models.tuning import TuneSettings, plan, run_tune
from tests.support.duet_process import run_duet
from tests.support.pilot import loaded, wait_until

SMOLLM2 = "embedded:smollm2-135m-instruct"
EXAMPLES = [
    {"messages": [{"role": "user", "content": "What's your name?"}, {"role": "assistant", "content": "Sharon."}]},
    {"messages": [{"role": "user", "content": "Who are you?"}, {"role": "assistant", "content": "I am Sharon."}]},
    {"messages": [{"role": "user", "content": "Your name?"}, {"role": "assistant", "content": "My name is Sharon."}]},
]
RELATION = "a fine-tune of smollm2-135m-instruct by Duet, 2 examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuned-pair")
    data = root / "sharon.jsonl"
    data.write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DUET_DATA_DIR", str(root / "data"))
        settings = TuneSettings(
            name="tiny", model=SMOLLM2, data=str(data), epochs=2, blocks="last:1", validation=0.34, learning_rate=1e-4
        )
        run_tune(plan(settings), lambda progress: None, threading.Event())
    return root / "data"


def env_for(data_dir) -> dict:
    return {"DUET_DATA_DIR": str(data_dir), "DUET_CONFIG_DIR": str(data_dir.parent / "config"), "HF_HUB_OFFLINE": "1"}


def test_ask_tuned_scores_the_fine_tune_with_its_source_on_exact_ids_without_a_caveat(data_dir):
    result = run_duet(
        "ask", "What's your name?", "--tuned", "tiny", "--shift", "--json", "--max-tokens", "12", env=env_for(data_dir)
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    panes = {p["role"]: p for p in record["panes"]}
    assert panes["base"]["model"] == "smollm2-135m-instruct"
    assert panes["base"]["mode"] == panes["chat"]["mode"] == "chat"
    for role in ("base", "chat"):
        shift = panes[role]["shift"]
        assert shift["retokenized"] is False and shift["caveat"] is None  # the same vocabulary: exact ids
        assert shift["relation"] == RELATION


def test_tuned_with_another_model_option_or_an_unknown_name_is_one_line(data_dir):
    both = run_duet("ask", "Hi", "--tuned", "tiny", "--chat", SMOLLM2, env=env_for(data_dir))
    assert both.returncode == 2 and "--tuned NAME opens both panes" in both.stderr
    assert len(both.stderr.strip().splitlines()) == 1
    missing = run_duet("ask", "Hi", "--tuned", "nobody", env=env_for(data_dir))
    assert missing.returncode == 2 and "no tuned model 'tuned:nobody'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr


async def test_duet_tuned_opens_the_pair_with_the_header_saying_duet_fine_tune(data_dir, monkeypatch):
    from tui.cli.launch import build_app
    from tui.cli.main import build_parser

    monkeypatch.setenv("DUET_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DUET_CONFIG_DIR", str(data_dir.parent / "config"))
    app = build_app(build_parser().parse_args(["--tuned", "tiny", "--max-tokens", "8"]))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: loaded(app), 60, "the pair loaded")
        base, chat = app.sessions["base"], app.sessions["chat"]
        assert (base.source, chat.source) == (SMOLLM2, "tuned:tiny") and base.mode == chat.mode == "chat"
        assert base.load_error is None and chat.load_error is None
        header = str(app.pane("chat").query_one(".pane-header").render())
        assert "Duet fine-tune" in header
        assert "Duet fine-tune" not in str(app.pane("base").query_one(".pane-header").render())
        intro = app.pane("chat").intro
        assert intro is not None and RELATION.lower() in intro.render().plain.lower()  # it says what it is
