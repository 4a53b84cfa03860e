"""Fixtures of the CLI tests that talk to the hub: the local stand-in and the environment that
points `duet` at it (tests/support/fake_hub.py)."""

import pytest

from tests.support.fake_hub import FakeHub


@pytest.fixture
def fake_hub():
    hub = FakeHub().start()
    yield hub
    hub.stop()


@pytest.fixture
def env(tmp_path, fake_hub):
    return {
        "HF_ENDPOINT": fake_hub.url,
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "HF_HOME": str(tmp_path / "hf-home"),  # no token stored by the person running the tests
        "HF_TOKEN": "",
        "HF_HUB_OFFLINE": "0",  # conftest forces offline for everything else
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "DUET_DATA_DIR": str(tmp_path / "data"),
    }
