"""The model catalog: named base/chat pairs and single models, kept as validated data.

Model specs (what users type after --base/--chat, `duet ask`, and `duet models ...`):

* ``PAIR/base`` and ``PAIR/chat``: one side of a catalog pair (e.g. ``llama-2-7b/chat``)
* ``NAME``: a single catalog model (e.g. ``qwen2.5-0.5b-instruct``)
* ``hf:OWNER/REPO/FILE.gguf`` or ``hf:OWNER/REPO/FILE.gguf@REVISION``: any GGUF on the hub
* ``embedded:NAME``: a model shipped inside Duet's packages
* a path to a local ``.gguf`` file

A bare pair name (``llama-2-7b``) names both sides at once: ``--pair``, ``duet models pull`` and
``duet models rm`` accept it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.errors import DuetError, first_field_error

# HF_PREFIX, HubFile and parse_hf_spec are imported from here by older callers; hub_spec.py is where they live.
from models.files.hub_spec import HF_PREFIX, HubFile, file_problem, parse_hf_spec, repo_problem, revision_problem
from models.prompts import MODE_NAMES
from models.settings import DEFAULT_N_CTX
from models.toml import KB, read_toml

MAX_CATALOG_BYTES = 1024 * KB  # the shipped catalog is 8 KB

ROLES = ("base", "chat")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def kv_cache_bytes(n_layers: int, n_kv_heads: int, head_dim: int, n_ctx: int = DEFAULT_N_CTX) -> int:
    """f16 keys and values for every layer: 2 (K and V) * layers * ctx * kv heads * head dim * 2 bytes."""
    return 2 * n_layers * n_ctx * n_kv_heads * head_dim * 2


class CatalogModel(BaseModel):
    """One GGUF file: where it comes from, how big it is, and what loading it costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="PAIR/ROLE for a pair member, NAME for a single model")
    title: str
    repo: str | None = Field(None, description="hub repository OWNER/NAME")
    file: str | None = Field(None, description="file name inside the repository")
    revision: str = "main"
    embedded: str | None = Field(None, description="embedded model name instead of a hub file")
    size: int = Field(gt=0, description="file size in bytes")
    size_approximate: bool = Field(False, description="the size is a rounded or borrowed figure, not the file's")
    architecture: str
    n_layers: int = Field(gt=0)
    n_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    context_length: int = Field(gt=0)
    # The rest of the architecture, for the GPU placement estimate of a file not on disk yet
    # (models/placement/catalog_shapes.py; a downloaded file is planned from its own header).
    n_embd: int | None = Field(None, gt=0)
    n_heads: int | None = Field(None, gt=0)
    n_ff: int | None = Field(None, gt=0)
    n_vocab: int | None = Field(None, gt=0)
    tied_embeddings: bool | None = Field(None, description="no output matrix of its own: the embeddings serve")
    licence: str
    gated: bool = False
    mode: str | None = Field(None, description="prompt mode this model's pane starts in")
    chat_format: str | None = Field(None, description="llama-cpp-python chat format instead of the GGUF template")
    notes: str = ""

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str | None) -> str | None:
        if value is not None and value not in MODE_NAMES:
            raise ValueError(f"unknown prompt mode '{value}' (choose one of {', '.join(MODE_NAMES)})")
        return value

    @field_validator("repo")
    @classmethod
    def _repo_shape(cls, value: str | None) -> str | None:
        problem = repo_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"repo '{value}' is not a hub repository id: {problem}")
        return value

    @field_validator("file")
    @classmethod
    def _file_shape(cls, value: str | None) -> str | None:
        problem = file_problem(value) if value is not None else None
        if problem:
            raise ValueError(f"file '{value}' is not a safe path inside a repository: {problem}")
        return value

    @field_validator("revision")
    @classmethod
    def _revision_shape(cls, value: str) -> str:
        problem = revision_problem(value)
        if problem:
            raise ValueError(f"revision '{value}' is not valid: {problem}")
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> CatalogModel:
        if self.embedded is None and (self.repo is None or self.file is None):
            raise ValueError("give either repo and file (a hub model) or embedded")
        if self.embedded is not None and (self.repo is not None or self.file is not None):
            raise ValueError("an embedded model has no repo or file")
        if self.file is not None and not self.file.lower().endswith(".gguf"):
            raise ValueError(f"file '{self.file}' is not a .gguf file")
        return self

    @property
    def pair(self) -> str | None:
        return self.name.split("/")[0] if "/" in self.name else None

    @property
    def role(self) -> str | None:
        return self.name.split("/")[1] if "/" in self.name else None

    @property
    def hub_file(self) -> HubFile | None:
        if self.repo is None or self.file is None:
            return None
        return HubFile(self.repo, self.file, self.revision)

    @property
    def origin(self) -> str:
        """Where the file comes from, as a spec: embedded:NAME or hf:OWNER/REPO/FILE."""
        hub = self.hub_file
        return hub.spec if hub else f"embedded:{self.embedded}"

    def kv_cache_bytes(self, n_ctx: int = DEFAULT_N_CTX) -> int:
        return kv_cache_bytes(self.n_layers, self.n_kv_heads, self.head_dim, min(n_ctx, self.context_length))

    def ram_bytes(self, n_ctx: int = DEFAULT_N_CTX) -> int:
        """File size plus the KV cache at ``n_ctx`` (capped at the model's context, as Duet loads it)."""
        return self.size + self.kv_cache_bytes(n_ctx)


