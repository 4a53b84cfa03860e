"""The two panes of a comparison and how they are set up from user choices."""

from __future__ import annotations

from dataclasses import dataclass

from models.files.catalog import ROLES
from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT
from models.placement.panes import plan_specs
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

__all__ = ["ROLES", "DEFAULT_SOURCES", "DEFAULT_MODES", "PaneConfig", "open_sessions"]

DEFAULT_SOURCES = {"base": DEFAULT_BASE, "chat": DEFAULT_CHAT}
DEFAULT_MODES = {"base": "raw", "chat": "chat"}


@dataclass(frozen=True)
class PaneConfig:
    role: str
    spec: ModelSpec
    mode: str


def open_sessions(panes: list[PaneConfig], sampling: SamplingSettings) -> list[PaneSession]:
    """One session per pane, each loading its model on its own thread right away, with the GPU's
    memory divided among them first (models/placement: what each pane asks llama.cpp to offload)."""
    specs = plan_specs([p.spec for p in panes])
    sessions = [PaneSession(p.role, spec, p.mode, sampling) for p, spec in zip(panes, specs)]
    for session in sessions:
        session.load()
    return sessions
