"""The unit tier needs no model: llama.cpp is unavailable here, so a test that tries to load one
fails at once with the reason, instead of quietly making the fast tier slow."""

import pytest


@pytest.fixture(autouse=True)
def no_model_loads(monkeypatch):
    def refuse():
        raise AssertionError("a unit test tried to load llama.cpp; move it to tests/engine (or tests/app)")

    monkeypatch.setattr("models.engines.llama.runtime.llama_cpp", refuse)
