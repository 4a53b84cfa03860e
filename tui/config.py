"""The user's config file: key remapping, and where presets and the aligned prompt live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from models.errors import DuetError, first_field_error
from models.toml import KB, read_toml

MAX_CONFIG_BYTES = 64 * KB  # a theme and a keymap; a 50 MB file once took 35 s and 1.2 GB to refuse


def config_dir() -> Path:
    override = os.environ.get("DUET_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("duet"))


class DuetConfig(BaseModel):
    """config.toml, e.g.

    theme = "gruvbox"
    lens_after_every_turn = true  # the token-shift lens on every answer (F8 shows it on demand)
    presets_new_conversation = false  # presets answer inside the current conversation
    [keymap]
    cycle_mode = "f2,ctrl+b"     # binding id = comma-separated keys (see the help screen for ids)
    """

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    keymap: dict[str, str] = {}
    lens_after_every_turn: bool = False  # the token-shift lens on every answer as soon as it is done
    presets_new_conversation: bool = True  # each preset starts a new conversation (F5 changes it for a session)


def load_config(path: Path | None = None) -> DuetConfig:
    path = path or config_dir() / "config.toml"
    try:
        data = read_toml(path, f"config file {path}", MAX_CONFIG_BYTES).data
    except FileNotFoundError:
        return DuetConfig()
    try:
        return DuetConfig(**data)
    except ValidationError as err:
        field, message = first_field_error(err)
        raise DuetError(f"{path}: field '{field}': {message}") from None


def presets_path() -> Path:
    return config_dir() / "presets.toml"


def aligned_path() -> Path:
    """The user's aligned-mode prompt file, which replaces the built-in one (models/aligned/)."""
    return config_dir() / "aligned.toml"


def use_aligned_prompt() -> str | None:
    """Aligned mode uses the user's aligned.toml when there is one and it is valid, else the
    built-in prompt; the one line saying why a user file was not used, or None."""
    from models.aligned.prompt_file import load_prompt_file
    from models.aligned.render import use_prompt_file

    path = aligned_path()
    if not path.exists():
        use_prompt_file(None)
        return None
    try:
        use_prompt_file(load_prompt_file(path))
    except DuetError as err:
        use_prompt_file(None)
        return f"{err} (aligned mode uses the built-in prompt)"
    return None


_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")


def _key_names() -> frozenset[str]:
    """Every key name Textual binds: its named keys (without modifiers) and a name for each
    printable ASCII character (``question_mark``, ``left_square_bracket``, ...)."""
    from textual import keys

    names = {key.value.rpartition("+")[2] for key in keys.Keys}
    names |= set(keys.KEY_ALIASES) | {alias for aliases in keys.KEY_ALIASES.values() for alias in aliases}
    names |= set(keys.ASCII_KEY_NAMES.values()) | set(keys.KEY_NAME_REPLACEMENTS.values())
    names |= {_character_key(chr(code)) for code in range(33, 127)}
    return frozenset(name for name in names if not name.startswith("<"))


def _character_key(character: str) -> str:
    """The key name Textual gives a printable character (as its private ``_character_to_key``)."""
    import unicodedata

    from textual import keys

    if character.isalnum():
        return character
    try:
        name = unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        name = keys.ASCII_KEY_NAMES.get(character, character)
    return keys.KEY_NAME_REPLACEMENTS.get(name, name)


def key_problem(keys_text: str) -> str | None:
    """Why ``keys_text`` ("f2,ctrl+o") is not a list of keys Textual can bind, or None."""
    names = _key_names()
    for key in keys_text.split(","):
        *modifiers, name = key.strip().split("+")
        if not name or any(m not in _MODIFIERS for m in modifiers):
            return f"'{key.strip()}' is not a key"
        if name not in names and not (len(name) == 1 and name.isprintable() and not name.isspace()):
            return f"'{key.strip()}' is not a key"
    return None


def checked_keymap(keymap: dict[str, str], binding_ids: set[str]) -> tuple[dict[str, str], str | None]:
    """The keymap entries that name a binding and valid keys, and one line about the others
    (each keeps its default keys), or None when every entry is good."""
    good: dict[str, str] = {}
    problems: list[str] = []
    for binding, keys_text in keymap.items():
        if binding not in binding_ids:
            problems.append(f"'{binding}' is not a binding (F1 lists them)")
        elif problem := key_problem(keys_text):
            problems.append(f"{binding} = '{keys_text}': {problem}")
        else:
            good[binding] = ",".join(key.strip() for key in keys_text.split(","))
    if not problems:
        return good, None
    return good, (
        f"config.toml [keymap]: {'; '.join(problems)}; write keys like f2 or ctrl+o, comma-separated "
        "(the default keys stay for these)"
    )


def binding_ids() -> set[str]:
    """The id of every Binding any loaded widget, screen or app class declares (Duet's and Textual's)."""
    from textual.binding import Binding
    from textual.dom import DOMNode

    ids: set[str] = set()
    stack: list[type] = [DOMNode]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        for binding in vars(cls).get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.id:
                ids.add(binding.id)
    return ids
