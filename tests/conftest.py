"""What every test shares: isolation from the user's files, the embedded models, a LoRA adapter for
one of them, and the tiers.

Every test lives in one tier folder (unit, engine, cli, app, e2e) and gets that folder's marker,
so `pytest -m unit` runs the tests that need no model (see CONTRIBUTING.md).
"""

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["HF_HUB_OFFLINE"] = "1"
# Tests never write to the user's real history or config (subprocesses inherit these).
os.environ.setdefault("DUET_DATA_DIR", tempfile.mkdtemp(prefix="duet-test-data-"))
os.environ.setdefault("DUET_CONFIG_DIR", tempfile.mkdtemp(prefix="duet-test-config-"))

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "engine", "cli", "app", "e2e")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        tier = parts[0] if len(parts) > 1 else None
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: put every test in one tier folder ({', '.join(TIERS)})")
        item.add_marker(tier)


@pytest.fixture(scope="session")
def base_path() -> Path:
    """The embedded base model (Gemma 3 270M), assembled into the cache once per machine."""
    from models.files.embedded import embedded_path

    return embedded_path("gemma-3-270m")


@pytest.fixture(scope="session")
def chat_path() -> Path:
    """The embedded chat model (SmolLM2 135M Instruct)."""
    from models.files.embedded import embedded_path

    return embedded_path("smollm2-135m-instruct")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh history folder for this test, for the process and the subprocesses it starts."""
    monkeypatch.setenv("DUET_DATA_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def lora_adapter(tmp_path_factory) -> str:
    """A LoRA adapter for the embedded SmolLM2 (rank 8 on attn_q and attn_v, seeded; a pane shows it
    as "+my-style"), made once per run (tests/support/lora_gguf.py): its path, as a pane takes it."""
    from tests.support.lora_gguf import write_lora

    return str(write_lora(tmp_path_factory.mktemp("lora") / "my-style.gguf"))
