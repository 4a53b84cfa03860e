"""The model catalog, model specs and --pair: all offline, no model is loaded."""

import argparse

import pytest

from models.errors import DuetError
from models.files.catalog import (
    HubFile,
    kv_cache_bytes,
    load_catalog,
    load_catalog_file,
    pane_defaults,
    parse_hf_spec,
    targets_for,
)
from models.files.sources import resolve_source


def test_shipped_catalog_has_the_required_pairs():
    catalog = load_catalog()
    for name in ("embedded", "llama-2-7b", "llama-3.2-1b", "llama-3.2-3b", "smollm2-360m", "smollm2-1.7b"):
        pair = catalog.pair(name)
        assert pair.base.name == f"{name}/base" and pair.chat.name == f"{name}/chat"
        assert pair.base.architecture == pair.chat.architecture or name == "embedded"
        for model in pair.members:
            assert model.size > 0 and model.licence
            assert model.embedded or (model.repo and model.file.endswith(".gguf"))
    llama2 = catalog.pair("llama-2-7b")
    assert llama2.base.hub_file == HubFile("TheBloke/Llama-2-7B-GGUF", "llama-2-7b.Q4_K_M.gguf")
    assert llama2.chat.hub_file == HubFile("TheBloke/Llama-2-7B-Chat-GGUF", "llama-2-7b-chat.Q4_K_M.gguf")
    assert llama2.default_mode("chat") == "inst" and llama2.chat.chat_format == "llama-2"
    assert catalog.pair("embedded").base.origin == "embedded:gemma-3-270m"


def test_kv_cache_and_ram_estimates():
    llama2 = load_catalog().model("llama-2-7b/chat")
    assert kv_cache_bytes(32, 32, 128, 2048) == 2 * 32 * 2048 * 32 * 128 * 2 == 1024**3
    assert llama2.kv_cache_bytes() == 1024**3
    assert llama2.ram_bytes() == llama2.size + 1024**3
    tiny = load_catalog().model("tinyllama-1.1b-chat")
    assert tiny.kv_cache_bytes(8192) == tiny.kv_cache_bytes(2048)  # capped at its 2048-token context


@pytest.mark.parametrize(
    "spec, expected",
    [
        (
            "hf:TheBloke/Llama-2-7B-GGUF/llama-2-7b.Q4_K_M.gguf",
            HubFile("TheBloke/Llama-2-7B-GGUF", "llama-2-7b.Q4_K_M.gguf"),
        ),
        ("hf:o/r/sub/dir/m.GGUF@v1.0", HubFile("o/r", "sub/dir/m.GGUF", "v1.0")),
        ("hf:o/r/m.gguf@refs/pr/3", HubFile("o/r", "m.gguf", "refs/pr/3")),
    ],
)
def test_hf_specs(spec, expected):
    assert parse_hf_spec(spec) == expected
    assert parse_hf_spec(expected.spec) == expected


@pytest.mark.parametrize("spec", ["hf:o/r", "hf:o/r/model.bin", "hf:o/r/"])
def test_bad_hf_specs(spec):
    with pytest.raises(DuetError, match="is not a hub model spec; write hf:OWNER/REPO/FILE.gguf"):
        parse_hf_spec(spec)


def test_specs_resolve_offline_or_say_how_to_download(tmp_path, monkeypatch, chat_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert resolve_source("embedded/chat").path == chat_path
    with pytest.raises(
        DuetError, match=r"^llama-2-7b/chat is not downloaded yet; run: duet models pull llama-2-7b/chat$"
    ):
        resolve_source("llama-2-7b/chat")
    with pytest.raises(
        DuetError, match=r"^hf:o/r/m.gguf@dev is not downloaded yet; run: duet models pull hf:o/r/m.gguf@dev$"
    ):
        resolve_source("hf:o/r/m.gguf@dev")
    with pytest.raises(
        DuetError, match="'llama-2-7b' is a pair, not one model; use llama-2-7b/base or llama-2-7b/chat"
    ):
        resolve_source("llama-2-7b")
    with pytest.raises(DuetError, match="a pair has two sides"):
        resolve_source("llama-2-7b/instruct")
    assert resolve_source(str(chat_path)).path == chat_path


def test_targets_for_pull_and_rm():
    assert [t.name for t in targets_for("llama-2-7b")] == ["llama-2-7b/base", "llama-2-7b/chat"]
    assert targets_for("qwen2.5-0.5b-instruct")[0].hub.repo == "Qwen/Qwen2.5-0.5B-Instruct-GGUF"
    assert targets_for("hf:o/r/m.gguf")[0].model is None
    assert targets_for("embedded/base")[0].hub is None
    with pytest.raises(DuetError, match="unknown model 'nope'"):
        targets_for("nope")


def _args(**values):
    defaults = dict(
        base=None,
        chat=None,
        pair=None,
        base_mode=None,
        chat_mode=None,
        base_template=None,
        chat_template=None,
        n_ctx=None,
        gpu_layers=None,
        threads=None,
    )
    return argparse.Namespace(**{**defaults, **values})


def test_pair_option_sets_both_panes_and_their_modes():
    from tui.cli.options import UsageError, pane_configs

    base, chat = pane_configs(_args(pair="llama-2-7b"))
    assert (base.spec.source, base.mode, base.spec.chat_format) == ("llama-2-7b/base", "raw", None)
    assert (chat.spec.source, chat.mode, chat.spec.chat_format) == ("llama-2-7b/chat", "inst", "llama-2")
    # explicit options win over the pair
    base, chat = pane_configs(_args(pair="llama-2-7b", chat="embedded:smollm2-135m-instruct", base_mode="inst"))
    assert (base.spec.source, base.mode) == ("llama-2-7b/base", "inst")
    assert (chat.spec.source, chat.mode, chat.spec.chat_format) == ("embedded:smollm2-135m-instruct", "chat", None)
    _, chat = pane_configs(_args(chat="llama-2-7b/chat", chat_mode="chat", chat_template="chatml"))
    assert (chat.mode, chat.spec.chat_format) == ("chat", "chatml")
    base, chat = pane_configs(_args(pair="embedded"))
    assert (base.spec.source, chat.spec.source) == ("embedded:gemma-3-270m", "embedded:smollm2-135m-instruct")
    assert pane_defaults("not-in-catalog.gguf") == (None, None)
    with pytest.raises(UsageError, match="unknown pair 'nope'"):
        pane_configs(_args(pair="nope"))


def test_invalid_catalog_is_a_one_line_error(tmp_path):
    bad = tmp_path / "catalog.toml"
    bad.write_text('[pairs.x.base]\ntitle = "t"\nrepo = "o/r"\nfile = "m.gguf"\nsize = -1\n')
    with pytest.raises(DuetError, match=r"the model catalog .* is invalid at pairs\.x\.") as err:
        load_catalog_file(bad)
    assert "\n" not in str(err.value)
    bad.write_text(
        "[models.m]\ntitle = 'x'\nembedded = 'e'\nrepo = 'o/r'\nsize = 1\narchitecture = 'a'\n"
        "n_layers = 1\nn_kv_heads = 1\nhead_dim = 1\ncontext_length = 1\nlicence = 'l'\n"
    )
    with pytest.raises(DuetError, match="an embedded model has no repo or file"):
        load_catalog_file(bad)
    bad.write_text("not toml = = 1")
    with pytest.raises(DuetError, match="is not valid TOML"):
        load_catalog_file(bad)
