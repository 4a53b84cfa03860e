"""The two panes of a comparison and how they are set up from user choices."""

from __future__ import annotations

from dataclasses import dataclass

from models.files.catalog import ROLES
from models.files.embedded import DEFAULT_BASE, DEFAULT_CHAT
from models.placement.panes import plan_specs
from models.session import PaneSession
from models.settings import ModelSpec, SamplingSettings

__all__ = [
    "ROLES",
    "DEFAULT_SOURCES",
    "DEFAULT_MODES",
    "TUNED_MODE",
    "PaneConfig",
    "TunedPair",
    "open_sessions",
    "tuned_pair",
]

DEFAULT_SOURCES = {"base": DEFAULT_BASE, "chat": DEFAULT_CHAT}
DEFAULT_MODES = {"base": "raw", "chat": "chat"}
# Both sides of a before/after pair: the mode the fine-tune was trained in (each example rendered
# with the model's own GGUF template, models/tuning/render.py), so no catalog chat format either.
TUNED_MODE = "chat"


@dataclass(frozen=True)
class PaneConfig:
    role: str
    spec: ModelSpec
    mode: str


@dataclass(frozen=True)
class TunedPair:
    """A Duet fine-tune beside the model it was made from: the before/after comparison."""

    name: str
    source: str  # the model it was trained from, as the lineage records it
    summary: str  # "a fine-tune of X by Duet, N examples"

    @property
    def sources(self) -> dict[str, str]:
        """The model source of each pane: the source on the left, the fine-tune on the right."""
        from models.files.sources import TUNED_PREFIX

        return {"base": self.source, "chat": f"{TUNED_PREFIX}{self.name}"}

    def configs(self, spec: ModelSpec | None = None) -> list[PaneConfig]:
        """Both panes in the model's chat mode; ``spec``: the load settings both panes share."""
        spec = spec or ModelSpec(source=self.source)
        return [
            PaneConfig(role, spec.model_copy(update={"source": source, "chat_format": None}), TUNED_MODE)
            for role, source in self.sources.items()
        ]


def tuned_pair(name: str) -> TunedPair:
    """The pair for tuned:NAME (or NAME), from its lineage record; DuetError when there is none."""
    from models.files.sources import TUNED_PREFIX
    from models.tuning.store import load_lineage

    name = name.strip()
    name = name[len(TUNED_PREFIX) :] if name.startswith(TUNED_PREFIX) else name
    lineage = load_lineage(name)
    source = lineage.source.source
    if source.lower().endswith(".gguf"):  # a file, maybe given relative to another folder: its full path
        source = lineage.source.path
    return TunedPair(lineage.name, source, lineage.summary())


def open_sessions(panes: list[PaneConfig], sampling: SamplingSettings) -> list[PaneSession]:
    """One session per pane, each loading its model on its own thread right away, with the GPU's
    memory divided among them first (models/placement: what each pane asks llama.cpp to offload)."""
    specs = plan_specs([p.spec for p in panes])
    sessions = [PaneSession(p.role, spec, p.mode, sampling) for p, spec in zip(panes, specs)]
    for session in sessions:
        session.load()
    return sessions