class CatalogPair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    title: str
    notes: str = ""
    base: CatalogModel
    chat: CatalogModel

    def member(self, role: str) -> CatalogModel:
        return self.base if role == "base" else self.chat

    @property
    def members(self) -> tuple[CatalogModel, CatalogModel]:
        return (self.base, self.chat)

    def default_mode(self, role: str) -> str:
        return self.member(role).mode or ("raw" if role == "base" else "chat")


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pairs: dict[str, CatalogPair] = {}
    models: dict[str, CatalogModel] = {}

    @model_validator(mode="before")
    @classmethod
    def _name_entries(cls, data):
        """Names come from the TOML table keys; copy them into the entries before validation."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        pairs = {}
        for name, pair in (data.get("pairs") or {}).items():
            if isinstance(pair, dict):
                pair = {**pair, "name": name}
                for role in ROLES:
                    if isinstance(pair.get(role), dict):
                        pair[role] = {**pair[role], "name": f"{name}/{role}"}
            pairs[name] = pair
        models = {
            name: ({**entry, "name": name} if isinstance(entry, dict) else entry)
            for name, entry in (data.get("models") or {}).items()
        }
        data["pairs"], data["models"] = pairs, models
        return data

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        for name in [*self.pairs, *self.models]:
            if not _NAME.match(name):
                raise ValueError(f"catalog name '{name}' must be lower-case letters, digits, '.', '_' or '-'")
        clash = set(self.pairs) & set(self.models)
        if clash:
            raise ValueError(f"names used for both a pair and a model: {', '.join(sorted(clash))}")
        return self

    # -- lookups -------------------------------------------------------------------------------
    def all_models(self) -> Iterator[CatalogModel]:
        for pair in self.pairs.values():
            yield from pair.members
        yield from self.models.values()

    def find_model(self, name: str) -> CatalogModel | None:
        """The model called ``name`` (PAIR/ROLE or a single model's name), or None."""
        pair_name, _, role = name.partition("/")
        if role:
            pair = self.pairs.get(pair_name)
            return pair.member(role) if pair and role in ROLES else None
        return self.models.get(name)

    def is_catalog_name(self, name: str) -> bool:
        """Whether ``name`` looks like it is meant to be a catalog name (so errors can say so)."""
        return name in self.pairs or self.find_model(name) is not None

    def model(self, name: str) -> CatalogModel:
        found = self.find_model(name)
        if found is not None:
            return found
        if name in self.pairs:
            raise DuetError(
                f"'{name}' is a pair, not one model; use {name}/base or {name}/chat (or --pair {name} for both)"
            )
        pair_name, _, role = name.partition("/")
        if role and pair_name in self.pairs:
            raise DuetError(f"a pair has two sides, base and chat; use {pair_name}/base or {pair_name}/chat")
        raise DuetError(f"unknown model '{name}'; {self.known_names_hint()}")

    def pair(self, name: str) -> CatalogPair:
        if name in self.pairs:
            return self.pairs[name]
        raise DuetError(f"unknown pair '{name}'; choose one of {', '.join(self.pairs)} (see: duet models list)")

    def known_names_hint(self) -> str:
        return f"see `duet models list` for the catalog (pairs: {', '.join(self.pairs)})"


def load_catalog_file(path: Path) -> Catalog:
    """Read and validate a catalog TOML file; DuetError naming the first problem."""
    try:
        data = read_toml(path, f"the model catalog {path}", MAX_CATALOG_BYTES).data
    except FileNotFoundError:
        raise DuetError(f"the model catalog {path} does not exist") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as err:
        where, message = first_field_error(err)
        raise DuetError(f"the model catalog {path} is invalid at {where}: {message}") from None


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The catalog that ships with Duet (models/catalog.toml)."""
    with resources.as_file(resources.files(__package__) / "catalog.toml") as path:
        return load_catalog_file(path)


# -- what a spec means ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """One file a spec stands for, as `duet models pull/rm` handle it."""

    name: str  # the catalog name, or the hf: spec
    hub: HubFile | None  # None for an embedded model
    model: CatalogModel | None  # None for a plain hf: spec

    @property
    def expected_size(self) -> int | None:
        return self.model.size if self.model else None


def targets_for(spec: str, catalog: Catalog | None = None) -> list[Target]:
    """The files behind a pair name, a catalog model name or an hf: spec (for pull and rm)."""
    catalog = catalog or load_catalog()
    spec = spec.strip()
    if spec.startswith(HF_PREFIX):
        hub = parse_hf_spec(spec)
        return [Target(hub.spec, hub, None)]
    if spec in catalog.pairs:
        return [Target(m.name, m.hub_file, m) for m in catalog.pairs[spec].members]
    model = catalog.model(spec)
    return [Target(model.name, model.hub_file, model)]


def pane_defaults(source: str, catalog: Catalog | None = None) -> tuple[str | None, str | None]:
    """(prompt mode, chat format) a catalog model asks for when it is opened in a pane.

    Anything that is not a catalog name gets (None, None); so does a model with no preference.
    """
    catalog = catalog or load_catalog()
    model = catalog.find_model(source.strip())
    if model is None:
        return None, None
    return model.mode, model.chat_format
