"""The embedded models as pane sources, and panes and engines on them that a `with` block opens
and closes (closed whatever the test asserts, so a failing test leaves no worker thread behind)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from models.session import PaneSession
from models.settings import AdapterSpec, ModelSpec, SamplingSettings

SMOLLM2 = "embedded:smollm2-135m-instruct"  # the embedded chat model, the base of the tests' LoRAs
GEMMA = "embedded:gemma-3-270m"  # the embedded base model (sliding-window attention)


@contextmanager
def pane_session(
    role: str, source: str, mode: str, *adapters: AdapterSpec, sampling: SamplingSettings | None = None
) -> Iterator[PaneSession]:
    """A PaneSession on ``source`` with ``adapters``, not loaded yet (``load()`` it, or see the
    load fail), closed when the block ends."""
    session = PaneSession(role, ModelSpec(source=source, adapters=adapters), mode, sampling)
    try:
        yield session
    finally:
        session.close()


@contextmanager
def loaded_engine(source: str):
    """A LlamaEngine on ``source``, loaded (its ModelInfo is ``engine.info``), closed when the block
    ends: a model that has evaluated nothing yet."""
    from models.engines.llama.engine import LlamaEngine

    engine = LlamaEngine(ModelSpec(source=source))
    engine.load()
    try:
        yield engine
    finally:
        engine.close()
