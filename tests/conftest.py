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


def run_duet(*args: str, env: dict | None = None, timeout: float = 240):
    """Run the real `duet` entry point in a subprocess and return the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = str(ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=str(ROOT),
    )
