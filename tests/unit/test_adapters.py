"""LoRA adapters without a model: ADAPTER[@SCALE], the live steps, adapter files checked from their
headers, the --ROLE-lora options, presets, and adapters in --json records and the history."""

from __future__ import annotations

import argparse

import pytest

from models.adapters import adapter_records, adapters_label, parse_adapter, stepped
from models.errors import DuetError
from models.files.adapters import base_model_warning, check_fits, read_adapter
from models.presets import load_presets
from models.session import PaneSession
from models.settings import AdapterSpec, ModelSpec
from models.store.history import HistoryStore
from models.store.schema import MIGRATIONS
from tests.support.history_records import old_database, pane
from tests.support.lora_gguf import write_lora
from tests.support.scripted_engine import ScriptedEngine
from tui.cli.main import build_parser
from tui.cli.options import UsageError, pane_configs
from tui.widgets.pane_header import ADAPTERS, MODEL, NEVER, PLACEMENT, Piece, fit


@pytest.mark.parametrize(
    "text, source, scale",
    [
        ("my-lora.gguf", "my-lora.gguf", 1.0),
        ("  ~/loras/my-lora.gguf@0.5 ", "~/loras/my-lora.gguf", 0.5),
        ("hf:me/loras/style.gguf", "hf:me/loras/style.gguf", 1.0),
        ("hf:me/loras/style.gguf@v2", "hf:me/loras/style.gguf@v2", 1.0),  # a revision, not a scale
        ("hf:me/loras/style.gguf@main@0.25", "hf:me/loras/style.gguf@main", 0.25),
        ("a@b.gguf@0", "a@b.gguf", 0.0),
    ],
)
def test_adapter_and_scale_as_written(text, source, scale):
    assert parse_adapter(text) == AdapterSpec(source=source, scale=scale)


@pytest.mark.parametrize(
    "text, expected",
    [("x.gguf@9", r"the scale 9 is outside 0 \(off\) to 4"), ("x.gguf@nan", "outside"), ("@0.5", "names no")],
)
def test_a_bad_adapter_argument_is_one_line(text, expected):
    with pytest.raises(DuetError, match=expected):
        parse_adapter(text)


def test_live_steps_stay_between_0_and_1_5():
    def scales(start, steps):
        return [a.scale for a in stepped([AdapterSpec(source="a", scale=s) for s in start], steps)]

    assert scales([0.0, 1.0], +1) == [0.25, 1.25]
    assert scales([1.5, 1.4], +1) == [1.5, 1.5]
    assert scales([0.1, 0.0], -1) == [0.0, 0.0]
    assert scales([2.0], +1) == [2.0] and scales([2.0], -1) == [1.75]  # from the command line: lowered from there


def test_labels_and_records():
    adapters = (AdapterSpec(source="/x/my-style.gguf", scale=0.75), AdapterSpec(source="hf:o/r/tone.gguf@dev"))
    assert adapters_label(adapters) == "+my-style ×0.75 +tone ×1"
    assert adapter_records(adapters) == [
        {"source": "/x/my-style.gguf", "scale": 0.75},
        {"source": "hf:o/r/tone.gguf@dev", "scale": 1.0},
    ]


# -- adapter files ---------------------------------------------------------------------------------
def test_an_adapter_file_is_read_from_its_header(tmp_path):
    path = write_lora(tmp_path / "a.gguf", alpha=32.0, base_model_name="SmolLM2 135M", targets=("attn_q",))
    adapter = read_adapter(str(path))
    assert adapter.architecture == "llama"
    assert (adapter.info.alpha, adapter.info.base_model, adapter.info.tensors) == (32.0, "SmolLM2 135M", 60)
    check_fits(adapter, "llama")
    with pytest.raises(DuetError, match=r"a.gguf is an adapter for llama models but this pane runs a gemma3 model"):
        check_fits(adapter, "gemma3")


