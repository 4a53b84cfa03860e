"""What a newcomer should read about a pane before the first message: which model it holds and what
kind of model that is, from the catalog when the model is in it and from its metadata otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models.errors import DuetError
from models.files.catalog import CatalogModel, load_catalog, parse_hf_spec
from models.files.info import ModelInfo
from models.files.sources import EMBEDDED_PREFIX, is_remote_source, resolve_source

if TYPE_CHECKING:
    from models.tuning.lineage import Lineage

BASE_KIND = "A pretrained model: it continues whatever text it is given; it was never taught to follow instructions."
CHAT_KIND = "Fine-tuned to follow instructions: it answers as an assistant (its chat template marks the turns)."
SERVER_KIND = "Served by {server}: the server's own model, template and hardware."
DIFFERENT_FAMILIES = (
    "These are two different model families ({base} and {chat}), not a base and its own fine-tune: "
    "their answers differ by more than fine-tuning."
)
TUNED_KIND = "{summary}: trained in Duet on those examples (its lineage: duet models info {source})."


@dataclass(frozen=True)
class PaneIntro:
    title: str  # which model: the catalog's title, or name · size · quantization from the file
    kind: str  # what kind of model it is, in one sentence


def catalog_model(source: str) -> CatalogModel | None:
    """The catalog model a pane source names or points at (a catalog name, its embedded:NAME or
    hf: origin at any revision, or a local file with the catalog file's name), or None."""
    source = source.strip()
    catalog = load_catalog()
    found = catalog.find_model(source)
    if found is not None:
        return found
    for model in catalog.all_models():
        if _same_origin(model, source):
            return model
    return None


def _same_origin(model: CatalogModel, source: str) -> bool:
    if source.startswith(EMBEDDED_PREFIX):
        return model.embedded == source[len(EMBEDDED_PREFIX) :]
    hub = model.hub_file
    if hub is None:
        return False
    if source.startswith("hf:"):
        try:
            wanted = parse_hf_spec(source)
        except DuetError:
            return False
        return (wanted.repo, wanted.file) == (hub.repo, hub.file)
    return source.lower().endswith(".gguf") and Path(source).name == hub.file


def describe_pane(source: str, info: ModelInfo | None) -> PaneIntro:
    if info is not None and info.architecture == "remote":
        return PaneIntro(info.name, SERVER_KIND.format(server=info.path))
    if (lineage := tuned_lineage(source)) is not None:
        title = info.summary() if info else source.strip()
        summary = lineage.summary()
        return PaneIntro(title, TUNED_KIND.format(summary=summary[:1].upper() + summary[1:], source=source.strip()))
    entry = catalog_model(source)
    title = entry.title if entry else (info.summary() if info else source)
    if entry is not None and entry.role is not None:
        chat = entry.role == "chat"
    else:  # not a pair member: a chat template is what instruction tuning leaves in a GGUF
        chat = bool(info and info.has_chat_template)
    return PaneIntro(title, CHAT_KIND if chat else BASE_KIND)


def pair_caveat(base: ModelInfo | None, chat: ModelInfo | None) -> str | None:
    """One line when the base and chat panes are not one model family (the embedded pair is not)."""
    if base is None or chat is None or "remote" in (base.architecture, chat.architecture):
        return None
    if base.architecture == chat.architecture:
        return None
    return DIFFERENT_FAMILIES.format(base=base.architecture, chat=chat.architecture)


def tuned_lineage(source: str) -> Lineage | None:
    """The lineage record of a tuned:NAME source (None for any other source, or a damaged record):
    the one place the lens, the headers and the intros learn "this is a fine-tune of X"."""
    from models.files.sources import TUNED_PREFIX

    source = source.strip()
    if not source.startswith(TUNED_PREFIX):
        return None
    # Imported only for a tuned source: models.tuning costs ~0.1 s of imports, and every pane's
    # header asks this on mount, while the models are still loading.
    from models.tuning.store import load_lineage

    try:
        return load_lineage(source[len(TUNED_PREFIX) :])
    except DuetError:
        return None


def fine_tune_relation(a_source: str, b_source: str) -> str | None:
    """When one source is a Duet fine-tune of the other (its lineage names that model, or its file):
    "a fine-tune of X by Duet, N examples"; None otherwise."""
    for tuned, other in ((a_source, b_source), (b_source, a_source)):
        lineage = tuned_lineage(tuned)
        if lineage is not None and _same_model(other, lineage.source.source, lineage.source.path):
            return lineage.summary()
    return None


def _same_model(source: str, recorded: str, recorded_path: str) -> bool:
    source = source.strip()
    if source == recorded.strip() or source == recorded_path:
        return True
    if is_remote_source(source):
        return False
    try:
        return resolve_source(source).path.resolve() == Path(recorded_path).resolve()
    except (DuetError, OSError):
        return False
