"""Engines: what turns a rendered prompt into a stream of events. One contract (base.py), one
package per backend: llama/ (llama.cpp in this process) and openai/ (an OpenAI-compatible server)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.engines.base import Engine
    from models.settings import ModelSpec


def make_engine(spec: ModelSpec) -> Engine:
    """The engine for a pane's model source: a server address gets the HTTP engine, anything else
    llama.cpp. Each backend is imported only when used (httpx, llama_cpp are slow imports)."""
    from models.files.sources import is_remote_source

    if spec.amplify is not None:  # two local models in lockstep (models/amplify/)
        from models.engines.llama.amplified import AmplifiedEngine

        return AmplifiedEngine(spec)
    if is_remote_source(spec.source):  # http(s)://HOST:PORT/v1#MODEL: an OpenAI-compatible server
        from models.engines.openai.engine import OpenAIEngine

        return OpenAIEngine(spec)
    from models.engines.llama.engine import LlamaEngine

    return LlamaEngine(spec)
