"""Turn a model source string (what users type after --base/--chat) into a GGUF file on disk.

Sources: embedded:NAME, tuned:NAME (a Duet fine-tune), a catalog name (PAIR/base, PAIR/chat or a
single model's NAME), hf:OWNER/REPO/FILE.gguf[@REVISION], or a path to a .gguf file. Hub files are only looked up in
the local hub cache: resolving never touches the network (`duet models pull` downloads).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from models.errors import DuetError
from models.files.catalog import load_catalog
from models.files.embedded import EMBEDDED, embedded_path
from models.files.hub_spec import HF_PREFIX, HubFile, parse_hf_spec

EMBEDDED_PREFIX = "embedded:"
TUNED_PREFIX = "tuned:"  # a Duet fine-tune: models/tuning/store.py keeps it at DATA_DIR/tuned/NAME
_REMOTE_PREFIXES = ("http://", "https://")


def is_remote_source(source: str) -> bool:
    """Whether a model source names an OpenAI-compatible server rather than a GGUF file."""
    return source.strip().lower().startswith(_REMOTE_PREFIXES)


@dataclass(frozen=True)
class ResolvedSource:
    source: str  # as the user wrote it
    path: Path
    label: str  # short name for headers and reports


def resolve_source(source: str) -> ResolvedSource:
    """Locate the GGUF for ``source`` without touching the network; DuetError if it cannot be found."""
    source = source.strip()
    if not source:
        raise DuetError("the model source is empty; give embedded:NAME or a path to a .gguf file")
    if source.startswith(EMBEDDED_PREFIX):
        name = source[len(EMBEDDED_PREFIX) :]
        path = embedded_path(name)
        return ResolvedSource(source, path, name)
    if source.startswith(TUNED_PREFIX):  # a Duet fine-tune in the model store
        from models.tuning.store import tuned_path  # here: the tuning package imports this module

        return ResolvedSource(source, tuned_path(source[len(TUNED_PREFIX) :]), source)
    if source.startswith(HF_PREFIX):
        hub = parse_hf_spec(source)
        return ResolvedSource(source, _cached_or_error(hub, hub.spec), hub.file)
    catalog = load_catalog()
    model = catalog.find_model(source)
    if model is not None:
        if model.embedded is not None:
            return ResolvedSource(source, embedded_path(model.embedded), model.name)
        hub_file = model.hub_file
        assert hub_file is not None  # a catalog model is embedded or on the hub (validated on load)
        return ResolvedSource(source, _cached_or_error(hub_file, model.name), model.name)
    if source in catalog.pairs or (source.partition("/")[0] in catalog.pairs and not source.lower().endswith(".gguf")):
        catalog.model(source)  # raises the "a pair has two sides" message
    path = Path(source).expanduser()
    if not path.exists() and not source.lower().endswith(".gguf") and "/" not in source:
        known = ", ".join(f"{EMBEDDED_PREFIX}{n}" for n in EMBEDDED)
        raise DuetError(
            f"'{source}' is neither a .gguf file nor a known model; use a path to a .gguf file, hf:OWNER/REPO/FILE.gguf, "
            f"a catalog name (see: duet models list) or one of {known}"
        )
    return ResolvedSource(source, path, path.name)


def _cached_or_error(hub: HubFile, name: str) -> Path:
    from models.hub import cached_path, partial_download

    path = cached_path(hub)
    if path is not None:
        return path
    partial = partial_download(hub)
    extra = " (an interrupted download will resume)" if partial else ""
    raise DuetError(f"{name} is not downloaded yet; run: duet models pull {name}{extra}")
