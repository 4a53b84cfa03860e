"""The same-family pair for a first download (SmolLM2 135M base and Instruct), the catalog's size
corrections, and approximate sizes said as such in every estimate."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import DuetError
from models.files.catalog import HubFile, load_catalog
from models.hub import FIRST_PAIR, catalog_entries, check_disk_space, first_pull_suggestion
from models.hub.cache import FileStatus
from models.hub.entries import CatalogEntry
from tui.cli.models import _estimate, _list_rows


def test_the_smollm2_135m_pair_is_one_family():
    pair = load_catalog().pair("smollm2-135m")
    assert pair.base.hub_file == HubFile("QuantFactory/SmolLM2-135M-GGUF", "SmolLM2-135M.Q4_K_M.gguf")
    assert pair.chat.hub_file == HubFile("bartowski/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct-Q4_K_M.gguf")
    for member in pair.members:
        assert member.architecture == "llama" and (member.n_layers, member.n_kv_heads, member.head_dim) == (30, 3, 64)
        assert 100e6 < member.size < 110e6 and member.mode is None and member.chat_format is None
    assert pair.default_mode("base") == "raw" and pair.default_mode("chat") == "chat"
    assert pair.chat.size == 105454432 and not pair.chat.size_approximate
    assert pair.base.size_approximate  # no exact listing found for QuantFactory's file
    assert FIRST_PAIR == "smollm2-135m"


def test_size_corrections():
    catalog = load_catalog()
    assert catalog.model("llama-2-7b/chat").size == 4081004224
    assert catalog.model("smollm2-1.7b/chat").size == 1055609824
    assert not catalog.model("smollm2-1.7b/chat").size_approximate
    for name in ("llama-3.2-1b/base", "llama-3.2-3b/base"):  # copied from other files
        assert catalog.model(name).size_approximate
    assert not any(m.size_approximate for m in catalog.all_models() if m.embedded)


def entry(name: str, installed_size: int | None = None) -> CatalogEntry:
    model = load_catalog().model(name)
    status = FileStatus(installed_size is not None, Path("/x") if installed_size else None, installed_size, 0)
    return CatalogEntry(model, status, 2048)


def test_approximate_sizes_are_said_as_such_until_installed():
    approximate, exact = entry("smollm2-135m/base"), entry("smollm2-135m/chat")
    assert approximate.shown(approximate.size) == "~105.0 MB" and approximate.shown(approximate.ram_bytes).startswith(
        "~"
    )
    assert exact.shown(exact.size) == "105.5 MB"
    assert approximate.as_dict()["size_approximate"] is True and exact.as_dict()["size_approximate"] is False
    assert _estimate(approximate, approximate.ram_bytes).startswith("about ")
    assert "approximate" in _estimate(approximate, approximate.size)
    assert _estimate(exact, exact.size) == "105.5 MB (catalog estimate)"
    installed = entry("smollm2-135m/base", installed_size=104_000_000)
    assert not installed.approximate and installed.shown(installed.size) == "104.0 MB"


def test_the_models_list_marks_approximate_rows(tmp_path):
    catalog = load_catalog()
    rows = {row[0].strip(): row for row in _list_rows(catalog, catalog_entries(cache_dir=tmp_path)) if len(row) > 1}
    assert rows["smollm2-135m/base"][1].startswith("~") and rows["smollm2-135m/base"][2].startswith("~")
    assert not rows["smollm2-135m/chat"][1].startswith("~")
    assert rows["llama-3.2-1b/base"][1].startswith("~") and not rows["llama-3.2-1b/chat"][1].startswith("~")


def test_a_disk_check_on_an_approximate_size_says_about(tmp_path):
    with pytest.raises(DuetError, match=r"it needs about 210.5 MB but only 1.0 MB is free"):
        check_disk_space("smollm2-135m", 210_454_432, tmp_path, free_bytes=1_000_000, approximate=True)
    with pytest.raises(DuetError, match=r"it needs 210.5 MB but"):
        check_disk_space("x", 210_454_432, tmp_path, free_bytes=1_000_000)


def test_the_first_pull_is_suggested_while_the_embedded_pair_is_open(tmp_path):
    entries = catalog_entries(cache_dir=tmp_path)
    suggestion = first_pull_suggestion(["embedded:gemma-3-270m", "embedded:smollm2-135m-instruct"], entries)
    assert suggestion is not None and "pull smollm2-135m" in suggestion and "~210.5 MB" in suggestion
    assert first_pull_suggestion(["embedded/chat"], entries) is not None  # a catalog name of an embedded model
    assert first_pull_suggestion(["/models/mine.gguf", "llama-2-7b/chat"], entries) is None
    installed = [
        CatalogEntry(e.model, FileStatus(True, Path("/x"), e.model.size, 0), e.n_ctx)
        if e.model.pair == FIRST_PAIR
        else e
        for e in entries
    ]
    assert first_pull_suggestion(["embedded:gemma-3-270m"], installed) is None