def test_a_base_model_named_differently_warns_in_one_line(tmp_path):
    info = read_adapter(str(write_lora(tmp_path / "a.gguf", base_model_name="SmolLM2 135M"))).info
    assert base_model_warning(info, "smollm2-135m") is None  # the same name, spelled otherwise
    warning = base_model_warning(info, "Llama 3.2 1B")
    assert warning is not None and "trained on 'SmolLM2 135M'" in warning and "'Llama 3.2 1B'" in warning
    unnamed = read_adapter(str(write_lora(tmp_path / "b.gguf"))).info
    assert base_model_warning(unnamed, "anything") is None


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"general_type": "model"}, "is not a LoRA adapter (general.type is 'model')"),
        ({"adapter_type": "control_vector"}, "is a 'control_vector' adapter, not a LoRA"),
        ({"adapter_type": ""}, "is a 'unknown' adapter, not a LoRA"),
        ({"alora_invocation_tokens": [7, 8]}, "is an activated LoRA (aLoRA), which Duet does not support"),
    ],
)
def test_files_that_are_not_plain_lora_adapters_are_refused(tmp_path, changes, expected):
    path = write_lora(tmp_path / "bad.gguf", targets=("attn_q",), layers=[0], **changes)
    with pytest.raises(DuetError) as raised:
        read_adapter(str(path))
    assert expected in str(raised.value) and str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_missing_and_unpulled_adapters_say_how_to_get_them(tmp_path, monkeypatch):
    from huggingface_hub import constants

    with pytest.raises(DuetError, match=r"adapter file .*nope.gguf does not exist; give the path of a LoRA adapter"):
        read_adapter(str(tmp_path / "nope.gguf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(
        DuetError, match=r"^the adapter hf:o/r/l.gguf is not downloaded yet; run: duet models pull hf:o/r/l.gguf$"
    ):
        read_adapter("hf:o/r/l.gguf")


# -- the command line -----------------------------------------------------------------------------
def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_lora_options_on_every_model_command():
    for command in ([], ["ask", "hi"], ["run", "builtin", "--report", "r.md"], ["info"]):
        args = parse(*command, "--chat-lora", "a.gguf@0.5", "--chat-lora", "b.gguf", "--base-lora", "c.gguf")
        base, chat = pane_configs(args)[:2]
        assert base.spec.adapters == (AdapterSpec(source="c.gguf"),)
        assert chat.spec.adapters == (AdapterSpec(source="a.gguf", scale=0.5), AdapterSpec(source="b.gguf"))
    third = pane_configs(parse("ask", "hi", "--third", "embedded:smollm2-135m-instruct", "--third-lora", "t.gguf@0"))
    assert third[2].spec.adapters == (AdapterSpec(source="t.gguf", scale=0.0),)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--third-lora", "t.gguf"], "--third-lora needs a third pane; add --third SPEC"),
        (["--chat-lora", "a.gguf@7"], "adapter 'a.gguf@7': the scale 7 is outside"),
    ],
)
def test_bad_lora_options_are_usage_errors(argv, expected):
    with pytest.raises(UsageError, match=expected):
        pane_configs(parse("ask", "hi", *argv))


# -- presets ----------------------------------------------------------------------------------------
def test_a_preset_can_set_a_panes_adapters(tmp_path):
    path = tmp_path / "presets.toml"
    path.write_text(
        '[[preset]]\nname = "faded"\ntext = "hi"\nchat_lora = ["mine.gguf@0.25"]\n'
        '[[preset]]\nname = "plain"\ntext = "hi"\nchat_lora = []\nbase_lora = "b.gguf"\n'
        '[[preset]]\nname = "as is"\ntext = "hi"\n'
    )
    faded, plain, as_is = load_presets(path)
    assert faded.adapters_for("chat") == (AdapterSpec(source="mine.gguf", scale=0.25),)
    assert faded.adapters_for("base") is None and as_is.adapters_for("chat") is None
    assert plain.adapters_for("chat") == () and plain.adapters_for("base") == (AdapterSpec(source="b.gguf"),)
    path.write_text('[[preset]]\nname = "x"\ntext = "hi"\nchat_lora = ["mine.gguf@5"]\n')
    with pytest.raises(DuetError, match=r"line 4, preset 1 \('x'\), field 'chat_lora'.*the scale 5 is outside"):
        load_presets(path)


# -- records and the history ------------------------------------------------------------------------
def test_the_history_keeps_each_turns_adapters(data_dir):
    adapters = [{"source": "/x/mine.gguf", "scale": 0.5}]
    with HistoryStore() as store:
        cid = store.start_conversation([{"role": "chat", "model": "c", "mode": "chat", "adapters": adapters}])
        store.add_turn(cid, "hi", [pane("chat", "a", adapters=adapters), pane("base", "b", adapters=[])])
        chat, base = store.get(cid)["turns"][0]["panes"]
        assert chat["adapters"] == adapters and base["adapters"] == []
        listed = store.conversations()[0]["panes"]
        assert listed[0]["adapters"] == adapters and "adapters" not in listed[1]


def test_a_version_3_database_gains_adapters(data_dir):
    old_database(data_dir / "history.db", 3, "chat", "old-chat", "chat")
    with HistoryStore() as store:
        assert store.schema_version == len(MIGRATIONS) >= 4
        assert store.get(1)["turns"][0]["panes"][0]["adapters"] == []


def test_a_narrow_header_keeps_the_adapter_longer_than_the_placement():
    pieces = [
        Piece("CHAT", "bold", NEVER),
        Piece("smollm2-135m-instruct", "", MODEL, shrinkable=True),
        Piece(adapters_label([AdapterSpec(source="/x/my-style.gguf", scale=0.5)]), "bold", ADAPTERS),
        Piece("mode ", "dim", NEVER),
        Piece("chat", "bold", NEVER, lead=""),
        Piece("GPU 31/31 layers", "dim", PLACEMENT),
    ]
    wide, narrow = fit(pieces, 200).plain, fit(pieces, 48).plain
    assert "+my-style ×0.5" in wide and "GPU 31/31 layers" in wide
    assert "+my-style ×0.5" in narrow and "GPU" not in narrow and narrow.startswith("CHAT")


def test_an_engine_that_cannot_take_adapters_refuses_them_in_one_line():
    spec = ModelSpec(source="http://127.0.0.1:9/v1#m", adapters=(AdapterSpec(source="mine.gguf"),))
    session = PaneSession("third", spec, "chat", engine_factory=lambda s: ScriptedEngine(s, "hi"))
    try:
        with pytest.raises(
            DuetError, match=r"is a server: LoRA adapters go on a local GGUF model only; .*--third-lora"
        ):
            session.load().result(timeout=10)
        with pytest.raises(DuetError, match="only a local GGUF model takes them"):
            ScriptedEngine(spec, "hi").set_adapters(spec.adapters)
    finally:
        session.close()
