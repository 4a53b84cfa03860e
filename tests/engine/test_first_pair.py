"""The recommended first download, smollm2-135m, pulled from the local stand-in hub (each side served
by the embedded SmolLM2 file: the real ones cannot be fetched here), then opened offline: the same
base file in both panes, one with a LoRA adapter, as the README's worked example does."""

from __future__ import annotations

import pytest

from models import hub
from models.errors import DuetError
from models.files.catalog import load_catalog
from models.session import PaneSession
from models.settings import AdapterSpec, ModelSpec, SamplingSettings
from tests.support.fake_hub import FakeHub
from tests.support.lora_gguf import write_lora


@pytest.fixture
def served(tmp_path, monkeypatch, chat_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    fake = FakeHub().start()
    for member in load_catalog().pair("smollm2-135m").members:
        fake.add(member.repo, member.file, chat_path)
    yield fake
    fake.stop()


def test_pull_the_first_pair_then_open_it_offline_with_an_adapter(served, tmp_path, monkeypatch, chat_path):
    from huggingface_hub import constants

    with pytest.raises(DuetError, match=r"not enough disk space for smollm2-135m: it needs about 210.5 MB"):
        hub.pull("smollm2-135m", cache_dir=tmp_path / "hub", endpoint=served.url, free_bytes=1000)
    results = hub.pull("smollm2-135m", cache_dir=tmp_path / "hub", endpoint=served.url)
    assert [r.name for r in results] == ["smollm2-135m/base", "smollm2-135m/chat"]
    assert all(r.size == chat_path.stat().st_size and r.verified for r in results)
    served.stop()  # from here on there is no hub at all
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    states = {e.name: e.state for e in hub.catalog_entries(cache_dir=tmp_path / "hub")}
    assert states["smollm2-135m/base"] == states["smollm2-135m/chat"] == "installed"
    adapter = AdapterSpec(source=str(write_lora(tmp_path / "mine.gguf")), scale=1.0)
    sampling = SamplingSettings(max_tokens=16)
    plain = PaneSession("base", ModelSpec(source="smollm2-135m/base"), "raw", sampling)
    tuned = PaneSession("chat", ModelSpec(source="smollm2-135m/base", adapters=(adapter,)), "raw", sampling)
    try:
        for session in (plain, tuned):
            session.load().result(timeout=120)
        assert plain.info.path == tuned.info.path  # the same base file in both panes
        assert [a.path for a in tuned.info.adapters] == [adapter.source]
        prompt = "The capital of France is"
        first, second = plain.send(prompt).result(timeout=120), tuned.send(prompt).result(timeout=120)
        assert first.error is None and second.error is None and first.text.strip() and second.text.strip()
        assert first.token_ids != second.token_ids
        tuned.set_adapters((adapter.model_copy(update={"scale": 0.0}),)).result(timeout=30)
        assert tuned.send(prompt).result(timeout=120).token_ids == first.token_ids
    finally:
        plain.close()
        tuned.close()
