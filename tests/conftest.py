"""What every test shares: isolation from the user's files, the embedded models, a LoRA adapter for
one of them, and the tiers.

Every test lives in one tier folder (unit, engine, cli, app, e2e) and gets that folder's marker,
so `pytest -m unit` runs the tests that need no model (see CONTRIBUTING.md).
"""

import inspect
import os
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ["HF_HUB_OFFLINE"] = "1"
# Tests never write to the user's real history or config (subprocesses inherit these).
os.environ.setdefault("DUET_DATA_DIR", tempfile.mkdtemp(prefix="duet-test-data-"))
os.environ.setdefault("DUET_CONFIG_DIR", tempfile.mkdtemp(prefix="duet-test-config-"))
# The tests' `duet` children import Duet from this source tree: let them cache its byte-code here,
# as an installed duet has it from pip. Where the environment forbids that (PYTHONDONTWRITEBYTECODE,
# set on some CI machines), every child compiled ~130 modules again, 0.14 s of CPU before its loads.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "engine", "cli", "app", "e2e")
pytest_plugins = ("pytester",)  # tests/unit/test_test_threads.py runs a small suite under this conftest's rule


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        tier = parts[0] if len(parts) > 1 else None
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: put every test in one tier folder ({', '.join(TIERS)})")
        item.add_marker(tier)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """A plain (not async) test's body runs on a thread that ends with it (models/worker.py
    on_own_thread).

    Why: llama.cpp's OpenMP team belongs to the thread that first decodes (or trains) with more
    than one thread and lives as long as that thread. One test doing that on pytest's own thread
    left a team behind for the rest of the run; the process then held more OpenMP threads than
    cores, libgomp throttled its barrier spin, and every later test's decodes ran slower
    (models/worker.py has the measurements). Async tests keep pytest-asyncio's event loop on this
    thread: the app they drive decodes on its panes' workers, whose threads end with each job."""
    if pyfuncitem.get_closest_marker("asyncio") or inspect.iscoroutinefunction(pyfuncitem.function):
        return None
    from models.worker import on_own_thread

    funcargs = pyfuncitem.funcargs
    kwargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    result = on_own_thread(lambda: pyfuncitem.obj(**kwargs))
    if result is not None:  # what pytest's own pytest_pyfunc_call says of a test that returns
        warnings.warn(
            pytest.PytestReturnNotNoneWarning(f"{pyfuncitem.nodeid} returned {type(result)!r}, not None"), stacklevel=1
        )
    return True


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
