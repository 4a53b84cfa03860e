"""The user's config file: key remapping, and where presets and the aligned prompt live."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from models.errors import DuetError, first_field_error
from models.toml import tomllib


def config_dir() -> Path:
    override = os.environ.get("DUET_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("duet"))


class DuetConfig(BaseModel):
    """config.toml, e.g.

    theme = "gruvbox"
    lens_after_every_turn = true  # the token-shift lens on every answer (F8 shows it on demand)
    presets_new_conversation = false  # presets answer inside the current conversation
    [keymap]
    cycle_mode = "f2,ctrl+o"     # binding id = comma-separated keys (see the help screen for ids)
    """

    model_config = ConfigDict(extra="forbid")

    theme: str | None = None
    keymap: dict[str, str] = {}
    lens_after_every_turn: bool = False  # the token-shift lens on every answer as soon as it is done
    presets_new_conversation: bool = True  # each preset starts a new conversation (F5 changes it for a session)


def load_config(path: Path | None = None) -> DuetConfig:
    path = path or config_dir() / "config.toml"
    if not path.exists():
        return DuetConfig()
    try:
        return DuetConfig(**tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as err:
        raise DuetError(f"{path}: {err}; fix the TOML syntax") from None
    except ValidationError as err:
        field, message = first_field_error(err)
        raise DuetError(f"{path}: field '{field}': {message}") from None
    except OSError as err:
        raise DuetError(f"{path}: cannot read it ({err.strerror})") from None


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
